package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/nats-io/nats.go"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// wantRejected is, for each rejected row of testdata/clients/every-bad-row.csv,
// the rules it breaks as column:code.
var wantRejected = map[int][]string{
	3:  {"firstName:required"},
	4:  {"firstName:too_long"},
	6:  {"lastName:too_long"},
	7:  {"email:required"},
	8:  {"email:format"},
	9:  {"email:too_long"},
	10: {"email:duplicate"},
	11: {"ID:format"},
	12: {"project:format"},
	13: {"desk:format"},
	14: {"active:format"},
	15: {"type:format"},
	16: {"created:format"},
	17: {":malformed_row"},
	18: {":column_count"},
	19: {"email:" + schemas.CodeExecutable}, // =1+2: a formula (seed 004)
}

// wantLoaded are the file's valid rows as ClickHouse must hold them.
var wantLoaded = map[int]client{
	2:  {Email: "anna.berg@acme.example", FirstName: "Anna", LastName: "Berg", Active: 1, Type: "Personal", Created: "2024-01-02 00:00:00"},
	5:  {Email: "ben.cole@acme.example", FirstName: "Ben", LastName: "Cole", Active: 1, Type: "Personal"},
	20: {Email: "cleo.fox@acme.example", FirstName: "Cleo", LastName: "Fox", Project: "666c2c2f32735479fd3e9a5c", Desk: "67a346ad8092c651c919337e", Active: 0, Type: "Corporate", Created: "2024-03-04 03:06:07"},
	22: {Email: "gus@acme.example", FirstName: "Gus", LastName: "Hale", Active: 1, Type: "Personal"},
}

type client struct {
	Email, FirstName, LastName, ID, Project, Desk, Type, Created string
	Active                                                       uint8
	Row                                                          uint32
}

// TestEveryKindOfBadRow follows a file with a row for every rule through the
// pipeline: every row ends loaded or rejected with its reason, exactly once,
// in ClickHouse, in the dead-letter stream and in the uploader's report.
func TestEveryKindOfBadRow(t *testing.T) {
	t.Parallel()
	const key = "acme/clients/every-bad-row.csv"
	i := upload(t, key, readFile(t, "testdata/clients/every-bad-row.csv"), "ops@acme.example")

	want := schemas.Counts{Rows: 20, Created: 4, Rejected: 16}
	if i.Status != schemas.StatusCompletedWithErrors || i.Counts != want {
		t.Fatalf("import: got %s %+v, want %s %+v", i.Status, i.Counts, schemas.StatusCompletedWithErrors, want)
	}
	if i.Format != "csv" || i.Delimiter != "," || i.Chunks != (20+chunkRows-1)/chunkRows {
		t.Errorf("import file: got format %q delimiter %q chunks %d", i.Format, i.Delimiter, i.Chunks)
	}

	t.Run("audit has every row exactly once", func(t *testing.T) {
		seen := map[uint32]int{}
		query(t, "SELECT row FROM sluice.import_rows WHERE import_id = ?", func(r driver.Rows) error {
			var n uint32
			err := r.Scan(&n)
			seen[n]++
			return err
		}, i.ID)
		if len(seen) != 20 {
			t.Errorf("audited rows: got %d, want 20", len(seen))
		}
		for n, c := range seen {
			if c != 1 {
				t.Errorf("row %d audited %d times", n, c)
			}
		}
		query(t, `SELECT r.row, toString(r.outcome), j.columns, j.codes, j.messages FROM sluice.import_rows AS r FINAL
			LEFT JOIN (SELECT row, columns, codes, messages FROM sluice.import_rejections FINAL WHERE import_id = ?) AS j USING row
			WHERE r.import_id = ?`, func(r driver.Rows) error {
			var n uint32
			var outcome string
			var cols, codes, msgs []string
			if err := r.Scan(&n, &outcome, &cols, &codes, &msgs); err != nil {
				return err
			}
			rules, rejected := wantRejected[int(n)]
			_, loaded := wantLoaded[int(n)]
			switch {
			case rejected:
				if outcome != "rejected" || !slices.Equal(pairs(cols, codes), rules) {
					t.Errorf("row %d: got %s %v, want rejected %v", n, outcome, pairs(cols, codes), rules)
				}
				for _, m := range msgs {
					if m == "" {
						t.Errorf("row %d: rejected without a message", n)
					}
				}
			case loaded:
				if outcome != "created" {
					t.Errorf("row %d: got %s, want created", n, outcome)
				}
				if len(cols) != 0 {
					t.Errorf("row %d: created with reasons %v", n, cols)
				}
			default:
				t.Errorf("row %d audited but is not in the file", n)
			}
			return nil
		}, i.ID, i.ID)
	})

	t.Run("valid rows loaded with their canonical values", func(t *testing.T) {
		got := map[int]client{}
		query(t, `SELECT email, first_name, last_name, id, project, desk, type, toString(created), active, row
			FROM sluice.clients FINAL WHERE tenant = 'acme' AND import_id = ?`, func(r driver.Rows) error {
			var c client
			err := r.Scan(&c.Email, &c.FirstName, &c.LastName, &c.ID, &c.Project, &c.Desk, &c.Type, &c.Created, &c.Active, &c.Row)
			got[int(c.Row)] = c
			return err
		}, i.ID)
		if len(got) != len(wantLoaded) {
			t.Fatalf("loaded rows: got %d, want %d", len(got), len(wantLoaded))
		}
		for n, w := range wantLoaded {
			g := got[n]
			if w.Created == "" { // defaults to the upload time
				if ts, err := time.Parse(schemas.DateTimeLayout, g.Created); err != nil || time.Since(ts) > time.Hour {
					t.Errorf("row %d: created default %q is not the upload time", n, g.Created)
				}
				w.Created = g.Created
			}
			if w.ID == "" { // derived from tenant and email
				w.ID = schemas.DerivedID("acme", w.Email)
			}
			w.Row = uint32(n)
			if g != w {
				t.Errorf("row %d:\n got %+v\nwant %+v", n, g, w)
			}
		}
	})

	t.Run("dead-letter stream has each rejected row with its reasons", func(t *testing.T) {
		got := map[int][]string{}
		for _, d := range dlqRows(t, "acme", "clients", i.ID) {
			for _, r := range d.Rejected {
				var rules []string
				for _, v := range r.Violations {
					rules = append(rules, v.Column+":"+v.Code)
					if v.Message == "" {
						t.Errorf("row %d: no message in the DLQ", r.N)
					}
				}
				got[r.N] = rules
			}
		}
		if len(got) != len(wantRejected) {
			t.Errorf("DLQ rows: got %d, want %d", len(got), len(wantRejected))
		}
		for n, w := range wantRejected {
			if !slices.Equal(got[n], w) {
				t.Errorf("DLQ row %d: got %v, want %v", n, got[n], w)
			}
		}
	})

	t.Run("one email to the uploader with the error report", func(t *testing.T) {
		msgs := mailsAbout(t, "ops@acme.example", "every-bad-row.csv")
		if len(msgs) != 1 {
			t.Fatalf("emails: got %d, want 1", len(msgs))
		}
		m := msgs[0]
		for _, w := range []string{"Rows:      20", "Created:   4", "Rejected:  16"} {
			if !strings.Contains(m.Text, w) {
				t.Errorf("email text lacks %q:\n%s", w, m.Text)
			}
		}
		report, ok := m.Attachments["errors-every-bad-row.csv"]
		if !ok {
			t.Fatalf("attachments: got %v, want errors-every-bad-row.csv", keys(m.Attachments))
		}
		lines, err := csv.NewReader(bytes.NewReader(report)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(lines[0], []string{"row", "column", "rule", "value", "message", "solution"}) {
			t.Errorf("report header: got %v", lines[0])
		}
		if len(lines)-1 != 16 { // one rule per rejected row in this file
			t.Errorf("report lines: got %d, want 16", len(lines)-1)
		}
		byRow := map[string][]string{}
		for _, l := range lines[1:] {
			byRow[l[0]] = l
		}
		if got := byRow["19"]; got[3] != "'=1+2" {
			t.Errorf("formula cell: got %q, want it escaped as '=1+2", got[3])
		}
		if got := byRow["7"]; got[4] != "the value of the field email cannot be empty" {
			t.Errorf("row 7 message: got %q", got[4])
		}
		if got := byRow["4"]; got[4] != "the field firstName can contain no more than 50 characters" {
			t.Errorf("row 4 message: got %q", got[4])
		}
		if got := byRow["8"]; got[4] != "the entered value does not match the format" || got[5] != schemas.Hint(schemas.CodeFormat) {
			t.Errorf("row 8 message and solution: got %q", got[4:])
		}
	})

	t.Run("metrics count the rows", func(t *testing.T) {
		resp, err := http.Get("http://" + stack.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, w := range []string{`sluice_validate_rows_total{outcome="rejected"}`, `sluice_load_rows_total{outcome="created"}`,
			`sluice_notify_imports_total{status="completed_with_errors"}`, "sluice_load_message_duration_seconds_bucket"} {
			if !bytes.Contains(body, []byte(w)) {
				t.Errorf("metrics lack %s", w)
			}
		}
	})
}

// TestReuploadAndCorrection re-uploads a file (nothing changes, nothing is
// duplicated), then the corrected file at the same key (the fixed rows load).
func TestReuploadAndCorrection(t *testing.T) {
	t.Parallel()
	const key = "acme/clients/new-clients.csv"
	original := readFile(t, "../examples/acme/clients/new-clients.csv")
	first := upload(t, key, original, "partner@acme.example")
	if want := (schemas.Counts{Rows: 8, Created: 4, Rejected: 4}); first.Counts != want {
		t.Fatalf("first upload: got %+v, want %+v", first.Counts, want)
	}
	stored := func() (final, raw uint64) {
		ctx := context.Background()
		q := "SELECT count() FROM sluice.clients %s WHERE tenant = 'acme' AND email IN ('john.doe@acme.example', 'emma.smith@acme.example', 'michael.brown@acme.example', 'olivia@acme.example', 'liam.wilson@acme.example', 'ava.taylor@acme.example', 'noah.jones@acme.example', 'sophia.garcia@acme.example')"
		if err := stack.ch.Conn.QueryRow(ctx, strings.Replace(q, "%s", "FINAL", 1)).Scan(&final); err != nil {
			t.Fatal(err)
		}
		if err := stack.ch.Conn.QueryRow(ctx, strings.Replace(q, "%s", "", 1)).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		return final, raw
	}
	finalBefore, rawBefore := stored()

	again := upload(t, key, original, "partner@acme.example")
	if again.ID == first.ID {
		t.Fatalf("a new PUT must be a new import")
	}
	if want := (schemas.Counts{Rows: 8, Unchanged: 4, Rejected: 4}); again.Counts != want {
		t.Errorf("same file again: got %+v, want %+v", again.Counts, want)
	}
	if f, r := stored(); f != finalBefore || r != rawBefore {
		t.Errorf("same file again: records %d (%d written), want %d (%d): nothing may change", f, r, finalBefore, rawBefore)
	}

	corrected := strings.NewReplacer(
		"liam.wilson@acme,", "liam.wilson@acme.example,",
		",Ava,Taylor,,", ",Ava,Taylor,ava.taylor@acme.example,",
		`"=HYPERLINK(""http://evil.example"")"`, "noah.jones@acme.example",
		"Sophia,Garcia,john.doe@acme.example,,,yes,Personal,2024-13-01", "Sophia,Garcia,sophia.garcia@acme.example,,,yes,Personal,2024-12-01",
		"Emma,Smith,", "Emma,Smith-Jones,",
	).Replace(string(original))
	corrected = strings.Replace(corrected, ",yes,", ",1,", 1)
	fixed := upload(t, key, []byte(corrected), "partner@acme.example")
	if want := (schemas.Counts{Rows: 8, Created: 4, Updated: 1, Unchanged: 3}); fixed.Counts != want || fixed.Status != schemas.StatusCompleted {
		t.Errorf("corrected file: got %s %+v, want completed %+v", fixed.Status, fixed.Counts, want)
	}
	var last string
	if err := stack.ch.Conn.QueryRow(context.Background(),
		"SELECT last_name FROM sluice.clients FINAL WHERE tenant = 'acme' AND email = 'emma.smith@acme.example'").Scan(&last); err != nil {
		t.Fatal(err)
	}
	if last != "Smith-Jones" {
		t.Errorf("updated record: got last name %q, want Smith-Jones", last)
	}
	if f, _ := stored(); f != 8 {
		t.Errorf("records after the correction: got %d, want 8", f)
	}
}

// TestWholeFileRejections uploads files that cannot be imported at all: each
// is rejected with its reason in the audit and in an email, and no row loads.
func TestWholeFileRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, body, uploader, mailTo, code string
	}{
		{"unknown column", "acme/clients/wrong-columns.csv", "firstName,lastName,contact e-mail\nZoe,Adams,zoe@acme.example\n",
			"partner@acme.example", "partner@acme.example", schemas.CodeUnknownColumn},
		{"missing required column", "acme/clients/no-email.csv", "firstName,lastName\nZoe,Adams\n",
			"", "imports@acme.example", schemas.CodeMissingColumn},
		{"too many rows", "tiny/clients/four.csv", "firstName,email\nw,w@tiny.example\nx,x@tiny.example\ny,y@tiny.example\nz,z@tiny.example\n",
			"", "admin@tiny.example", schemas.CodeTooManyRows},
		{"too large", "tiny/clients/big.csv", "firstName,email\n" + strings.Repeat("a,a@tiny.example\n", 20), "", "admin@tiny.example", schemas.CodeTooLarge},
		{"unknown dataset", "acme/invoices/march.csv", "a,b\n1,2\n", "partner@acme.example", "partner@acme.example", schemas.CodeUnknownDataset},
		{"not a text file", "acme/clients/sheet.xlsx", "PK\x03\x04 not really", "partner@acme.example", "partner@acme.example", schemas.CodeWrongFormat},
		{"zip named csv", "acme/clients/zip.csv", "PK\x03\x04\x00\x00", "partner@acme.example", "partner@acme.example", schemas.CodeWrongFormat},
		{"empty file", "acme/clients/empty.csv", "", "partner@acme.example", "partner@acme.example", schemas.CodeEmptyFile},
	}
	t.Run("files", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel() // MinIO sends bucket events every few seconds: wait for them together
				i := upload(t, tt.key, []byte(tt.body), tt.uploader)
				if i.Status != schemas.StatusRejected || i.ReasonCode != tt.code || i.Reason == "" {
					t.Fatalf("got %s %q %q, want rejected %q with a reason", i.Status, i.ReasonCode, i.Reason, tt.code)
				}
				var audited uint64
				if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM sluice.import_rows WHERE import_id = ?", i.ID).Scan(&audited); err != nil {
					t.Fatal(err)
				}
				if audited != 0 {
					t.Errorf("rows of a rejected file audited: %d", audited)
				}
				name := tt.key[strings.LastIndex(tt.key, "/")+1:]
				msgs := mailsAbout(t, tt.mailTo, name)
				if len(msgs) != 1 || !strings.Contains(msgs[0].Text, i.Reason) || !strings.Contains(msgs[0].Text, "was not imported") {
					t.Errorf("emails to %s about %s: got %d, want 1 giving the reason %q", tt.mailTo, name, len(msgs), i.Reason)
				}
			})
		}
	})
	var tiny uint64
	if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM sluice.clients WHERE tenant = 'tiny' AND email IN ('w@tiny.example', 'x@tiny.example', 'y@tiny.example', 'z@tiny.example')").Scan(&tiny); err != nil {
		t.Fatal(err)
	}
	if tiny != 0 {
		t.Errorf("rows of a file over the row limit loaded: %d", tiny)
	}
}

// TestDuplicateBucketEvent sends a bucket event again, as MinIO may: the
// object version is imported once.
func TestDuplicateBucketEvent(t *testing.T) {
	t.Parallel()
	const key = "globex/clients/contacts-semicolon.csv"
	i := upload(t, key, readFile(t, "../examples/globex/clients/contacts-semicolon.csv"), "")
	if want := (schemas.Counts{Rows: 3, Created: 3}); i.Counts != want || i.Delimiter != ";" {
		t.Fatalf("semicolon file: got %+v delimiter %q, want %+v ;", i.Counts, i.Delimiter, want)
	}
	sub, err := stack.js.SubscribeSync(schemas.SubjectS3Events, nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var event []byte
	for {
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			break
		}
		if bytes.Contains(m.Data, []byte("contacts-semicolon.csv")) {
			event = m.Data
		}
	}
	if event == nil {
		t.Fatal("no bucket event for the file in S3_EVENTS")
	}
	if _, err := stack.js.Publish(schemas.SubjectS3Events, event); err != nil {
		t.Fatal(err)
	}
	// A later upload's end proves the duplicate has been handled before it.
	upload(t, "globex/clients/after.csv", []byte("firstName,email\nZed,zed@globex.example\n"), "")
	time.Sleep(time.Second)
	if n := len(importsOf(t, key)); n != 1 {
		t.Errorf("imports of the object: got %d, want 1", n)
	}
	if n := len(mailsAbout(t, "data@globex.example", "contacts-semicolon.csv")); n != 1 {
		t.Errorf("emails: got %d, want 1", n)
	}
}

func pairs(cols, codes []string) []string {
	out := make([]string, len(cols))
	for i := range cols {
		out[i] = cols[i] + ":" + codes[i]
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// dlqRows reads the DLQ messages of an import.
func dlqRows(t *testing.T, tenant, dataset, importID string) []schemas.DLQRows {
	t.Helper()
	sub, err := stack.js.SubscribeSync(schemas.DLQRowsSubject(tenant, dataset), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var out []schemas.DLQRows
	for {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			return out
		}
		var d schemas.DLQRows
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Import.ID == importID {
			out = append(out, d)
		}
	}
}

// mailsAbout returns the emails to an address whose subject names a file,
// once there is one (notify saves an import's status before it mails, so a
// test that saw the status may be early), or after 20 s with none.
func mailsAbout(t *testing.T, to, file string) []testkit.Message {
	t.Helper()
	var out []testkit.Message
	_ = parts.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		out = nil
		for _, m := range testkit.Messages(t, stack.mail, to) {
			if strings.Contains(m.Subject, file) && slices.Contains(m.To, to) {
				out = append(out, m)
			}
		}
		return len(out) > 0, nil
	})
	return out
}

// TestRowLimitCountsRecords: the row limit counts records, not lines: blank
// lines and quoted line breaks do not take a tenant over it.
func TestRowLimitCountsRecords(t *testing.T) {
	t.Parallel()
	body := "firstName,lastName,email\n\na,\"two\nlines\",a@tiny.example\n\n,,\nb,,b@tiny.example\nc,,c@tiny.example\n\n"
	i := upload(t, "tiny/clients/three.csv", []byte(body), "")
	if want := (schemas.Counts{Rows: 3, Created: 3}); i.Status != schemas.StatusCompleted || i.Counts != want {
		t.Errorf("got %s %+v, want completed %+v", i.Status, i.Counts, want)
	}
}

// TestEncodedFiles: files saved in Windows code pages or UTF-16 load with
// their names intact, and the encoding is in the import's audit.
func TestEncodedFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, text, encoding string
		enc                 encoding.Encoding
	}{
		{"globex/clients/cp1251.csv", "firstName;lastName;email\r\nИван;Петров;ivan.petrov@globex.example\r\n", "windows-1251", charmap.Windows1251},
		{"globex/clients/cp1252.csv", "firstName;lastName;email\r\nJosé;Müller;jose.mueller@globex.example\r\n", "windows-1252", charmap.Windows1252},
		{"globex/clients/utf16.txt", "firstName\tlastName\temail\r\nЁлка\tGarçon\telka@globex.example\r\n", "utf-16le",
			unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)},
	}
	for _, tt := range tests {
		t.Run(tt.encoding, func(t *testing.T) {
			t.Parallel()
			raw, err := tt.enc.NewEncoder().Bytes([]byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			i := upload(t, tt.key, raw, "")
			if i.Status != schemas.StatusCompleted || i.Counts.Created != 1 {
				t.Fatalf("got %s %+v, want completed with 1 created", i.Status, i.Counts)
			}
			var enc string
			if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT encoding FROM sluice.imports FINAL WHERE import_id = ?", i.ID).Scan(&enc); err != nil {
				t.Fatal(err)
			}
			if enc != tt.encoding {
				t.Errorf("encoding in the audit: got %q, want %q", enc, tt.encoding)
			}
			line := strings.Split(strings.TrimSpace(tt.text), "\r\n")[1]
			want := strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '\t' })
			var first, last string
			if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT first_name, last_name FROM sluice.clients FINAL WHERE tenant = 'globex' AND email = ?", want[2]).Scan(&first, &last); err != nil {
				t.Fatal(err)
			}
			if first != want[0] || last != want[1] {
				t.Errorf("names: got %q %q, want %q %q", first, last, want[0], want[1])
			}
		})
	}
}

// TestWorkbooks: an XLSX workbook loads from its first sheet; one with
// macros is rejected whole, with the reason in the audit and the email.
func TestWorkbooks(t *testing.T) {
	t.Parallel()
	book := excelize.NewFile()
	for i, r := range [][]any{{"First Name", "Last Name", "E-mail", "Active"}, {"Wanda", "Book", "wanda@acme.example", "TRUE"}, {"Xavier", "", "not-an-email", "1"}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := book.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := book.Write(&b); err != nil {
		t.Fatal(err)
	}
	i := upload(t, "acme/clients/book.xlsx", b.Bytes(), "books@acme.example")
	if want := (schemas.Counts{Rows: 2, Created: 1, Rejected: 1}); i.Status != schemas.StatusCompletedWithErrors || i.Counts != want || i.Format != "xlsx" {
		t.Errorf("workbook: got %s %+v format %q, want completed_with_errors %+v xlsx", i.Status, i.Counts, i.Format, want)
	}
	m := upload(t, "acme/clients/macros.xlsm", b.Bytes(), "books@acme.example")
	if m.Status != schemas.StatusRejected || m.ReasonCode != schemas.CodeMacros {
		t.Errorf("macro workbook: got %s %q, want rejected %q", m.Status, m.ReasonCode, schemas.CodeMacros)
	}
	if msgs := mailsAbout(t, "books@acme.example", "macros.xlsm"); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "no scripts, macros, or executable content") {
		t.Errorf("email about the macro workbook: got %d, want 1 saying no macros are allowed", len(msgs))
	}
}

// TestTemplatesImport: the templates `sluice template` writes import as they
// are: their example row passes every rule.
func TestTemplatesImport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"template", "-o", dir, "clients"}, {"template", "--xlsx", "-o", dir, "clients"}} {
		if out, err := exec.Command(stack.bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("sluice %v: %v\n%s", args, err, out)
		}
	}
	// The example row gives the seed's client ID, which acme's tests load
	// too: the templates go to tenants that do not have it.
	for key, file := range map[string]string{"globex/clients/template.csv": "clients.csv", "blank/clients/template.xlsx": "clients.xlsx"} {
		i := upload(t, key, readFile(t, filepath.Join(dir, file)), "")
		if want := (schemas.Counts{Rows: 1, Created: 1}); i.Status != schemas.StatusCompleted || i.Counts != want {
			t.Errorf("%s: got %s %+v, want completed %+v", file, i.Status, i.Counts, want)
		}
	}
	readme := string(readFile(t, filepath.Join(dir, "clients-README.txt")))
	for _, f := range schemas.Clients.Fields {
		if !strings.Contains(readme, f.Name+": "+f.Rule()) {
			t.Errorf("README lacks the rule of %s", f.Name)
		}
	}
}

// TestBucketSyncFindsMissedFiles: a file whose bucket event never came is
// imported by the bucket sync, once, and its uploader is told.
//
// Serial: it turns the bucket's notifications off for a while.
func TestBucketSyncFindsMissedFiles(t *testing.T) {
	const key = "globex/clients/no-event.csv"
	ctx := context.Background()
	bucket := aws.String(stack.s3cfg.Bucket)
	// No notification while the file is put: its event is lost.
	if _, err := stack.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: bucket, NotificationConfiguration: &types.NotificationConfiguration{}}); err != nil {
		t.Fatal(err)
	}
	_, err := stack.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key),
		Body: strings.NewReader("firstName,email\nNed,ned@globex.example\n"), Metadata: map[string]string{"uploader": "ned@globex.example"}})
	if rerr := parts.ConfigureBucket(ctx, stack.s3, stack.s3cfg.Bucket); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	var got imp
	err = parts.WaitFor(ctx, syncGrace+30*time.Second, func() (bool, error) {
		for _, i := range importsOf(t, key) {
			if schemas.FinalStatus(i.Status) {
				got = i
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the file was not imported: %v", err)
	}
	if want := (schemas.Counts{Rows: 1, Created: 1}); got.Status != schemas.StatusCompleted || got.Counts != want {
		t.Errorf("got %s %+v, want completed %+v", got.Status, got.Counts, want)
	}
	time.Sleep(3 * time.Second) // a sync or two more
	if n := len(importsOf(t, key)); n != 1 {
		t.Errorf("imports of the file: got %d, want 1", n)
	}
	if n := len(mailsAbout(t, "ned@globex.example", "no-event.csv")); n != 1 {
		t.Errorf("emails to the uploader: got %d, want 1", n)
	}
}

// TestModes: in update mode (the default) a row changes only the cells it
// fills; in create mode a row whose record exists is rejected, the others
// are created; an unknown mode rejects the file.
func TestModes(t *testing.T) {
	t.Parallel()
	first := upload(t, "acme/clients/mode-a.csv", []byte("firstName,lastName,email,active,type\nKim,Lee,kim@acme.example,False,Corporate\nLou,Ray,lou@acme.example,,\n"), "")
	if want := (schemas.Counts{Rows: 2, Created: 2}); first.Counts != want {
		t.Fatalf("first upload: got %+v, want %+v", first.Counts, want)
	}
	partial := uploadWith(t, "acme/clients/mode-update.csv", []byte("firstName,lastName,email,active,type\nKimberly,,kim@acme.example,,\n"),
		map[string]string{"mode": "update"})
	if want := (schemas.Counts{Rows: 1, Updated: 1}); partial.Counts != want {
		t.Errorf("partial update: got %+v, want %+v", partial.Counts, want)
	}
	var firstName, lastName, typ string
	var active uint8
	if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT first_name, last_name, active, type FROM sluice.clients FINAL WHERE tenant = 'acme' AND email = 'kim@acme.example'").
		Scan(&firstName, &lastName, &active, &typ); err != nil {
		t.Fatal(err)
	}
	if firstName != "Kimberly" || lastName != "Lee" || active != 0 || typ != "Corporate" {
		t.Errorf("after a partial update: got %s %s active=%d %s, want Kimberly Lee active=0 Corporate (empty cells keep their values)", firstName, lastName, active, typ)
	}

	created := uploadWith(t, "acme/clients/mode-create.csv", []byte("firstName,email\nKim,kim@acme.example\nMax,max@acme.example\n"),
		map[string]string{"mode": "create", "uploader": "modes@acme.example"})
	if want := (schemas.Counts{Rows: 2, Created: 1, Rejected: 1}); created.Counts != want || created.Status != schemas.StatusCompletedWithErrors {
		t.Errorf("create mode: got %s %+v, want completed_with_errors %+v", created.Status, created.Counts, want)
	}
	var rules []string
	for _, d := range dlqRows(t, "acme", "clients", created.ID) {
		for _, r := range d.Rejected {
			for _, v := range r.Violations {
				rules = append(rules, fmt.Sprintf("%d:%s:%s", r.N, v.Column, v.Code))
			}
		}
	}
	if want := []string{"2:email:" + schemas.CodeExists}; !slices.Equal(rules, want) {
		t.Errorf("DLQ of the create-mode import: got %v, want %v", rules, want)
	}
	msgs := mailsAbout(t, "modes@acme.example", "mode-create.csv")
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Attachments["errors-mode-create.csv"], []byte(schemas.MsgDuplicate)) {
		t.Errorf("create-mode email: got %d, want 1 whose report gives the seed's reason", len(msgs))
	}

	bad := uploadWith(t, "acme/clients/mode-bad.csv", []byte("firstName,email\nNia,nia@acme.example\n"), map[string]string{"mode": "replace"})
	if bad.Status != schemas.StatusRejected || bad.ReasonCode != schemas.CodeBadMode {
		t.Errorf("unknown mode: got %s %q, want rejected %q", bad.Status, bad.ReasonCode, schemas.CodeBadMode)
	}
}
