package notify

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// ReportHeader is the header of the error report: one line per broken rule,
// so the partner can find the cell, read why, fix it and upload again.
var ReportHeader = []string{"row", "column", "rule", "value", "message"}

// ReportWriter writes the error report as CSV.
type ReportWriter struct {
	w     *csv.Writer
	lines int
}

// NewReportWriter writes the header to w.
func NewReportWriter(w io.Writer) (*ReportWriter, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(ReportHeader); err != nil {
		return nil, fmt.Errorf("notify: report: %w", err)
	}
	return &ReportWriter{w: cw}, nil
}

// Write adds one line per violation of a rejected row.
func (r *ReportWriter) Write(rej schemas.Rejected) error {
	for _, v := range rej.Violations {
		line := []string{strconv.Itoa(rej.N), Escape(v.Column), v.Code, Escape(v.Value), Escape(v.Message)}
		if err := r.w.Write(line); err != nil {
			return fmt.Errorf("notify: report: %w", err)
		}
		r.lines++
	}
	return nil
}

// Lines is how many violation lines were written.
func (r *ReportWriter) Lines() int { return r.lines }

// Close flushes the report.
func (r *ReportWriter) Close() error {
	r.w.Flush()
	if err := r.w.Error(); err != nil {
		return fmt.Errorf("notify: report: %w", err)
	}
	return nil
}

// Escape keeps a spreadsheet from running a cell as a formula: a cell that
// starts with =, +, -, @, a tab or a carriage return is prefixed with a
// single quote (OWASP's advice for CSV injection).
func Escape(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
