package ingest

import (
	"archive/zip"
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/sluicehq/sluice/schemas"
)

// workbook builds an .xlsx whose first sheet holds rows (nil: an empty row).
func workbook(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		if r == nil {
			continue
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	// A second sheet is not read.
	if _, err := f.NewSheet("Notes"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellValue("Notes", "A1", "not data"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withFile returns the zip data with one more file in it.
func withFile(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Attribute VB_Name = \"Module1\""))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestXLSX(t *testing.T) {
	data := workbook(t, [][]any{
		{"First Name", "email", "active"},
		{"Ann", "ann@acme.example", "True"},
		nil,
		{"Bo", "bo@acme.example", 1},
		{"", "", ""},
		{"Cy", "cy@acme.example", "false", "", "extra"},
	})
	rr, err := NewRowReader(bytes.NewReader(data), "people.xlsx", schemas.Clients, schemas.ModeCreate, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if f := rr.Format(); f.Format != formatXLSX {
		t.Errorf("format: got %+v, want xlsx", f)
	}
	type got struct {
		N                 int
		First, Email, Act string
		Problem           string
	}
	all, err := rest(rr)
	if err != nil {
		t.Fatal(err)
	}
	var rows []got
	for _, row := range all {
		g := got{N: row.N, First: row.Cells[1], Email: row.Cells[3], Act: row.Cells[6]}
		if row.Problem != nil {
			g.Problem = row.Problem.Code
		}
		rows = append(rows, g)
	}
	want := []got{
		{N: 2, First: "Ann", Email: "ann@acme.example", Act: "True"},
		{N: 4, First: "Bo", Email: "bo@acme.example", Act: "1"},
		{N: 6, First: "Cy", Email: "cy@acme.example", Act: "false", Problem: schemas.CodeColumnCount},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", rows, want)
	}
}

func TestXLSXRejected(t *testing.T) {
	good := workbook(t, [][]any{{"firstName", "email"}, {"Ann", "ann@acme.example"}})
	tests := []struct {
		name, file string
		data       []byte
		code       string
	}{
		{"macros in a workbook", "people.xlsx", withFile(t, good, "xl/vbaProject.bin"), schemas.CodeMacros},
		{"a macro-enabled name", "people.xlsm", good, schemas.CodeMacros},
		{"a workbook named .csv", "people.csv", good, schemas.CodeWrongFormat},
		{"a broken zip named .xlsx", "people.xlsx", good[:200], schemas.CodeWrongFormat},
		{"an unknown column", "people.xlsx", workbook(t, [][]any{{"firstName", "email", "shoe size"}}), schemas.CodeUnknownColumn},
		{"an empty sheet", "people.xlsx", workbook(t, nil), schemas.CodeEmptyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRowReader(bytes.NewReader(tt.data), tt.file, schemas.Clients, schemas.ModeCreate, 1<<20)
			var fe *FileError
			if !errors.As(err, &fe) || fe.V.Code != tt.code {
				t.Errorf("got %v, want a file rejected with %s", err, tt.code)
			}
		})
	}
}

// TestHeaderLabels: a header written in labels (the seeds' words, Russian)
// is decoded first and then matched, the same in every encoding and in a
// workbook; in update mode it may leave required columns out.
func TestHeaderLabels(t *testing.T) {
	header := []string{"Логин", "Телефон", "Фамилия", "Пользователь является руководителем", "must change password"}
	row := []string{"anna.k", "+7 916 123-45-67", "Ковальская", "1", "0"}
	text := strings.Join(header, ";") + "\r\n" + strings.Join(row, ";") + "\r\n"
	encode := func(e encoding.Encoding) []byte {
		b, err := e.NewEncoder().Bytes([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	files := []struct {
		name string
		data []byte
	}{
		{"users-cp1251.csv", encode(charmap.Windows1251)},
		{"users-utf16.txt", encode(unicode.UTF16(unicode.LittleEndian, unicode.UseBOM))},
		{"users.xlsx", workbook(t, [][]any{{header[0], header[1], header[2], header[3], header[4]}, {row[0], row[1], row[2], row[3], row[4]}})},
	}
	wantLabels := []string{"Логин -> login", "Телефон -> phone", "Фамилия -> lastName",
		"Пользователь является руководителем -> manager", "must change password -> mustChangePassword"}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			if _, err := NewRowReader(bytes.NewReader(f.data), f.name, schemas.Users, schemas.ModeCreate, 1<<20); !isFileError(err, schemas.CodeMissingColumn) {
				t.Errorf("create mode: got %v, want %s", err, schemas.CodeMissingColumn)
			}
			rr, err := NewRowReader(bytes.NewReader(f.data), f.name, schemas.Users, schemas.ModeUpdate, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			if got := rr.Header().Labels; !slices.Equal(got, wantLabels) {
				t.Errorf("labels %q, want %q", got, wantLabels)
			}
			got, err := rest(rr)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(schemas.Users.Fields))
			for c, name := range []string{"login", "phone", "lastName", "manager", "mustChangePassword"} {
				want[schemas.Users.Index(name)] = row[c]
			}
			if len(got) != 1 || !slices.Equal(got[0].Cells, want) {
				t.Errorf("rows %+v, want one of %q", got, want)
			}
		})
	}
}

func isFileError(err error, code string) bool {
	var fe *FileError
	return errors.As(err, &fe) && fe.V.Code == code
}
