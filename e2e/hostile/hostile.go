// Package hostile generates the hostile corpus: files a partner's tool, a
// damaged disk or an attacker may put in the bucket (zip bombs, absurd row
// numbers, stray quotes, lines of megabytes, binaries under a .csv name),
// each with the outcome sluice must reach with it. e2e/hostile_test.go runs
// every file through the real pipeline; the small ones are also kept, byte
// for byte, in e2e/testdata/hostile (go generate ./e2e/hostile), so that a
// reader can open them; the large ones are generated when the test runs.
//
// Every file is a clients file: header firstName,lastName,email, and
// addresses under a domain of the file's own, so that the counts of one file
// do not depend on another.
package hostile

//go:generate go run ./gen ../testdata/hostile

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// MaxRows is the row limit of the tenant the corpus is uploaded to.
const MaxRows = 5000

// KeepBytes is the largest file kept in testdata; larger ones are generated
// when the test runs.
const KeepBytes = 256 << 10

// File is one hostile file and what importing it must give.
type File struct {
	// Name is the file's name (under <tenant>/clients/).
	Name string
	// Why says what is hostile about it.
	Why  string
	Body []byte
	// Status and Reason (the code of a file rejected whole) are the
	// import's end.
	Status, Reason string
	// Counts are the import's counts: Rows, Created, Rejected (a file
	// rejected whole has none).
	Counts schemas.Counts
}

// Domain is the domain of the addresses of the file named name.
func Domain(name string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(name) + ".example"
}

const header = "firstName,lastName,email\n"

// rows returns n good clients rows of the file, from row number first.
func rows(name string, first, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Ann,Lee,ann%d@%s\n", first+i, Domain(name))
	}
	return b.String()
}

func rejected(name, why string, body []byte, reason string) File {
	return File{Name: name, Why: why, Body: body, Status: schemas.StatusRejected, Reason: reason}
}

func loaded(name, why string, body []byte, total, created, rejectedRows int) File {
	status := schemas.StatusCompleted
	if rejectedRows > 0 {
		status = schemas.StatusCompletedWithErrors
	}
	return File{Name: name, Why: why, Body: body, Status: status,
		Counts: schemas.Counts{Rows: total, Created: created, Rejected: rejectedRows}}
}

// Files returns the corpus, generated afresh (deterministically).
func Files() []File {
	var fs []File
	add := func(f ...File) { fs = append(fs, f...) }
	add(xlsxFiles()...)
	add(csvFiles()...)
	return fs
}

func csvFiles() []File {
	var fs []File
	add := func(f File) { fs = append(fs, f) }
	csv := func(name string, parts ...string) []byte { return []byte(strings.Join(parts, "")) }

	// The row limit, with stray quotes that a quote-aware line count takes
	// for quoted fields spanning lines.
	add(rejected("stray-quotes-over-limit.csv", "20,000 rows, stray quotes in some names: over the limit",
		strayQuotes("stray-quotes-over-limit.csv", 20000, 500), schemas.CodeTooManyRows))
	add(loaded("stray-quotes-under-limit.csv", "100 rows, 5 with a stray quote: those 5 are malformed",
		strayQuotes("stray-quotes-under-limit.csv", 100, 20), 100, 95, 5))
	add(rejected("over-limit-plain.csv", "5,001 plain rows", csv("", header, rows("over-limit-plain.csv", 0, MaxRows+1)), schemas.CodeTooManyRows))
	{
		name := "quoted-breaks-over-limit.csv"
		var b strings.Builder
		b.WriteString(header)
		for i := range 6000 {
			fmt.Fprintf(&b, "Ann,\"Lee\nSmith\",ann%d@%s\n", i, Domain(name))
		}
		add(rejected(name, "6,000 records of two lines each: the parser counts them", []byte(b.String()), schemas.CodeTooManyRows))
	}
	{
		name := "blank-lines-under-limit.csv"
		body := header + rows(name, 0, 2) + strings.Repeat("\n", 100000) + rows(name, 2, 1)
		add(loaded(name, "100,000 blank lines between 3 rows: more lines than the limit, 3 records", []byte(body), 3, 3, 0))
	}
	{
		name := "unbalanced-quote-small.csv"
		body := header + rows(name, 0, 2) + "\"Ann,Lee,x@" + Domain(name) + "\n" + rows(name, 3, 1000)
		// encoding/csv reads the open quote to the end of the file: one
		// malformed record, the rows before it loaded.
		add(loaded(name, "a quote opened at a row's start and never closed swallows the rest of the file", []byte(body), 3, 2, 1))
	}
	{
		name := "unbalanced-quote-big.csv"
		body := header + "\"Ann,Lee,x@" + Domain(name) + "\n" + rows(name, 3, 40000)
		add(rejected(name, "an open quote swallowing 1.4 MiB: a record over the line limit", []byte(body), schemas.CodeLineTooLong))
	}
	{
		name := "multiline-cell-20mib.csv"
		body := header + "Ann,\"" + strings.Repeat("a long quoted paragraph of a cell\n", 20<<20/34) + "\",ann@" + Domain(name) + "\n"
		add(rejected(name, "a quoted cell of 20 MiB in short lines", []byte(body), schemas.CodeLineTooLong))
	}
	add(rejected("one-cell-20mib.csv", "20 MiB of one cell", csv("", header, "Ann,", strings.Repeat("x", 20<<20), ",ann@x.example\n"), schemas.CodeLineTooLong))
	add(rejected("cell-3mib.csv", "a 3 MiB cell", csv("", header, rows("cell-3mib.csv", 0, 2), "Ann,", strings.Repeat("y", 3<<20), ",ann9@x.example\n"), schemas.CodeLineTooLong))
	add(rejected("line-over-1mib.csv", "a line one byte over 1 MiB", csv("", header, "Ann,", strings.Repeat("z", 1<<20), ",a@x.example\n"), schemas.CodeLineTooLong))
	{
		name := "cells-900kib.csv"
		var b strings.Builder
		b.WriteString(header)
		for i := range 3 {
			fmt.Fprintf(&b, "%s,Lee,ann%d@%s\n", strings.Repeat("c", 900<<10), i, Domain(name))
		}
		b.WriteString(rows(name, 3, 1))
		add(loaded(name, "rows of 900 KiB each, under the line limit: chunks are cut by bytes; the cells are too long", []byte(b.String()), 4, 1, 3))
	}
	{
		name := "columns-100000.csv"
		body := header + "Ann,Lee,ann0@" + Domain(name) + strings.Repeat(",x", 100000) + "\n" + rows(name, 1, 1)
		add(loaded(name, "a row of 100,000 columns", []byte(body), 2, 1, 1))
	}
	add(rejected("header-100000-columns.csv", "a header of 100,000 columns",
		csv("", "firstName,lastName,email", strings.Repeat(",col", 100000), "\n", rows("header-100000-columns.csv", 0, 1)), schemas.CodeUnknownColumn))
	{
		name := "repeated-delimiters.csv"
		body := header + "Ann" + strings.Repeat(",", 200000) + "x\n" + strings.Repeat(",", 200000) + "\n" + rows(name, 0, 1)
		add(loaded(name, "200,000 delimiters in a row, and a row of nothing but delimiters (an empty row)", []byte(body), 2, 1, 1))
	}
	add(rejected("long-header-name.csv", "a header name of 100 KiB", csv("", "firstName,", strings.Repeat("h", 100<<10), ",email\n", rows("long-header-name.csv", 0, 1)), schemas.CodeUnknownColumn))
	add(rejected("duplicated-headers.csv", "email twice in the header", csv("", "firstName,email,lastName,email\n", "Ann,a@x.example,Lee,b@x.example\n"), schemas.CodeDuplicateColumn))
	add(rejected("bom-only.csv", "a UTF-8 byte order mark and nothing else", []byte("\xef\xbb\xbf"), schemas.CodeEmptyFile))
	add(rejected("empty.csv", "no byte at all", []byte{}, schemas.CodeEmptyFile))
	add(loaded("header-only.csv", "a header and no row", []byte(header), 0, 0, 0))
	{
		name := "cr-only-quotes.csv"
		body := "firstName,lastName,email\r\"Ann\",\"Lee\",\"ann0@" + Domain(name) + "\"\r\"Bo\",\"O'Neil, Jr\",\"bo1@" + Domain(name) + "\"\rCy,\"Smith\",cy2@" + Domain(name) + "\r"
		add(loaded(name, "old Mac line ends (CR alone) with quoted fields, a delimiter in one", []byte(body), 3, 3, 0))
	}
	{
		name := "utf16-no-bom.csv"
		text := header + rows(name, 0, 2)
		var b bytes.Buffer
		for _, r := range text {
			b.WriteByte(byte(r))
			b.WriteByte(0)
		}
		add(rejected(name, "UTF-16LE without a byte order mark: NUL bytes", b.Bytes(), schemas.CodeWrongFormat))
	}
	add(rejected("nul-bytes.csv", "NUL bytes in the first rows", csv("", header, "Ann\x00,Lee,a@x.example\n"), schemas.CodeWrongFormat))
	{
		name := "nul-bytes-late.csv"
		body := header + rows(name, 0, 2) + strings.Repeat("\n", 70000) + "Ann\x00\x00,Lee,late@" + Domain(name) + "\n"
		// clients' names take any character: the NUL bytes are loaded as
		// they are (a rule on control characters is validate's to add).
		add(loaded(name, "a NUL byte past the first 64 KiB (of blank lines)", []byte(body), 3, 3, 0))
	}
	{
		name := "invalid-utf8-late.csv"
		body := header + rows(name, 0, 2) + strings.Repeat("\n", 70000) + "Ann\xff\xfe,Lee,late@" + Domain(name) + "\n"
		add(loaded(name, "bytes that are not UTF-8 past the first 64 KiB (of blank lines)", []byte(body), 3, 2, 1))
	}
	{
		name := "invalid-utf8-head.csv"
		body := header + "Ren\xe9e,Lee,renee@" + Domain(name) + "\n" + rows(name, 1, 1)
		add(loaded(name, "a byte that is not UTF-8 in the head: read as Windows-1252", []byte(body), 2, 2, 0))
	}
	{
		r := rand.New(rand.NewPCG(9, 9))
		b := make([]byte, 64<<10)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		add(rejected("binary.csv", "random bytes", b, schemas.CodeWrongFormat))
	}
	add(rejected("zip-named.csv", "a zip archive named .csv", zipOf(map[string][]byte{"data.csv": []byte(header)}), schemas.CodeWrongFormat))
	add(rejected("png-named.csv", "a PNG image named .csv", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"), schemas.CodeWrongFormat))
	{
		name := "formula-cells.csv"
		body := header + "=cmd|' /C calc'!A0,Lee,ann0@" + Domain(name) + "\n" + "@SUM(1+1)*cmd|' /C calc'!A0,+1,ann1@" + Domain(name) + "\n" + rows(name, 2, 1)
		add(loaded(name, "formula cells: one that starts with = is executable content (seed 004), rejected; @SUM(...) is text, never evaluated (reports escape it)", []byte(body), 3, 2, 1))
	}
	{
		name := "dlq-long-values.csv"
		var b strings.Builder
		b.WriteString(header)
		for i := range 600 {
			fmt.Fprintf(&b, "%s,Lee,ann%d@%s\n", strings.Repeat("v", 4<<10), i, Domain(name))
		}
		add(loaded(name, "600 rows each with a 4 KiB first name: every one rejected, its value cut in the DLQ", []byte(b.String()), 600, 0, 600))
	}
	{
		name := "deep-quotes.csv"
		body := header + strings.Repeat(`"`, 100000) + "\n" + rows(name, 0, 1)
		add(loaded(name, "100,000 quotes in a row", []byte(body), 2, 1, 1))
	}
	return fs
}

// strayQuotes is a file of n rows, every every-th of them with a stray
// quote in its last name (O"Brien).
func strayQuotes(name string, n, every int) []byte {
	var b strings.Builder
	b.WriteString(header)
	for i := range n {
		last := "Lee"
		if i%every == 0 {
			last = `O"Brien`
		}
		fmt.Fprintf(&b, "Ann,%s,ann%d@%s\n", last, i, Domain(name))
	}
	return []byte(b.String())
}

// zipOf is a zip archive of the files.
func zipOf(files map[string][]byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range sortedKeys(files) {
		w, err := zw.Create(name)
		if err != nil {
			panic(err)
		}
		if _, err := w.Write(files[name]); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
