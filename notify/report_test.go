package notify_test

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

func TestEscape(t *testing.T) {
	cases := []struct {
		name string
		cell string
		want string
	}{
		{name: "formula", cell: "=1+1", want: "'=1+1"},
		{name: "hyperlink formula", cell: `=HYPERLINK("http://evil.example","x")`, want: `'=HYPERLINK("http://evil.example","x")`},
		{name: "plus", cell: "+1 555 0100", want: "'+1 555 0100"},
		{name: "minus", cell: "-2+3", want: "'-2+3"},
		{name: "at", cell: "@SUM(A1:A2)", want: "'@SUM(A1:A2)"},
		{name: "tab", cell: "\t=1", want: "'\t=1"},
		{name: "carriage return", cell: "\r=1", want: "'\r=1"},
		{name: "plain text", cell: "John", want: "John"},
		{name: "email", cell: "john@example.com", want: "john@example.com"},
		{name: "formula sign later", cell: "a=1", want: "a=1"},
		{name: "single quote already", cell: "'=1", want: "'=1"},
		{name: "non-ASCII", cell: "Жанна", want: "Жанна"},
		{name: "empty", cell: "", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.Escape(tc.cell); got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.cell, got, tc.want)
			}
		})
	}
}

func TestReportWriter(t *testing.T) {
	header := []string{"row", "column", "rule", "value", "message"}
	cases := []struct {
		name     string
		rejected []schemas.Rejected
		want     [][]string // the lines after the header
	}{
		{name: "no rejected rows"},
		{name: "one line per violation",
			rejected: []schemas.Rejected{
				{N: 3, Violations: []schemas.Violation{
					{Column: "firstName", Code: schemas.CodeRequired, Message: schemas.MsgRequired("firstName")},
					{Column: "email", Code: schemas.CodeFormat, Value: "john.doe", Message: schemas.MsgFormat},
				}},
				{N: 7, Violations: []schemas.Violation{
					{Column: "email", Code: schemas.CodeDuplicate, Value: "jane@example.com", Message: schemas.MsgDuplicate},
				}},
			},
			want: [][]string{
				{"3", "firstName", "required", "", "the value of the field firstName cannot be empty"},
				{"3", "email", "format", "john.doe", "the entered value does not match the format"},
				{"7", "email", "duplicate", "jane@example.com", schemas.MsgDuplicate},
			}},
		{name: "formulas escaped, quotes and delimiters survive",
			rejected: []schemas.Rejected{{N: 4, Violations: []schemas.Violation{
				{Column: "lastName", Code: schemas.CodeTooLong, Value: `=HYPERLINK("http://evil.example","a,b")`, Message: schemas.MsgTooLong("lastName", 50)},
				{Column: "type", Code: schemas.CodeFormat, Value: "@cmd", Message: schemas.MsgFormat},
				{Column: "desk", Code: schemas.CodeFormat, Value: "line\nbreak", Message: schemas.MsgFormat},
			}}},
			want: [][]string{
				{"4", "lastName", "too_long", `'=HYPERLINK("http://evil.example","a,b")`, "the field lastName can contain no more than 50 characters"},
				{"4", "type", "format", "'@cmd", schemas.MsgFormat},
				{"4", "desk", "format", "line\nbreak", schemas.MsgFormat},
			}},
		{name: "malformed row has no column",
			rejected: []schemas.Rejected{{N: 9, Violations: []schemas.Violation{
				{Code: schemas.CodeMalformed, Message: schemas.MsgMalformed(`bare " in non-quoted-field`)},
			}}},
			want: [][]string{{"9", "", "malformed_row", "", `the row is not valid CSV (bare " in non-quoted-field); check its quotes`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := notify.NewReportWriter(&buf)
			if err != nil {
				t.Fatalf("NewReportWriter: %v", err)
			}
			for _, r := range tc.rejected {
				if err := w.Write(r); err != nil {
					t.Fatalf("Write(%+v): %v", r, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if w.Lines() != len(tc.want) {
				t.Errorf("Lines() = %d, want %d", w.Lines(), len(tc.want))
			}
			got, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("report is not CSV: %v\n%s", err, buf.String())
			}
			if len(got) == 0 || !reflect.DeepEqual(got[0], header) {
				t.Fatalf("report header = %q, want %q", got, header)
			}
			if lines := got[1:]; !reflect.DeepEqual(lines, append([][]string{}, tc.want...)) {
				t.Errorf("report lines =\n %q\nwant\n %q", lines, tc.want)
			}
		})
	}
}

func TestHeaderSafe(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "clients.csv: completed", want: "clients.csv: completed"},
		{name: "CRLF header injection", in: "clients.csv\r\nBcc: all@example.com", want: "clients.csvBcc: all@example.com"},
		{name: "bare LF", in: "a\nb", want: "ab"},
		{name: "bare CR", in: "a\rb", want: "ab"},
		{name: "tab and NUL", in: "a\tb\x00c", want: "abc"},
		{name: "escape and DEL", in: "a\x1b[31mb\x7f", want: "a[31mb"},
		// NEL is a line break in Unicode: "every other control character".
		{name: "C1 next line", in: "a\u0085b", want: "ab"},
		{name: "non-ASCII kept", in: "клиенты июнь.csv", want: "клиенты июнь.csv"},
		{name: "empty", in: "", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.HeaderSafe(tc.in); got != tc.want {
				t.Errorf("HeaderSafe(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRecipient(t *testing.T) {
	tenants := platform.Tenants{
		"acme": {Contact: "ops@acme.example", MaxRows: 5000},
		"beta": {MaxRows: 5000},
	}
	cases := []struct {
		name     string
		tenant   string
		uploader string
		want     string
	}{
		{name: "uploader is an email", tenant: "acme", uploader: "jane@acme.example", want: "jane@acme.example"},
		{name: "no uploader: tenant contact", tenant: "acme", want: "ops@acme.example"},
		{name: "uploader not an email: tenant contact", tenant: "acme", uploader: "jane", want: "ops@acme.example"},
		{name: "uploader with an injected header: tenant contact", tenant: "acme",
			uploader: "jane@acme.exampleBcc: all@acme.example", want: "ops@acme.example"},
		{name: "uploader of a tenant with no contact", tenant: "beta", uploader: "bob@beta.example", want: "bob@beta.example"},
		{name: "nobody", tenant: "beta", want: ""},
		{name: "unknown tenant", tenant: "gamma", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := schemas.Import{ID: "imp-1", Tenant: tc.tenant, Dataset: "clients", Uploader: tc.uploader}
			if got := notify.Recipient(imp, tenants); got != tc.want {
				t.Errorf("Recipient(tenant %q, uploader %q) = %q, want %q", tc.tenant, tc.uploader, got, tc.want)
			}
		})
	}
}
