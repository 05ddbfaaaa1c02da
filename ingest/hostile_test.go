package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// zipOf is a workbook-like zip of the named parts; a part's content is
// written by its function, so that a bomb is never held whole.
func zipOf(t *testing.T, parts map[string]func(io.Writer)) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, write := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		write(w)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sheet is a minimal workbook whose first sheet's sheetData is rows, with
// more parts.
func sheet(t *testing.T, rows func(io.Writer), more map[string]func(io.Writer)) []byte {
	t.Helper()
	str := func(s string) func(io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }
	parts := map[string]func(io.Writer){
		"[Content_Types].xml":        str(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`),
		"_rels/.rels":                str(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`),
		"xl/workbook.xml":            str(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`),
		"xl/_rels/workbook.xml.rels": str(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`),
		"xl/worksheets/sheet1.xml": func(w io.Writer) {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
			io.WriteString(w, `<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c><c r="B1" t="inlineStr"><is><t>email</t></is></c></row>`)
			io.WriteString(w, `<row r="2"><c r="A2" t="inlineStr"><is><t>Ann</t></is></c><c r="B2" t="inlineStr"><is><t>ann@x.io</t></is></c></row>`)
			rows(w)
			io.WriteString(w, `</sheetData></worksheet>`)
		},
	}
	for name, write := range more {
		parts[name] = write
	}
	return zipOf(t, parts)
}

// times writes s n times.
func times(s string, n int) func(io.Writer) {
	return func(w io.Writer) {
		block := strings.Repeat(s, 4096)
		for ; n >= 4096; n -= 4096 {
			io.WriteString(w, block)
		}
		io.WriteString(w, strings.Repeat(s, n))
	}
}

// readHostile reads a file as ingest does: the header, the fast count,
// then every row with the parser, checking ctx on every row. It returns the
// code of the file's rejection, or "" and the rows read.
func readHostile(ctx context.Context, name string, data []byte) (code string, rows int, err error) {
	code = func() string {
		rr, err := NewRowReader(bytes.NewReader(data), name, schemas.Clients, schemas.ModeCreate, 1<<20)
		if err != nil {
			return codeOf(err)
		}
		defer rr.Close()
		if _, _, err := rr.LinesLeft(ctx); err != nil {
			return codeOf(err)
		}
		return ""
	}()
	if code != "" {
		return code, 0, nil
	}
	rr, err := NewRowReader(bytes.NewReader(data), name, schemas.Clients, schemas.ModeCreate, 1<<20)
	if err != nil {
		return codeOf(err), 0, nil
	}
	defer rr.Close()
	for {
		if err := ctx.Err(); err != nil {
			return "", rows, err
		}
		_, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return "", rows, nil
		}
		if err != nil {
			return codeOf(err), rows, nil
		}
		rows++
	}
}

func codeOf(err error) string {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe.V.Code
	}
	return "error: " + err.Error()
}

// TestHostileFiles: each bound of the readers rejects its file (or reads
// it), and ends well within its deadline: the context says so, not a
// timed assertion.
func TestHostileFiles(t *testing.T) {
	const deadline = 5 * time.Second
	good := "firstName,email\nAnn,ann@x.io\n"
	tests := []struct {
		name, file string
		data       func(t *testing.T) []byte
		code       string // the rejection, or "" and rows
		rows       int
	}{
		{"a row numbered near 2^63", "f.xlsx", func(t *testing.T) []byte {
			return sheet(t, func(w io.Writer) {
				io.WriteString(w, `<row r="9223372036854775807"><c t="inlineStr"><is><t>x</t></is></c></row>`)
			}, nil)
		}, schemas.CodeRowNumber, 0},
		{"a row numbered 10^7", "f.xlsx", func(t *testing.T) []byte {
			return sheet(t, func(w io.Writer) { io.WriteString(w, `<row r="10000000"><c t="inlineStr"><is><t>x</t></is></c></row>`) }, nil)
		}, schemas.CodeRowNumber, 0},
		{"an empty row at the last row a spreadsheet has", "f.xlsx", func(t *testing.T) []byte {
			return sheet(t, func(w io.Writer) { io.WriteString(w, `<row r="1048576" ht="20" customHeight="1"/>`) }, nil)
		}, "", 1},
		{"a shared-strings bomb", "f.xlsx", func(t *testing.T) []byte {
			return sheet(t, func(io.Writer) {}, map[string]func(io.Writer){"xl/sharedStrings.xml": times("<si><t>aaaaaaaa</t></si>", 1<<20)})
		}, schemas.CodeUnpacked, 0},
		{"a sheet bomb", "f.xlsx", func(t *testing.T) []byte { return sheet(t, times("<c/>", 20<<20), nil) }, schemas.CodeUnpacked, 0},
		{"many parts", "f.xlsx", func(t *testing.T) []byte {
			parts := map[string]func(io.Writer){}
			for i := range 1000 {
				parts[fmt.Sprintf("xl/media/%d.bin", i)] = times("0", 70<<10)
			}
			return sheet(t, func(io.Writer) {}, parts)
		}, schemas.CodeUnpacked, 0},
		{"100,000 cells in a row", "f.xlsx", func(t *testing.T) []byte {
			return sheet(t, func(w io.Writer) {
				io.WriteString(w, `<row r="3">`)
				times(`<c t="inlineStr"><is><t>x</t></is></c>`, 100000)(w)
				io.WriteString(w, `</row>`)
			}, nil)
		}, "", 2},
		{"a workbook row over the line limit", "f.xlsx", func(t *testing.T) []byte {
			return sheet(t, func(w io.Writer) {
				io.WriteString(w, `<row r="3"><c r="A3" t="inlineStr"><is><t>`)
				times("w", 1<<20+1)(w)
				io.WriteString(w, `</t></is></c></row>`)
			}, nil)
		}, schemas.CodeLineTooLong, 0},
		{"an unbalanced quote swallowing 2 MiB", "f.csv", func(*testing.T) []byte {
			return []byte(good + "\"Bo,bo@x.io\n" + strings.Repeat("Cy,cy@x.io\n", 200000))
		}, schemas.CodeLineTooLong, 0},
		{"a line over 1 MiB", "f.csv", func(*testing.T) []byte {
			return []byte(good + "Bo," + strings.Repeat("x", 1<<20) + "\n")
		}, schemas.CodeLineTooLong, 0},
		{"20 MiB of one cell", "f.csv", func(*testing.T) []byte {
			return []byte(good + "Bo,\"" + strings.Repeat("x", 20<<20) + "\"\n")
		}, schemas.CodeLineTooLong, 0},
		{"100,000 columns", "f.csv", func(*testing.T) []byte {
			return []byte(good + "Bo,bo@x.io" + strings.Repeat(",x", 100000) + "\n")
		}, "", 2},
		{"stray quotes", "f.csv", func(*testing.T) []byte {
			return []byte(good + strings.Repeat("O\"Brien,o@x.io\nBo,bo@x.io\n", 1000))
		}, "", 2001},
		{"NUL bytes", "f.csv", func(*testing.T) []byte { return []byte(good + "B\x00o,bo@x.io\n") }, schemas.CodeWrongFormat, 0},
		{"invalid UTF-8 past the head", "f.csv", func(*testing.T) []byte {
			return []byte(good + strings.Repeat("\n", 70000) + "B\xff\xfeo,bo@x.io\n")
		}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			code, rows, err := readHostile(ctx, tt.file, data)
			if err != nil {
				t.Fatalf("did not end within %v: %v", deadline, err)
			}
			if code != tt.code || code == "" && rows != tt.rows {
				t.Errorf("got %q, %d rows; want %q, %d rows", code, rows, tt.code, tt.rows)
			}
		})
	}
}

// TestLinesLeftCancelled: the fast count stops when its context ends.
func TestLinesLeftCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rr, err := NewRowReader(strings.NewReader("firstName,email\nAnn,a@x.io\n"), "f.csv", schemas.Clients, schemas.ModeCreate, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rr.LinesLeft(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want %v", err, context.Canceled)
	}
}

// TestChunkerBytes: a chunk is cut by the bytes of its cells as well as by
// its rows.
func TestChunkerBytes(t *testing.T) {
	tests := []struct {
		name      string
		cell      int // bytes of each row's one cell
		rows      int
		size      int // rows a chunk may have
		wantSizes []int
	}{
		{"small rows: cut by rows", 10, 7, 3, []int{3, 3, 1}},
		{"rows of 400 KiB: three to a chunk", 400 << 10, 7, 5000, []int{3, 3, 1}},
		{"rows of 1 MiB: one to a chunk", 1 << 20, 3, 5000, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make(chan *schemas.Chunk, tt.rows)
			k := &chunker{size: tt.size, out: out}
			cell := strings.Repeat("x", tt.cell)
			for i := range tt.rows {
				if err := k.add(context.Background(), schemas.Row{N: i + 2, Cells: []string{cell}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := k.flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			close(out)
			var sizes []int
			for c := range out {
				sizes = append(sizes, len(c.Rows))
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("chunks of %v rows, want %v", sizes, tt.wantSizes)
			}
		})
	}
}

// BenchmarkLinesLeft is the fast count checkSize runs before any chunk of a
// file leaves, on a 1,000,000-row clients file (about 90 MiB): its cost is
// what the row limit adds to an import's reading.
func BenchmarkLinesLeft(b *testing.B) {
	data := millionRows("Ann")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rr, err := NewRowReader(bytes.NewReader(data), "f.csv", schemas.Clients, schemas.ModeCreate, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		if n, sure, err := rr.LinesLeft(context.Background()); err != nil || !sure || n != 1_000_000 {
			b.Fatalf("got %d, %v, %v", n, sure, err)
		}
	}
}

// BenchmarkCountWithParser is what checkSize costs on a 1,000,000-row file
// when the fast count cannot settle it (more lines than the limit, or
// quotes in a file longer than the line limit): the parser reads every row.
func BenchmarkCountWithParser(b *testing.B) {
	data := millionRows(`"Ann"`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rr, err := NewRowReader(bytes.NewReader(data), "f.csv", schemas.Clients, schemas.ModeCreate, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for ; ; n++ {
			if _, err := rr.Next(); err != nil {
				break
			}
		}
		if n != 1_000_000 {
			b.Fatalf("got %d rows", n)
		}
	}
}

// millionRows is a clients file of 1,000,000 rows whose first names are
// first.
func millionRows(first string) []byte {
	var sb strings.Builder
	sb.WriteString("ID,firstName,lastName,email,project,desk,active,type,created\n")
	for i := range 1_000_000 {
		fmt.Fprintf(&sb, "%024x,%s,Lee,ann%d@acme.example,66524609caa3558dd8f8da65,67a346ad8092c651c919337e,True,Personal,2024-06-13T15:06:02Z\n", i, first, i)
	}
	return []byte(sb.String())
}
