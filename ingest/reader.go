package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strings"

	"golang.org/x/text/transform"

	"github.com/sluicehq/sluice/schemas"
)

// FileError is a problem with a file as a whole: it is rejected and no row of
// it is loaded. Its violation is what the partner reads.
type FileError struct{ V schemas.Violation }

func (e *FileError) Error() string { return e.V.Code + ": " + e.V.Message }

func fileError(code, msg string) *FileError {
	return &FileError{V: schemas.Violation{Code: code, Message: msg}}
}

// delimiters are those a text file may use, in order of preference on a tie.
var delimiters = []rune{',', ';', '\t', '|'}

// The formats sluice reads, as the import's audit names them.
const (
	formatCSV  = "csv"
	formatXLSX = "xlsx"
)

// zipMagic starts every zip archive, an XLSX workbook among them.
var zipMagic = []byte("PK\x03\x04")

// DetectFormat tells from a file's name and its first bytes whether sluice can
// read it, and how: delimited text (.csv, .txt), in which encoding, with which
// delimiter, or an XLSX workbook; never a file whose bytes say it is something
// else than its name (a zip named .csv, a binary, a text named .xlsx), nor a
// workbook that may carry macros (.xlsm).
func DetectFormat(name string, head []byte) (schemas.FileFormat, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv", ".txt":
	case ".xlsx":
		if !bytes.HasPrefix(head, zipMagic) {
			return schemas.FileFormat{}, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
		}
		return schemas.FileFormat{Format: formatXLSX}, nil
	case ".xlsm", ".xltm", ".xlam", ".xlsb":
		return schemas.FileFormat{}, fileError(schemas.CodeMacros, schemas.MsgMacros)
	default:
		return schemas.FileFormat{}, fileError(schemas.CodeWrongFormat, schemas.MsgWrongFormat)
	}
	enc := detectEncoding(head)
	text := head
	if dec, ok := encodings[enc]; ok {
		text, _ = dec.NewDecoder().Bytes(head[:len(head)&^1]) // UTF-16 in whole units
	}
	if bytes.HasPrefix(head, zipMagic) || bytes.IndexByte(text, 0) >= 0 {
		return schemas.FileFormat{}, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
	}
	return schemas.FileFormat{Format: formatCSV, Delimiter: string(detectDelimiter(text)), Encoding: enc}, nil
}

// detectDelimiter counts each candidate outside quotes in the first line.
func detectDelimiter(head []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, r := range string(head) {
		if r == '"' {
			quoted = !quoted
			continue
		}
		if !quoted && (r == '\n' || r == '\r') {
			break
		}
		if !quoted {
			counts[r]++
		}
	}
	best := delimiters[0]
	for _, d := range delimiters {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}

// RowReader reads a file's data rows, in the dataset's field order, one at a
// time: memory does not grow with the file (an XLSX workbook is held whole,
// within MaxXLSXBytes, since a zip cannot be read as a stream).
type RowReader struct {
	src    records
	ds     *schemas.Dataset
	header schemas.Header
	format schemas.FileFormat
}

// records is where rows come from: a delimited text file or a workbook.
type records interface {
	// next returns the next record and its row number as a spreadsheet shows
	// it, or a reader-level problem with that row, or io.EOF.
	next() (rec []string, n int, problem *schemas.Violation, err error)
	// linesLeft is at least the number of records left, found fast, and
	// whether no record is longer than the line limit for sure.
	linesLeft(ctx context.Context) (lines int, sure bool, err error)
	// Close releases what the source holds (a workbook's temporary files).
	Close() error
}

// headLen is how much of a file DetectFormat looks at.
const headLen = 64 << 10

// NewRowReader detects the format of r, reads and checks its header against
// the dataset in the import's mode (schemas.Dataset.Match: in update mode,
// a file may carry only its key and the columns it changes), and returns a
// reader of its rows. maxLine bounds the bytes of
// one row of a text file; a longer one rejects the file (encoding/csv has no
// bound of its own). Every error is a *FileError unless reading r itself
// failed.
func NewRowReader(r io.Reader, name string, ds *schemas.Dataset, mode string, maxLine int) (*RowReader, error) {
	guard := &lineGuard{r: r, limit: maxLine, max: maxLine + 2*headLen}
	br := bufio.NewReaderSize(guard, headLen)
	head, err := br.Peek(headLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, guard.error(err)
	}
	format, err := DetectFormat(name, head)
	if err != nil {
		return nil, err
	}
	rr := &RowReader{ds: ds, format: format}
	if format.Format == formatXLSX {
		guard.max = math.MaxInt // a workbook is read whole, within MaxXLSXBytes
		rr.src, err = openXLSX(br, maxLine)
	} else {
		rr.src = newCSVRecords(br, guard, format)
	}
	if err != nil {
		return nil, err
	}
	if err := rr.readHeader(mode); err != nil {
		_ = rr.src.Close()
		return nil, err
	}
	return rr, nil
}

// readHeader reads the first record and matches it against the dataset.
func (rr *RowReader) readHeader(mode string) error {
	header, _, problem, err := rr.src.next()
	if errors.Is(err, io.EOF) {
		return fileError(schemas.CodeEmptyFile, schemas.MsgEmptyFile)
	}
	if err != nil {
		return err
	}
	if problem != nil {
		return &FileError{V: *problem}
	}
	h, v := rr.ds.Match(trimTrailingEmpty(header), mode)
	if v != nil {
		return &FileError{V: *v}
	}
	rr.ds, rr.header = h.Shape, h
	return nil
}

// Header is the file's header as it matched: its shape (the dataset, or the
// layout of it), each column's field, and the columns matched by a label.
func (r *RowReader) Header() schemas.Header { return r.header }

// Format is what the reader detected.
func (r *RowReader) Format() schemas.FileFormat { return r.format }

// Next returns the next data row, or io.EOF. Rows with no value in any cell
// (a spreadsheet's empty trailing rows, blank lines) are not records and are
// passed over, but still counted, so row numbers match what the partner sees
// in a spreadsheet. A row that cannot be split into cells is returned with its
// Problem set: the rest of the file is still read.
func (r *RowReader) Next() (schemas.Row, error) {
	for {
		rec, n, problem, err := r.src.next()
		if err != nil {
			return schemas.Row{}, err
		}
		row := schemas.Row{N: n, Cells: make([]string, len(r.ds.Fields)), Problem: problem}
		if problem != nil {
			return row, nil
		}
		rec = trimTrailingEmpty(rec)
		if len(rec) == 0 {
			continue
		}
		var repeated uint64 // bit f: field f's cell has a value already
		for c, v := range rec {
			if c >= len(r.header.Cols) {
				row.Problem = &schemas.Violation{Code: schemas.CodeColumnCount, Message: schemas.MsgColumnCount(len(rec), len(r.header.Cols))}
				break
			}
			f := r.header.Cols[c]
			if !r.ds.Fields[f].Repeated {
				row.Cells[f] = v
				continue
			}
			// A repeated field's columns: their values, in one cell, each
			// in its column's place (an empty one too).
			if repeated&(1<<f) != 0 {
				row.Cells[f] += schemas.ListSep
			}
			repeated |= 1 << f
			row.Cells[f] += strings.ReplaceAll(v, schemas.ListSep, "")
		}
		return row, nil
	}
}

// LinesLeft is at least the number of records left, found fast: for a text
// file, its physical lines, quotes ignored (nothing is parsed or kept); for a
// workbook, its rows. A line longer than the line limit is a *FileError here
// already, so that the file is rejected before any of it is published. sure
// is false when a record may still be longer than the limit (a quoted field
// may span lines): the caller must then count with the parser (Next) before
// it publishes. The reader is spent afterwards.
func (r *RowReader) LinesLeft(ctx context.Context) (lines int, sure bool, err error) {
	return r.src.linesLeft(ctx)
}

// Close releases what the reader holds; it does not close the io.Reader it
// reads.
func (r *RowReader) Close() error { return r.src.Close() }

// csvRecords reads delimited text.
type csvRecords struct {
	br     *bufio.Reader
	csv    *csv.Reader
	guard  *lineGuard
	n      int   // row number of the last record read
	line   int   // last file line of the last record read
	offset int64 // input offset after the last record read
}

func (c *csvRecords) Close() error { return nil }

func newCSVRecords(br *bufio.Reader, guard *lineGuard, format schemas.FileFormat) *csvRecords {
	if enc, ok := encodings[format.Encoding]; ok { // read it as UTF-8 from here on
		br = bufio.NewReaderSize(transform.NewReader(br, enc.NewDecoder()), headLen)
	}
	if text, _ := br.Peek(headLen); bytes.IndexByte(text, '\r') >= 0 && bytes.IndexByte(text, '\n') < 0 {
		// Line ends of old Macs (CR alone), which encoding/csv does not
		// split on.
		br = bufio.NewReaderSize(crToLF{br}, headLen)
	}
	cr := csv.NewReader(br)
	cr.Comma = []rune(format.Delimiter)[0]
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &csvRecords{br: br, csv: cr, guard: guard}
}

func (c *csvRecords) next() ([]string, int, *schemas.Violation, error) {
	rec, err := c.csv.Read()
	if errors.Is(err, io.EOF) {
		return nil, 0, nil, io.EOF
	}
	c.guard.reset()
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		c.n += perr.StartLine - c.line
		c.line = perr.Line
		return nil, c.n, &schemas.Violation{Code: schemas.CodeMalformed, Message: schemas.MsgMalformed(perr.Err.Error())}, nil
	}
	if err != nil {
		return nil, 0, nil, c.guard.error(err)
	}
	// encoding/csv skips blank lines without a word: count them back from
	// where the record starts.
	start, _ := c.csv.FieldPos(0)
	c.n += start - c.line
	last := len(rec) - 1
	end, _ := c.csv.FieldPos(last)
	c.line = end + strings.Count(rec[last], "\n")
	off := c.csv.InputOffset()
	if off-c.offset > int64(c.guard.limit) {
		return nil, 0, nil, c.guard.error(errLineTooLong)
	}
	c.offset = off
	return rec, c.n, nil, nil
}

// linesLeft counts the physical lines left, blank ones aside, ignoring
// quotes: every record takes at least one line, so the count is an upper
// bound of the records however the quotes stand (a stray quote cannot hide
// lines from it, as it could from a quote-aware count). A line longer than
// the limit is a *FileError: the record that holds it is longer still. It is
// sure when no record can span lines beyond the limit: the file has no quote,
// or is no longer than the limit.
func (c *csvRecords) linesLeft(ctx context.Context) (int, bool, error) {
	c.guard.max = math.MaxInt // nothing is buffered here
	n, line, total, quotes := 0, 0, 0, false
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		k, err := c.br.Read(buf)
		p := buf[:k]
		total += k
		quotes = quotes || bytes.IndexByte(p, '"') >= 0
		// bytes.IndexByte finds the next line break many bytes at a time.
		for len(p) > 0 {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				line += len(p)
				break
			}
			if line += i; line > c.guard.limit {
				return 0, false, c.guard.error(errLineTooLong)
			}
			n, line, p = n+1, 0, p[i+1:]
		}
		if line > c.guard.limit {
			return 0, false, c.guard.error(errLineTooLong)
		}
		if errors.Is(err, io.EOF) {
			if line > 0 {
				n++
			}
			return n, !quotes || total <= c.guard.limit, nil
		}
		if err != nil {
			return 0, false, c.guard.error(err)
		}
	}
}

// trimTrailingEmpty drops the empty cells at the end of a record, which
// spreadsheets add for formatted but empty columns.
func trimTrailingEmpty(rec []string) []string {
	for len(rec) > 0 && strings.TrimSpace(rec[len(rec)-1]) == "" {
		rec = rec[:len(rec)-1]
	}
	return rec
}

func (g *lineGuard) error(err error) error {
	if errors.Is(err, errLineTooLong) {
		return fileError(schemas.CodeLineTooLong, schemas.MsgLineTooLong(g.limit))
	}
	return fmt.Errorf("ingest: read: %w", err)
}

var errLineTooLong = errors.New("line too long")

// crToLF turns every CR into LF.
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// lineGuard fails a read once more than max bytes have been read since the
// last reset (one reset per record), so one endless quoted field cannot make
// the CSV reader buffer the whole file.
type lineGuard struct {
	r     io.Reader
	limit int // the row limit partners are told
	max   int // limit plus what the readers buffer ahead
	read  int
}

func (g *lineGuard) reset() { g.read = 0 }

func (g *lineGuard) Read(p []byte) (int, error) {
	if g.read > g.max {
		return 0, errLineTooLong
	}
	n, err := g.r.Read(p)
	g.read += n
	return n, err
}
