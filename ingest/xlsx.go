package ingest

import (
	"archive/zip"
	"bytes"
	"context"
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
// They are checked on the sizes the zip's directory declares, before
// anything is unpacked: archive/zip refuses to unpack more than an entry
// declares, so the declaration cannot lie. A workbook of 5000 rows unpacks to
// a few MiB.
const (
	// maxUnpacked bounds the whole workbook unpacked, worksheets included
	// (a worksheet over unzipXMLSizeLimit is unpacked to a temporary file
	// and read as a stream).
	maxUnpacked = 64 << 20
	// maxUnpackedPart bounds each other part (shared strings, styles),
	// which excelize decodes whole, in memory.
	maxUnpackedPart = 8 << 20
	// unzipXMLSizeLimit is the size above which excelize unpacks a
	// worksheet or the shared strings to a temporary file, not to memory.
	unzipXMLSizeLimit = 4 << 20
)

// lastRow is the last row a spreadsheet has (Excel's, and LibreOffice's):
// a sheet numbering a row past it is damaged or made up. It bounds the
// empty rows excelize yields between two numbered rows, which it yields one
// by one.
const lastRow = 1 << 20

// xlsxRecords reads the first sheet of a workbook as a stream of rows.
type xlsxRecords struct {
	wb      *excelize.File
	rows    *excelize.Rows
	n       int
	maxLine int // the bytes of one row's cells
}

// openXLSX reads a workbook, rejecting one with a VBA project (macros), or
// one that would unpack to more than maxUnpacked. maxLine bounds one row's
// cells, as it bounds a line of a text file.
func openXLSX(r io.Reader, maxLine int) (*xlsxRecords, error) {
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
	if err := checkZip(zr); err != nil {
		return nil, err
	}
	wb, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: maxUnpacked, UnzipXMLSizeLimit: unzipXMLSizeLimit,
	})
	if err != nil {
		return nil, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
	}
	sheets := wb.GetSheetList()
	if len(sheets) == 0 {
		_ = wb.Close()
		return nil, fileError(schemas.CodeEmptyFile, schemas.MsgEmptyFile)
	}
	rows, err := wb.Rows(sheets[0])
	if err != nil {
		_ = wb.Close()
		return nil, fileError(schemas.CodeWrongFormat, schemas.MsgNotWhatItsNameSays)
	}
	return &xlsxRecords{wb: wb, rows: rows, maxLine: maxLine}, nil
}

// checkZip rejects a workbook with a VBA project, or one that declares more
// bytes unpacked than sluice unpacks.
func checkZip(zr *zip.Reader) error {
	var total uint64
	for _, f := range zr.File {
		name := strings.ToLower(f.Name)
		if strings.HasSuffix(name, "vbaproject.bin") {
			return fileError(schemas.CodeMacros, schemas.MsgMacros)
		}
		// The message names the limit broken: one part alone is enough
		// to make the file expand past it.
		if !strings.HasPrefix(name, "xl/worksheets/") && f.UncompressedSize64 > maxUnpackedPart {
			return fileError(schemas.CodeUnpacked, schemas.MsgUnpacked(maxUnpackedPart))
		}
		if total += f.UncompressedSize64; total > maxUnpacked {
			return fileError(schemas.CodeUnpacked, schemas.MsgUnpacked(maxUnpacked))
		}
	}
	return nil
}

func (x *xlsxRecords) next() ([]string, int, *schemas.Violation, error) {
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			return nil, 0, nil, fmt.Errorf("ingest: read workbook: %w", err)
		}
		return nil, 0, nil, io.EOF
	}
	x.n++ // Next yields the empty rows between rows too
	if x.n > lastRow {
		return nil, 0, nil, fileError(schemas.CodeRowNumber, schemas.MsgRowNumber(lastRow))
	}
	rec, err := x.rows.Columns()
	if err != nil {
		return nil, x.n, &schemas.Violation{Code: schemas.CodeMalformed, Message: schemas.MsgUnreadableRow(err.Error())}, nil
	}
	size := 0
	for _, c := range rec {
		size += len(c)
	}
	if size > x.maxLine {
		return nil, 0, nil, fileError(schemas.CodeLineTooLong, schemas.MsgLineTooLong(x.maxLine))
	}
	return rec, x.n, nil, nil
}

// linesLeft counts the rows left, with the reader that reads them: a
// workbook's rows are what they are, so the count is sure.
func (x *xlsxRecords) linesLeft(ctx context.Context) (int, bool, error) {
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		_, _, _, err := x.next()
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			return 0, false, err
		}
		n++
	}
}

func (x *xlsxRecords) Close() error {
	return errors.Join(x.rows.Close(), x.wb.Close())
}
