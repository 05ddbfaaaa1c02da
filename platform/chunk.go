package platform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/fxamacker/cbor/v2"

	"github.com/sluicehq/sluice/schemas"
)

// wireChunk is a chunk as it travels: its rows column by column. Row i's cell
// j is the next Lens[i*Fields+j] bytes of Cols[j]. Decoding it allocates a few
// strings per chunk instead of one per cell, and the cells of a decoded chunk
// are substrings of those: this, more than any rule, is what the stages'
// CPU and memory went to (BENCHMARKS.md).
type wireChunk struct {
	Import   schemas.Import     `json:"import"`
	Number   int                `json:"number"`
	FirstRow int                `json:"first_row"`
	Rejected []schemas.Rejected `json:"rejected,omitempty"`

	Fields int      `json:"fields"`
	N      []int    `json:"n"`
	Cols   []string `json:"cols"`
	Lens   []uint32 `json:"lens"`
	// The rare per-row attributes, by row index.
	Dup      map[int][]schemas.Duplicate `json:"dup,omitempty"`
	Empty    map[int]uint64              `json:"empty,omitempty"`
	Problems map[int]schemas.Violation   `json:"problems,omitempty"`
}

func toWire(c *schemas.Chunk) (*wireChunk, error) {
	w := &wireChunk{Import: c.Import, Number: c.Number, FirstRow: c.FirstRow, Rejected: c.Rejected, N: make([]int, len(c.Rows))}
	if len(c.Rows) == 0 {
		return w, nil
	}
	w.Fields = len(c.Rows[0].Cells)
	sizes := make([]int, w.Fields)
	for _, r := range c.Rows {
		if len(r.Cells) != w.Fields {
			return nil, fmt.Errorf("bus: chunk %d: rows of %d and %d cells", c.Number, w.Fields, len(r.Cells))
		}
		for j, cell := range r.Cells {
			sizes[j] += len(cell)
		}
	}
	cols := make([]strings.Builder, w.Fields)
	for j := range cols {
		cols[j].Grow(sizes[j])
	}
	w.Lens = make([]uint32, 0, len(c.Rows)*w.Fields)
	for i, r := range c.Rows {
		w.N[i] = r.N
		for j, cell := range r.Cells {
			cols[j].WriteString(cell)
			w.Lens = append(w.Lens, uint32(len(cell)))
		}
		if len(r.Duplicates) > 0 {
			w.Dup = setIn(w.Dup, i, r.Duplicates)
		}
		if r.Empty != 0 {
			w.Empty = setIn(w.Empty, i, r.Empty)
		}
		if r.Problem != nil {
			w.Problems = setIn(w.Problems, i, *r.Problem)
		}
	}
	w.Cols = make([]string, w.Fields)
	for j := range cols {
		w.Cols[j] = cols[j].String()
	}
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
	if len(w.N) == 0 {
		return c, nil
	}
	if len(w.Cols) != w.Fields || len(w.Lens) != len(w.N)*w.Fields {
		return nil, errBadChunk
	}
	c.Rows = make([]schemas.Row, len(w.N))
	cells := make([]string, len(w.Lens)) // one backing array for every row
	offs := make([]int, w.Fields)
	for i := range c.Rows {
		r := &c.Rows[i]
		r.N = w.N[i]
		r.Cells = cells[i*w.Fields : (i+1)*w.Fields : (i+1)*w.Fields]
		for j := range r.Cells {
			end := offs[j] + int(w.Lens[i*w.Fields+j])
			if end > len(w.Cols[j]) {
				return nil, errBadChunk
			}
			r.Cells[j] = w.Cols[j][offs[j]:end]
			offs[j] = end
		}
		r.Duplicates = w.Dup[i]
		r.Empty = w.Empty[i]
		if p, ok := w.Problems[i]; ok {
			r.Problem = &p
		}
	}
	return c, nil
}

// PublishChunk publishes a chunk in its wire form (CBOR, column by column)
// on subject with the given Msg-Id.
func PublishChunk(pub message.Publisher, subject, msgID string, c *schemas.Chunk) error {
	w, err := toWire(c)
	if err != nil {
		return err
	}
	data, err := cbor.Marshal(w)
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", subject, err)
	}
	msg := message.NewMessage(msgID, data)
	msg.Metadata.Set(metaContentType, contentChunk)
	return publish(pub, subject, msg)
}

// DecodeChunk decodes a chunk PublishChunk published, and finds its dataset.
// A chunk that does not decode, or of a dataset sluice does not know, is
// permanent: retrying it cannot help.
func DecodeChunk(msg *message.Message) (*schemas.Chunk, *schemas.Dataset, error) {
	if ct := msg.Metadata.Get(metaContentType); ct != contentChunk {
		return nil, nil, fmt.Errorf("bus: message %s is %q, not a chunk", msg.UUID, ct)
	}
	var w wireChunk
	if err := cbor.Unmarshal(msg.Payload, &w); err != nil {
		return nil, nil, fmt.Errorf("bus: decode chunk %s: %w", msg.UUID, err)
	}
	c, err := fromWire(&w)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: decode chunk %s: %w", msg.UUID, err)
	}
	ds, ok := c.Import.Schema()
	if !ok {
		return nil, nil, fmt.Errorf("bus: chunk %s of unknown dataset %q (layout %q)", msg.UUID, c.Import.Dataset, c.Import.Layout)
	}
	return c, ds, nil
}
