package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/fxamacker/cbor/v2"
	"github.com/klauspost/compress/s2"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// wireChunk is a chunk as it travels: its rows column by column. Row i's cell
// j is the i-th piece of Cols[j], whose length is the i-th of column j's
// lengths in Lens. Decoding it allocates a few strings per chunk instead of
// one per cell, and the cells of a decoded chunk are substrings of those:
// allocating per cell would cost the stages more CPU and memory than their
// rules. Row numbers and cell lengths are varints packed in byte strings,
// not CBOR arrays, which the CBOR library decodes one element at a time
// through reflection.
type wireChunk struct {
	Import   schemas.Import     `json:"import"`
	Number   int                `json:"number"`
	FirstRow int                `json:"first_row"`
	Rejected []schemas.Rejected `json:"rejected,omitempty"`

	Fields int `json:"fields"`
	Rows   int `json:"rows"`
	// Nums is each row's number less the previous row's (the first's less
	// FirstRow), as varints; Lens each cell's length in bytes, column by
	// column, as uvarints.
	Nums []byte   `json:"nums"`
	Lens []byte   `json:"lens"`
	Cols []string `json:"cols"`
	// The rare per-row attributes, by row index.
	Dup      map[int][]schemas.Duplicate `json:"dup,omitempty"`
	Empty    map[int]uint64              `json:"empty,omitempty"`
	InFile   map[int]uint64              `json:"in_file,omitempty"`
	Problems map[int]schemas.Violation   `json:"problems,omitempty"`
	Dropped  map[int][]schemas.Violation `json:"dropped,omitempty"`
	Items    map[int]int                 `json:"items,omitempty"`
}

func toWire(c *schemas.Chunk) (*wireChunk, error) {
	w := &wireChunk{Import: c.Import, Number: c.Number, FirstRow: c.FirstRow, Rejected: c.Rejected, Rows: len(c.Rows)}
	if len(c.Rows) == 0 {
		return w, nil
	}
	w.Fields = len(c.Rows[0].Cells)
	// Most row steps and cell lengths fit in one byte. nums and lens are
	// local until done: appending to a field of w costs a write barrier.
	nums := make([]byte, 0, len(c.Rows)+binary.MaxVarintLen64)
	prev := c.FirstRow
	for i, r := range c.Rows {
		if len(r.Cells) != w.Fields {
			return nil, fmt.Errorf("bus: chunk %d: rows of %d and %d cells", c.Number, w.Fields, len(r.Cells))
		}
		nums = binary.AppendVarint(nums, int64(r.N-prev))
		prev = r.N
		if len(r.Duplicates) > 0 {
			w.Dup = setIn(w.Dup, i, r.Duplicates)
		}
		if r.Empty != 0 {
			w.Empty = setIn(w.Empty, i, r.Empty)
		}
		if r.InFile != 0 {
			w.InFile = setIn(w.InFile, i, r.InFile)
		}
		if r.Problem != nil {
			w.Problems = setIn(w.Problems, i, *r.Problem)
		}
		if len(r.Dropped) > 0 {
			w.Dropped = setIn(w.Dropped, i, r.Dropped)
		}
		if r.Item != 0 {
			w.Items = setIn(w.Items, i, r.Item)
		}
	}
	lens := make([]byte, 0, len(c.Rows)*w.Fields+binary.MaxVarintLen64)
	w.Cols = make([]string, w.Fields)
	for j := range w.Cols {
		size := 0
		for _, r := range c.Rows {
			size += len(r.Cells[j])
		}
		var col strings.Builder
		col.Grow(size)
		for _, r := range c.Rows {
			col.WriteString(r.Cells[j])
			lens = binary.AppendUvarint(lens, uint64(len(r.Cells[j])))
		}
		w.Cols[j] = col.String()
	}
	w.Nums, w.Lens = nums, lens
	return w, nil
}

func setIn[V any](m map[int]V, k int, v V) map[int]V {
	if m == nil {
		m = map[int]V{}
	}
	m[k] = v
	return m
}

var errBadChunk = errors.New("bus: chunk cells do not add up")

func fromWire(w *wireChunk) (*schemas.Chunk, error) {
	c := &schemas.Chunk{Import: w.Import, Number: w.Number, FirstRow: w.FirstRow, Rejected: w.Rejected}
	if w.Rows == 0 {
		return c, nil
	}
	if w.Rows < 0 || w.Fields <= 0 || len(w.Cols) != w.Fields || len(w.Nums) < w.Rows || len(w.Lens) < w.Rows*w.Fields {
		return nil, errBadChunk
	}
	c.Rows = make([]schemas.Row, w.Rows)
	cells := make([]string, w.Rows*w.Fields) // one backing array for every row
	n, nums := w.FirstRow, w.Nums
	for i := range c.Rows {
		r := &c.Rows[i]
		step, k := binary.Varint(nums)
		if k <= 0 {
			return nil, errBadChunk
		}
		nums = nums[k:]
		n += int(step)
		r.N = n
		r.Cells = cells[i*w.Fields : (i+1)*w.Fields : (i+1)*w.Fields]
		r.Duplicates = w.Dup[i]
		r.Empty = w.Empty[i]
		r.InFile = w.InFile[i]
		r.Dropped = w.Dropped[i]
		r.Item = w.Items[i]
		if p, ok := w.Problems[i]; ok {
			r.Problem = new(schemas.Violation) // not &p, which would escape for every row
			*r.Problem = p
		}
	}
	lens := w.Lens
	for j, col := range w.Cols {
		off := 0
		for i := j; i < len(cells); i += w.Fields {
			size, k := binary.Uvarint(lens)
			if k <= 0 || size > uint64(len(col)-off) {
				return nil, errBadChunk
			}
			lens = lens[k:]
			cells[i] = col[off : off+int(size)]
			off += int(size)
		}
		if off != len(col) {
			return nil, errBadChunk
		}
	}
	if len(nums) != 0 || len(lens) != 0 {
		return nil, errBadChunk
	}
	return c, nil
}

// PublishChunk publishes a chunk in its wire form (CBOR, column by column,
// compressed with S2) on subject with the given Msg-Id. Compression keeps
// nats-server's work small: it stores and forwards every chunk three times,
// and its work grows with the bytes.
func PublishChunk(pub message.Publisher, subject, msgID string, c *schemas.Chunk) error {
	w, err := toWire(c)
	if err != nil {
		return err
	}
	data, err := cbor.Marshal(w)
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", subject, err)
	}
	msg := message.NewMessage(msgID, s2.Encode(nil, data))
	msg.Metadata.Set(metaContentType, contentChunk)
	return publish(pub, subject, msg)
}

// chunkDecoding lets cells that are not valid UTF-8 through as they are, as Go
// strings hold them (ingest passes a UTF-8 file's bytes on unchecked past its
// first 64 KiB): validate rejects such a cell with its row's reason. CBOR's
// default would refuse the whole chunk, and send its rows to the poison
// subject unreported.
var chunkDecoding = func() cbor.DecMode {
	dm, err := cbor.DecOptions{UTF8: cbor.UTF8DecodeInvalid}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// DecodeChunk decodes a chunk PublishChunk published, and finds its dataset.
// A chunk that does not decode, or of a dataset sluice does not know, is
// permanent: retrying it cannot help.
func DecodeChunk(msg *message.Message) (*schemas.Chunk, *schemas.Dataset, error) {
	if ct := msg.Metadata.Get(metaContentType); ct != contentChunk {
		return nil, nil, platform.Permanent(fmt.Errorf("bus: message %s is %q, not a chunk", msg.UUID, ct))
	}
	data, err := s2.Decode(nil, msg.Payload)
	if err != nil {
		return nil, nil, platform.Permanent(fmt.Errorf("bus: decode chunk %s: %w", msg.UUID, err))
	}
	var w wireChunk
	if err := chunkDecoding.Unmarshal(data, &w); err != nil {
		return nil, nil, platform.Permanent(fmt.Errorf("bus: decode chunk %s: %w", msg.UUID, err))
	}
	c, err := fromWire(&w)
	if err != nil {
		return nil, nil, platform.Permanent(fmt.Errorf("bus: decode chunk %s: %w", msg.UUID, err))
	}
	ds, ok := c.Import.Schema()
	if !ok {
		return nil, nil, platform.Permanent(fmt.Errorf("bus: chunk %s of unknown dataset %q (layout %q)", msg.UUID, c.Import.Dataset, c.Import.Layout))
	}
	return c, ds, nil
}
