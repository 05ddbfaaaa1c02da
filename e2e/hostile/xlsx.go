package hostile

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// The parts every workbook here has besides its sheet.
const (
	contentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`
	rootRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	workbookXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`
	workbookRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`
)

// part is a zip entry whose content is written by a function (a bomb's is
// far larger than memory should hold at once).
type part struct {
	name  string
	write func(w io.Writer)
}

func text(s string) func(io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }

// repeat writes s n times, in blocks.
func repeat(s string, n int) func(io.Writer) {
	return func(w io.Writer) {
		block := strings.Repeat(s, max(1, (64<<10)/len(s)))
		per := len(block) / len(s)
		for ; n >= per; n -= per {
			io.WriteString(w, block)
		}
		io.WriteString(w, strings.Repeat(s, n))
	}
}

// workbook is an .xlsx whose first sheet's data is sheetData (the rows'
// XML), with extra parts.
func workbook(sheetData func(io.Writer), extra ...part) []byte {
	parts := []part{
		{"[Content_Types].xml", text(contentTypes)},
		{"_rels/.rels", text(rootRels)},
		{"xl/workbook.xml", text(workbookXML)},
		{"xl/_rels/workbook.xml.rels", text(workbookRels)},
		{"xl/worksheets/sheet1.xml", func(w io.Writer) {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+
				`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
			sheetData(w)
			io.WriteString(w, `</sheetData></worksheet>`)
		}},
	}
	return zipParts(append(parts, extra...))
}

// row is a row's XML: inline strings from column A.
func row(n int, cells ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, n)
	for i, c := range cells {
		fmt.Fprintf(&b, `<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>`, colName(i+1), n, c)
	}
	b.WriteString(`</row>`)
	return b.String()
}

// colName is a column's letters (1: A).
func colName(n int) string {
	s := ""
	for ; n > 0; n = (n - 1) / 26 {
		s = string(rune('A'+(n-1)%26)) + s
	}
	return s
}

// goodRows are the header and n good rows of the file.
func goodRows(name string, n int) string {
	var b strings.Builder
	b.WriteString(row(1, "firstName", "lastName", "email"))
	for i := range n {
		b.WriteString(row(i+2, "Ann", "Lee", fmt.Sprintf("ann%d@%s", i, Domain(name))))
	}
	return b.String()
}

func xlsxFiles() []File {
	var fs []File
	add := func(f File) { fs = append(fs, f) }

	add(loaded("plain.xlsx", "a well-formed workbook (the baseline of the others)", workbook(text(goodRows("plain.xlsx", 3))), 3, 3, 0))
	for _, n := range []string{"9223372036854775807", "10000000", "1048577"} {
		name := "row-" + n + ".xlsx"
		add(rejected(name, "a row numbered "+n+" after the data",
			workbook(text(goodRows(name, 2)+`<row r="`+n+`"><c r="A`+n+`" t="inlineStr"><is><t>x</t></is></c></row>`)), schemas.CodeRowNumber))
	}
	{
		name := "row-1048576-empty.xlsx"
		add(loaded(name, "a formatted empty row at the last row a spreadsheet has: a million empty rows to pass over",
			workbook(text(goodRows(name, 2)+`<row r="1048576" ht="20" customHeight="1"/>`)), 2, 2, 0))
	}
	{
		name := "sst-bomb.xlsx"
		sst := func(w io.Writer) {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
			repeat(`<si><t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</t></si>`, 2_000_000)(w)
			io.WriteString(w, `</sst>`)
		}
		add(rejected(name, "a shared-strings table of 2 million strings (80 MiB)",
			workbook(text(goodRows(name, 1)), part{"xl/sharedStrings.xml", sst}), schemas.CodeUnpacked))
	}
	{
		name := "sheet-bomb.xlsx"
		add(rejected(name, "a sheet of 200 MiB of empty cells in a few KiB",
			workbook(func(w io.Writer) {
				io.WriteString(w, goodRows(name, 1)+`<row r="3">`)
				repeat(`<c/>`, 50<<20)(w)
				io.WriteString(w, `</row>`)
			}), schemas.CodeUnpacked))
	}
	{
		name := "styles-bomb.xlsx"
		add(rejected(name, "a styles part of 20 MiB", workbook(text(goodRows(name, 1)), part{"xl/styles.xml", repeat(" ", 20<<20)}), schemas.CodeUnpacked))
	}
	{
		name := "many-parts.xlsx"
		var extra []part
		for i := range 2000 {
			extra = append(extra, part{fmt.Sprintf("xl/media/blob%d.bin", i), repeat("0", 40<<10)})
		}
		add(rejected(name, "2,000 parts of 40 KiB: 78 MiB in all", workbook(text(goodRows(name, 1)), extra...), schemas.CodeUnpacked))
	}
	{
		name := "columns-16384.xlsx"
		cells := make([]string, 16384)
		cells[0], cells[1], cells[2] = "Ann", "Lee", "ann0@"+Domain(name)
		for i := 3; i < len(cells); i++ {
			cells[i] = "x"
		}
		add(loaded(name, "a row filling all 16,384 columns a sheet has",
			workbook(text(row(1, "firstName", "lastName", "email")+row(2, cells...)+row(3, "Bo", "Lee", "bo1@"+Domain(name)))), 2, 1, 1))
	}
	{
		name := "cells-100000.xlsx"
		add(loaded(name, "a row of 100,000 cells with no reference, past the last column",
			workbook(func(w io.Writer) {
				io.WriteString(w, row(1, "firstName", "lastName", "email")+`<row r="2">`)
				repeat(`<c t="inlineStr"><is><t>x</t></is></c>`, 100000)(w)
				io.WriteString(w, `</row>`+row(3, "Bo", "Lee", "bo1@"+Domain(name)))
			}), 2, 1, 1))
	}
	{
		name := "cell-2mib.xlsx"
		add(rejected(name, "a cell of 2 MiB: a row over the line limit",
			workbook(text(row(1, "firstName", "lastName", "email")+row(2, strings.Repeat("w", 2<<20), "Lee", "a@x.example"))), schemas.CodeLineTooLong))
	}
	{
		name := "formula.xlsx"
		add(loaded(name, "a formula as text (=cmd|...): executable content (seed 004), rejected; a formula cell with no cached value: an empty first name, rejected",
			workbook(text(row(1, "firstName", "lastName", "email")+row(2, "=cmd|' /C calc'!A0", "Lee", "ann0@"+Domain(name))+
				`<row r="3"><c r="A3"><f>HYPERLINK("http://evil.example","Bo")</f></c><c r="B3" t="inlineStr"><is><t>Lee</t></is></c><c r="C3" t="inlineStr"><is><t>bo1@`+Domain(name)+`</t></is></c></row>`+
				row(4, "Cy", "Lee", "cy2@"+Domain(name)))), 3, 1, 2))
	}
	add(rejected("not-a-zip.xlsx", "text named .xlsx", []byte(header), schemas.CodeWrongFormat))
	{
		good := workbook(text(goodRows("truncated.xlsx", 3)))
		add(rejected("truncated.xlsx", "a workbook cut off after 300 bytes", good[:300], schemas.CodeWrongFormat))
	}
	add(rejected("macros.xlsm", "a macro-enabled workbook", workbook(text(goodRows("macros.xlsm", 1))), schemas.CodeMacros))
	add(rejected("vba-inside.xlsx", "a VBA project inside an .xlsx",
		workbook(text(goodRows("vba-inside.xlsx", 1)), part{"xl/vbaProject.bin", text("Attribute VB_Name = \"Module1\"")}), schemas.CodeMacros))
	add(rejected("no-sheet-data.xlsx", "a workbook whose sheet has no row", workbook(text("")), schemas.CodeEmptyFile))
	return fs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
