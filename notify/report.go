package notify

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// ReportHeader is the header of the error report: one line per broken rule,
// so the partner can find the cell, read why and how to fix it
// (schemas.Hint), and upload again.
var ReportHeader = []string{"row", "column", "rule", "value", "message", "solution"}

// ReportWriter writes the error report as CSV (RFC 4180, CRLF line ends)
// that opens as text in any spreadsheet, whatever its list separator: every
// cell is quoted, so no comma or semicolon in it splits it, and every cell
// is escaped (Escape), so none is run as a formula.
type ReportWriter struct {
	w     *bufio.Writer
	lines int
}

// NewReportWriter writes the header to w.
func NewReportWriter(w io.Writer) (*ReportWriter, error) {
	r := &ReportWriter{w: bufio.NewWriter(w)}
	if err := r.line(ReportHeader); err != nil {
		return nil, err
	}
	return r, nil
}

// Write adds one line per violation of a rejected row.
func (r *ReportWriter) Write(rej schemas.Rejected) error {
	for _, v := range rej.Violations {
		if err := r.line([]string{strconv.Itoa(rej.N), v.Column, v.Code, v.Value, v.Message, schemas.Hint(v.Code)}); err != nil {
			return err
		}
		r.lines++
	}
	return nil
}

// line writes one line of cells, each escaped and quoted.
func (r *ReportWriter) line(cells []string) error {
	for i, c := range cells {
		if i > 0 {
			r.w.WriteByte(',')
		}
		r.w.WriteByte('"')
		r.w.WriteString(strings.ReplaceAll(Escape(c), `"`, `""`))
		r.w.WriteByte('"')
	}
	if _, err := r.w.WriteString("\r\n"); err != nil {
		return fmt.Errorf("notify: report: %w", err)
	}
	return nil
}

// Lines is how many violation lines were written.
func (r *ReportWriter) Lines() int { return r.lines }

// Close flushes the report.
func (r *ReportWriter) Close() error {
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("notify: report: %w", err)
	}
	return nil
}

// Escape keeps a spreadsheet from running a cell as a formula (OWASP's
// advice on CSV injection): a single quote goes before a formula start (=,
// +, -, @, a tab or a carriage return, or the full-width forms some
// spreadsheets read alike) that begins the cell, also behind spaces or
// quotes. It goes before one that follows a comma, a semicolon, a tab or a
// line break in the cell too, so that a spreadsheet that splits the cell
// there, whatever its list separator and however it reads quotes, finds no
// formula in any piece.
func Escape(cell string) string {
	var b strings.Builder
	start := true // a spreadsheet may read a formula from here
	for _, r := range cell {
		if start && strings.ContainsRune(formulaStarts, r) {
			b.WriteByte('\'')
		}
		b.WriteRune(r)
		switch r {
		case ',', ';', '\t', '\r', '\n':
			start = true
		case ' ', '"':
		default:
			start = false
		}
	}
	return b.String()
}

// formulaStarts are the characters that make a spreadsheet read a cell as
// a formula.
const formulaStarts = "=+-@\t\r＝＋－＠"
