package ingest

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/sluicehq/sluice/schemas"
)

// MaxXLSXBytes bounds a workbook: a zip cannot be read as a stream, so it is
// read whole. Partners' workbooks are far smaller (5000 rows by default).
const MaxXLSXBytes = 64 << 20

// Decompression limits, against zip bombs (excelize's defaults are 16 GiB).
const (
	unzipSizeLimit    = 512 << 20
	unzipXMLSizeLimit = 64 << 20
)

// xlsxRecords reads the first sheet of a workbook as a stream of rows.
type xlsxRecords struct {
	rows *excelize.Rows
	n    int
}

// openXLSX reads a workbook, rejecting one with a VBA project (macros).
func openXLSX(r io.Reader) (*xlsxRecords, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxXLSXBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ingest: read: %w", err)
	}
	if len(data) > MaxXLSXBytes {
		return nil, fileError(schemas.CodeTooLarge, schemas.MsgTooLarge(MaxXLSXBytes))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
	}
	for _, f := range zr.File {
		if strings.HasSuffix(strings.ToLower(f.Name), "vbaproject.bin") {
			return nil, fileError(schemas.CodeMacros, schemas.MsgMacros)
		}
	}
	wb, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: unzipSizeLimit, UnzipXMLSizeLimit: unzipXMLSizeLimit,
	})
	if err != nil {
		return nil, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
	}
	sheets := wb.GetSheetList()
	if len(sheets) == 0 {
		return nil, fileError(schemas.CodeEmptyFile, schemas.MsgEmptyFile)
	}
	rows, err := wb.Rows(sheets[0])
	if err != nil {
		return nil, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
	}
	return &xlsxRecords{rows: rows}, nil
}

func (x *xlsxRecords) next() ([]string, int, *schemas.Violation, error) {
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			return nil, 0, nil, fmt.Errorf("ingest: read workbook: %w", err)
		}
		return nil, 0, nil, io.EOF
	}
	x.n++ // Next yields the empty rows between rows too
	rec, err := x.rows.Columns()
	if err != nil {
		return nil, x.n, &schemas.Violation{Code: schemas.CodeMalformed, Message: schemas.MsgUnreadableRow(err.Error())}, nil
	}
	return rec, x.n, nil, nil
}

func (x *xlsxRecords) linesLeft() (int, error) {
	n := 0
	for {
		_, _, _, err := x.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
}
