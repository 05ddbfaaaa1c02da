package ingest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// want is a row as a test expects it: its number, its non-empty cells by
// field name, and the code of its problem, if any.
type want struct {
	n       int
	cells   map[string]string
	problem string
}

// row returns the cells in field order.
func (w want) row(t *testing.T) []string {
	t.Helper()
	cells := make([]string, len(schemas.Clients.Fields))
	for name, v := range w.cells {
		i := schemas.Clients.Index(name)
		if i < 0 {
			t.Fatalf("no field %q", name)
		}
		cells[i] = v
	}
	return cells
}

// readAll reads every row of a file, or returns the first error of
// NewRowReader or Next.
func readAll(r io.Reader, name string, maxLine int) ([]schemas.Row, error) {
	rr, err := NewRowReader(r, name, schemas.Clients, schemas.ModeCreate, maxLine)
	if err != nil {
		return nil, err
	}
	return rest(rr)
}

// rest reads the rows a reader has left.
func rest(rr *RowReader) ([]schemas.Row, error) {
	var rows []schemas.Row
	for {
		row, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

func TestRowReader(t *testing.T) {
	john := map[string]string{"firstName": "John", "email": "john@example.com"}
	jane := map[string]string{"firstName": "Jane", "email": "jane@example.com"}
	cases := []struct {
		name  string
		file  string // default clients.csv
		input string
		rows  []want
		err   string // code of the *FileError
		msg   string // its message, when checked
	}{
		{name: "comma", input: "firstName,email\nJohn,john@example.com\n",
			rows: []want{{n: 2, cells: john}}},
		{name: "semicolon, comma inside a cell", input: "firstName;lastName;email\nJohn;Doe, Jr;john@example.com\n",
			rows: []want{{n: 2, cells: map[string]string{"firstName": "John", "lastName": "Doe, Jr", "email": "john@example.com"}}}},
		{name: "tab", input: "firstName\temail\nJohn\tjohn@example.com\n",
			rows: []want{{n: 2, cells: john}}},
		{name: "pipe", input: "firstName|email\nJohn|john@example.com\n",
			rows: []want{{n: 2, cells: john}}},
		{name: "UTF-8 byte order mark", input: "\ufefffirstName,email\nJohn,john@example.com\n",
			rows: []want{{n: 2, cells: john}}},
		{name: "byte order mark before a quoted header", input: "\ufeff\"firstName\";\"email\"\nJohn;john@example.com\n",
			rows: []want{{n: 2, cells: john}}},
		{name: "CRLF line ends", input: "firstName,email\r\nJohn,john@example.com\r\nJane,jane@example.com\r\n",
			rows: []want{{n: 2, cells: john}, {n: 3, cells: jane}}},
		{name: "no final line end", input: "firstName,email\nJohn,john@example.com",
			rows: []want{{n: 2, cells: john}}},
		{name: "header only", input: "firstName,email\n"},
		{name: "columns in another order and spelling", input: "E-mail,Last Name,First Name\njohn@example.com,Doe,John\n",
			rows: []want{{n: 2, cells: map[string]string{"firstName": "John", "lastName": "Doe", "email": "john@example.com"}}}},
		{name: "quoted newline and delimiter do not shift row numbers",
			input: "firstName,lastName,email\n\"Jo\r\nhn\",\"Doe, Jr\",john@example.com\nJane,,jane@example.com\n",
			rows: []want{
				{n: 2, cells: map[string]string{"firstName": "Jo\nhn", "lastName": "Doe, Jr", "email": "john@example.com"}},
				{n: 3, cells: jane},
			}},
		{name: "rows of empty cells skipped but counted", input: "firstName,email\nJohn,john@example.com\n,\n , \nJane,jane@example.com\n",
			rows: []want{{n: 2, cells: john}, {n: 5, cells: jane}}},
		// A spreadsheet shows a blank line as an empty row: Jane is on row 4.
		{name: "blank line skipped but counted", input: "firstName,email\nJohn,john@example.com\n\nJane,jane@example.com\n",
			rows: []want{{n: 2, cells: john}, {n: 4, cells: jane}}},
		{name: "trailing empty cells", input: "firstName,email,,\nJohn,john@example.com,,\n",
			rows: []want{{n: 2, cells: john}}},
		{name: "bare quote is a malformed row, the rest is read",
			input: "firstName,email,lastName\nJohn,john@example.com,Doe\na,b\"c,d\nJane,jane@example.com\n",
			rows: []want{
				{n: 2, cells: map[string]string{"firstName": "John", "email": "john@example.com", "lastName": "Doe"}},
				{n: 3, problem: schemas.CodeMalformed},
				{n: 4, cells: jane},
			}},
		{name: "more cells than columns", input: "firstName,email\nJohn,john@example.com,extra\nJane,jane@example.com\n",
			rows: []want{{n: 2, cells: john, problem: schemas.CodeColumnCount}, {n: 3, cells: jane}}},

		{name: "empty file", input: "", err: schemas.CodeEmptyFile, msg: schemas.MsgEmptyFile},
		{name: "byte order mark only", input: "\ufeff", err: schemas.CodeEmptyFile},
		{name: "blank lines only", input: "\n\r\n\n", err: schemas.CodeEmptyFile},
		{name: "text named .xlsx", file: "clients.xlsx", input: "firstName,email\n", err: schemas.CodeWrongFormat, msg: schemas.MsgNotWhatItsNameSays},
		{name: "zip bytes under a csv name", input: "PK\x03\x04\x14\x00\x06\x00\x08\x00", err: schemas.CodeWrongFormat},
		{name: "NUL bytes", input: "firstName,email\nJo\x00hn,john@example.com\n", err: schemas.CodeWrongFormat},
		{name: "UTF-16 without a byte order mark", input: "f\x00i\x00r\x00s\x00t\x00", err: schemas.CodeWrongFormat},
		{name: "unknown header", input: "firstName,email,phone\nJohn,john@example.com,123\n", err: schemas.CodeUnknownColumn},
		{name: "missing required header", input: "firstName,lastName\nJohn,Doe\n", err: schemas.CodeMissingColumn},
		{name: "200 KiB line over a 1024-byte limit",
			input: "firstName,email\nJohn," + strings.Repeat("x", 200<<10) + "\nJane,jane@example.com\n",
			err:   schemas.CodeLineTooLong, msg: schemas.MsgLineTooLong(1024)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = "clients.csv"
			}
			rows, err := readAll(strings.NewReader(tc.input), file, 1024)
			if tc.err != "" {
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("error = %v, want a *FileError %s", err, tc.err)
				}
				if fe.V.Code != tc.err {
					t.Errorf("FileError code = %q (%s), want %q", fe.V.Code, fe.V.Message, tc.err)
				}
				if tc.msg != "" && fe.V.Message != tc.msg {
					t.Errorf("FileError message = %q, want %q", fe.V.Message, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v, want none", err)
			}
			if len(rows) != len(tc.rows) {
				t.Fatalf("got %d rows %+v, want %d", len(rows), rows, len(tc.rows))
			}
			for i, w := range tc.rows {
				got := rows[i]
				if got.N != w.n {
					t.Errorf("row %d: N = %d, want %d", i, got.N, w.n)
				}
				if !reflect.DeepEqual(got.Cells, w.row(t)) {
					t.Errorf("row %d: cells = %q, want %q", i, got.Cells, w.row(t))
				}
				code := ""
				if got.Problem != nil {
					code = got.Problem.Code
				}
				if code != w.problem {
					t.Errorf("row %d: problem = %+v, want code %q", i, got.Problem, w.problem)
				}
			}
		})
	}
}

// xs is an endless field of x: a file that never ends a line.
type xs struct{}

func (xs) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestRowReaderLineLimit checks that a line with no end stops the reading
// with little read (memory does not grow with it), and that many short lines
// do not add up to a long one.
func TestRowReaderLineLimit(t *testing.T) {
	const header = "firstName,email\n"
	cases := []struct {
		name     string
		body     io.Reader
		rows     int   // when the file is read through
		maxBytes int64 // the most bytes read when it is not
	}{
		{name: "many short rows", body: strings.NewReader(strings.Repeat("John,john@example.com\n", 20000)), rows: 20000},
		{name: "endless field", body: io.MultiReader(strings.NewReader("John,"), xs{}), maxBytes: 300 << 10},
		{name: "endless quoted field", body: io.MultiReader(strings.NewReader("John,\""), xs{}), maxBytes: 300 << 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &counter{r: io.MultiReader(strings.NewReader(header), tc.body)}
			rows, err := readAll(src, "clients.csv", 1024)
			if tc.maxBytes == 0 {
				if err != nil || len(rows) != tc.rows {
					t.Fatalf("read %d rows, error %v; want %d rows, no error", len(rows), err, tc.rows)
				}
				return
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.V.Code != schemas.CodeLineTooLong {
				t.Fatalf("error = %v, want a *FileError %s", err, schemas.CodeLineTooLong)
			}
			if int64(src.n) > tc.maxBytes {
				t.Errorf("read %d bytes before stopping, want at most %d", src.n, tc.maxBytes)
			}
			if len(rows) != 0 {
				t.Errorf("got rows %+v before the long line, want none", rows)
			}
		})
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		head  string
		delim string // "" when the file is rejected
	}{
		{name: "comma", file: "clients.csv", head: "firstName,email\nJohn,john@example.com\n", delim: ","},
		{name: "semicolon", file: "clients.csv", head: "firstName;email;lastName\nJohn;john@example.com;Doe, Jr\n", delim: ";"},
		{name: "tab in a txt file", file: "clients.txt", head: "firstName\temail\n", delim: "\t"},
		{name: "pipe", file: "clients.csv", head: "firstName|email\n", delim: "|"},
		{name: "upper-case extension", file: "CLIENTS.CSV", head: "firstName,email\n", delim: ","},
		{name: "delimiter inside quotes not counted", file: "clients.csv", head: "\"first;name;x\",email\n", delim: ","},
		{name: "only the first line counts", file: "clients.csv", head: "firstName;email\nDoe, John, Jr;j@x.com\n", delim: ";"},
		{name: "one column", file: "clients.csv", head: "email\n", delim: ","},
		{name: "tie prefers comma", file: "clients.csv", head: "a;b,c\n", delim: ","},
		{name: "xlsx", file: "clients.xlsx", head: "firstName,email\n"},
		{name: "xls", file: "clients.xls", head: "firstName,email\n"},
		{name: "no extension", file: "clients", head: "firstName,email\n"},
		{name: "zip magic under csv", file: "clients.csv", head: "PK\x03\x04\x14\x00\x06\x00"},
		{name: "NUL byte", file: "clients.csv", head: "firstName,email\x00\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectFormat(tc.file, []byte(tc.head))
			if tc.delim == "" {
				var fe *FileError
				if !errors.As(err, &fe) || fe.V.Code != schemas.CodeWrongFormat {
					t.Fatalf("DetectFormat(%q) = %+v, %v; want a *FileError %s", tc.file, got, err, schemas.CodeWrongFormat)
				}
				return
			}
			if err != nil {
				t.Fatalf("DetectFormat(%q) error = %v, want none", tc.file, err)
			}
			want := schemas.FileFormat{Format: "csv", Delimiter: tc.delim, Encoding: "utf-8"}
			if got != want {
				t.Errorf("DetectFormat(%q, %q) = %+v, want %+v", tc.file, tc.head, got, want)
			}
		})
	}
}

// minioEvent is a bucket notification as MinIO sends it to NATS; the key is
// URL-encoded, as MinIO encodes it.
func minioEvent(eventName, key, versionID, metadata string) []byte {
	version := ""
	if versionID != "" {
		version = fmt.Sprintf(`"versionId": %q,`, versionID)
	}
	return fmt.Appendf(nil, `{
  "EventName": %[1]q,
  "Key": "imports/acme/clients/my file.csv",
  "Records": [
    {
      "eventVersion": "2.0",
      "eventSource": "minio:s3",
      "awsRegion": "",
      "eventTime": "2024-06-13T15:06:03.123Z",
      "eventName": %[1]q,
      "userIdentity": {"principalId": "acme-uploader"},
      "requestParameters": {"principalId": "acme-uploader", "region": "", "sourceIPAddress": "172.18.0.1"},
      "responseElements": {
        "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
        "x-amz-request-id": "17D8A3B2C1E0F9A8",
        "x-minio-deployment-id": "0170a4cc-dca6-4e72-86f1-c0cc760dff7f",
        "x-minio-origin-endpoint": "http://172.18.0.2:9000"
      },
      "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "Config",
        "bucket": {"name": "imports", "ownerIdentity": {"principalId": "acme-uploader"}, "arn": "arn:aws:s3:::imports"},
        "object": {
          "key": %[2]q,
          "size": 2048,
          "eTag": "5fc7298143efe1276d39a3466d4e255f",
          "contentType": "text/csv",
          "userMetadata": {%[4]s},
          %[3]s
          "sequencer": "17D8A3B2C1E0F9A8"
        }
      },
      "source": {"host": "172.18.0.1", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70 mc/RELEASE.2024-06-12T14-34-03Z"}
    }
  ]
}`, eventName, key, version, metadata)
}

func TestParseEvent(t *testing.T) {
	const uploader = `"X-Amz-Meta-Uploader": "jane@acme.example", "content-type": "text/csv"`
	ref := func(version, uploader string) ObjectRef {
		return ObjectRef{
			Bucket: "imports", Key: "acme/clients/my file.csv", Version: version,
			ETag: "5fc7298143efe1276d39a3466d4e255f", Size: 2048, Uploader: uploader,
			Time: time.Date(2024, 6, 13, 15, 6, 3, 123e6, time.UTC), Principal: "acme-uploader",
		}
	}
	cases := []struct {
		name  string
		event []byte
		want  []ObjectRef
		err   bool
	}{
		{name: "put, unversioned bucket",
			event: minioEvent("s3:ObjectCreated:Put", "acme%2Fclients%2Fmy+file.csv", "", uploader),
			want:  []ObjectRef{ref("17D8A3B2C1E0F9A8", "jane@acme.example")}},
		{name: "put, versioned bucket",
			event: minioEvent("s3:ObjectCreated:Put", "acme%2Fclients%2Fmy+file.csv", "3c9e0b5d-7b0f-4d0a-9d0e-7a1f4a2b9c11", uploader),
			want:  []ObjectRef{ref("3c9e0b5d-7b0f-4d0a-9d0e-7a1f4a2b9c11", "jane@acme.example")}},
		{name: "version null falls back to the sequencer",
			event: minioEvent("s3:ObjectCreated:CompleteMultipartUpload", "acme%2Fclients%2Fmy+file.csv", "null", uploader),
			want:  []ObjectRef{ref("17D8A3B2C1E0F9A8", "jane@acme.example")}},
		{name: "metadata key in lower case",
			event: minioEvent("s3:ObjectCreated:Put", "acme%2Fclients%2Fmy+file.csv", "", `"x-amz-meta-uploader": " jane@acme.example "`),
			want:  []ObjectRef{ref("17D8A3B2C1E0F9A8", "jane@acme.example")}},
		{name: "CR and LF stripped from the uploader",
			event: minioEvent("s3:ObjectCreated:Put", "acme%2Fclients%2Fmy+file.csv", "", `"X-Amz-Meta-Uploader": "jane@acme.example\r\nBcc: all@acme.example"`),
			want:  []ObjectRef{ref("17D8A3B2C1E0F9A8", "jane@acme.exampleBcc: all@acme.example")}},
		{name: "no uploader",
			event: minioEvent("s3:ObjectCreated:Put", "acme%2Fclients%2Fmy+file.csv", "", `"content-type": "text/csv"`),
			want:  []ObjectRef{ref("17D8A3B2C1E0F9A8", "")}},
		{name: "removed object: a removed ref (it cancels its import)",
			event: minioEvent("s3:ObjectRemoved:Delete", "acme%2Fclients%2Fmy+file.csv", "", uploader),
			want: func() []ObjectRef {
				r := ref("17D8A3B2C1E0F9A8", "jane@acme.example")
				r.Removed = true
				return []ObjectRef{r}
			}()},
		{name: "accessed object yields no refs",
			event: minioEvent("s3:ObjectAccessed:Get", "acme%2Fclients%2Fmy+file.csv", "", uploader)},
		{name: "bad escape in key",
			event: minioEvent("s3:ObjectCreated:Put", "acme%2Fclients%2Fmy%zzfile.csv", "", uploader), err: true},
		{name: "not JSON", event: []byte("PUT acme/clients/my file.csv"), err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent(tc.event)
			if tc.err {
				if err == nil {
					t.Fatalf("ParseEvent = %+v, nil; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEvent error = %v, want none", err)
			}
			for i := range got {
				if got[i].Meta == nil {
					t.Errorf("ref %d has no metadata", i)
				}
				got[i].Meta = nil // the options read from it are tested in TestSetOptions
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseEvent =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestSetOptions(t *testing.T) {
	// tenant lets uploads set every option; strict only the defaults.
	strict := platform.Tenant{Mode: schemas.ModeUpdate, OnError: schemas.OnErrorContinue, Region: "RU", Password: &schemas.DefaultPasswordPolicy}
	tenant := strict
	tenant.UploadOptions = schemas.Options
	inviting := tenant
	inviting.Invite, inviting.OnError = true, schemas.OnErrorAbort
	cases := []struct {
		name    string
		tenant  platform.Tenant
		meta    map[string]string
		dataset string         // clients unless set
		want    schemas.Import // its options only
		code    string
	}{
		{name: "the tenant's", tenant: inviting, want: schemas.Import{Mode: "update", OnError: "abort", Invite: true}},
		{name: "the upload's over the tenant's", tenant: inviting,
			meta: map[string]string{"X-Amz-Meta-Mode": "Create", "X-Amz-Meta-On-Error": "continue", "x-amz-meta-invite": "no"},
			want: schemas.Import{Mode: "create", OnError: "continue"}},
		{name: "invite true", tenant: tenant, meta: map[string]string{"X-Amz-Meta-Invite": "TRUE"},
			want: schemas.Import{Mode: "update", OnError: "continue", Invite: true}},
		{name: "bad mode", tenant: tenant, meta: map[string]string{"X-Amz-Meta-Mode": "replace"}, code: schemas.CodeBadMode},
		{name: "remove mode, groups", tenant: strict, dataset: "groups", meta: map[string]string{"X-Amz-Meta-Mode": "Remove"},
			want: schemas.Import{Mode: "remove", OnError: "continue"}},
		{name: "remove mode, group members", tenant: strict, dataset: "group_members", meta: map[string]string{"X-Amz-Meta-Mode": "remove"},
			want: schemas.Import{Mode: "remove", OnError: "continue"}},
		{name: "remove mode, clients", tenant: strict, meta: map[string]string{"X-Amz-Meta-Mode": "remove"}, code: schemas.CodeBadMode},
		{name: "remove mode, users", tenant: strict, dataset: "users", meta: map[string]string{"X-Amz-Meta-Mode": "remove"}, code: schemas.CodeBadMode},
		{name: "bad on-error", tenant: tenant, meta: map[string]string{"X-Amz-Meta-On-Error": "skip"}, code: schemas.CodeBadOption},
		{name: "bad invite", tenant: tenant, meta: map[string]string{"X-Amz-Meta-Invite": "maybe"}, code: schemas.CodeBadOption},
		{name: "permissions", tenant: tenant, dataset: "users", meta: map[string]string{"X-Amz-Meta-Assign-Groups": " Sales; Field Ops ,", "X-Amz-Meta-Mirror-User": "J.Doe"},
			want: schemas.Import{Mode: "update", OnError: "continue", AssignGroups: []string{"Sales", "Field Ops"}, MirrorUser: "j.doe"}},
		{name: "permissions of clients", tenant: tenant, meta: map[string]string{"X-Amz-Meta-Mirror-User": "j.doe"}, code: schemas.CodeBadOption},
		{name: "by default, mode and on-error", tenant: strict, meta: map[string]string{"X-Amz-Meta-Mode": "create", "X-Amz-Meta-On-Error": "abort"},
			want: schemas.Import{Mode: "create", OnError: "abort"}},
		{name: "by default, no invitations", tenant: strict, meta: map[string]string{"X-Amz-Meta-Invite": "true"}, code: schemas.CodeOptionNotAllowed},
		{name: "by default, no groups assigned", tenant: strict, dataset: "users", meta: map[string]string{"X-Amz-Meta-Assign-Groups": "Admins"},
			code: schemas.CodeOptionNotAllowed},
		{name: "by default, no user mirrored", tenant: strict, dataset: "users", meta: map[string]string{"X-Amz-Meta-Mirror-User": "admin"},
			code: schemas.CodeOptionNotAllowed},
		{name: "an option the tenant does not list", tenant: platform.Tenant{Mode: schemas.ModeUpdate, OnError: schemas.OnErrorContinue,
			UploadOptions: []string{schemas.OptionOnError}}, meta: map[string]string{"X-Amz-Meta-Mode": "create"}, code: schemas.CodeOptionNotAllowed},
		{name: "by default, a preview", tenant: strict, meta: map[string]string{"X-Amz-Meta-Preview": "true"},
			want: schemas.Import{Mode: "update", OnError: "continue", Preview: true}},
		{name: "the tenant's preview", tenant: func() platform.Tenant { t := strict; t.Preview = true; return t }(),
			want: schemas.Import{Mode: "update", OnError: "continue", Preview: true}},
		{name: "the upload's no preview over the tenant's", tenant: func() platform.Tenant { t := strict; t.Preview = true; return t }(),
			meta: map[string]string{"X-Amz-Meta-Preview": "false"}, want: schemas.Import{Mode: "update", OnError: "continue"}},
		{name: "bad preview", tenant: strict, meta: map[string]string{"X-Amz-Meta-Preview": "later"}, code: schemas.CodeBadOption},
		{name: "sync, forced", tenant: tenant, meta: map[string]string{"X-Amz-Meta-Mode": "Sync", "X-Amz-Meta-Force": "true"},
			want: schemas.Import{Mode: "sync", OnError: "continue", Force: true}},
		{name: "sync of groups", tenant: tenant, dataset: "groups", meta: map[string]string{"X-Amz-Meta-Mode": "sync"},
			want: schemas.Import{Mode: "sync", OnError: "continue"}},
		{name: "sync of accounts", tenant: tenant, dataset: "accounts", meta: map[string]string{"X-Amz-Meta-Mode": "sync"}, code: schemas.CodeSyncUnsupported},
		{name: "a tenant that syncs updates its accounts", tenant: func() platform.Tenant { t := strict; t.Mode = schemas.ModeSync; return t }(), dataset: "accounts",
			want: schemas.Import{Mode: "update", OnError: "continue"}},
		{name: "a tenant that syncs", tenant: func() platform.Tenant { t := strict; t.Mode = schemas.ModeSync; return t }(), dataset: "users",
			want: schemas.Import{Mode: "sync", OnError: "continue"}},
		{name: "by default, no force", tenant: strict, meta: map[string]string{"X-Amz-Meta-Mode": "sync", "X-Amz-Meta-Force": "true"}, code: schemas.CodeOptionNotAllowed},
		{name: "bad force", tenant: tenant, meta: map[string]string{"X-Amz-Meta-Force": "please"}, code: schemas.CodeBadOption},
		{name: "the tenant's invitations need no upload option", tenant: func() platform.Tenant { t := strict; t.Invite = true; return t }(),
			want: schemas.Import{Mode: "update", OnError: "continue", Invite: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := schemas.Import{Dataset: cmp.Or(tc.dataset, "clients")}
			err := setOptions(&imp, tc.tenant, tc.meta)
			var fe *FileError
			if tc.code != "" {
				if !errors.As(err, &fe) || fe.V.Code != tc.code {
					t.Fatalf("setOptions = %v, want a file error %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := schemas.Import{Mode: imp.Mode, OnError: imp.OnError, Invite: imp.Invite, AssignGroups: imp.AssignGroups, MirrorUser: imp.MirrorUser,
				Preview: imp.Preview, Force: imp.Force}
			if !reflect.DeepEqual(got, tc.want) || imp.Region != "RU" || imp.Password != schemas.DefaultPasswordPolicy {
				t.Errorf("options = %+v (region %q), want %+v", got, imp.Region, tc.want)
			}
		})
	}
}

func TestSplitKey(t *testing.T) {
	cases := []struct {
		key                        string
		tenant, dataset, typ, file string
		ok                         bool
	}{
		{key: "acme/groups/region/regions.csv", tenant: "acme", dataset: "groups", typ: "region", file: "regions.csv", ok: true},
		{key: "acme/group_members/team/squads.csv", tenant: "acme", dataset: "group_members", typ: "team", file: "squads.csv", ok: true},
		{key: "acme/groups/planet/mars.csv"},
		{key: "acme/groups/team/a/b.csv"},
		{key: "acme/groups/team/"},
		{key: "acme/users/team/u.csv"},
		{key: "acme/clients/my file.csv", tenant: "acme", dataset: "clients", file: "my file.csv", ok: true},
		{key: "acme/clients/.csv", tenant: "acme", dataset: "clients", file: ".csv", ok: true},
		{key: "acme/clients/2024/june.csv"},
		{key: "acme/clients/"},
		{key: "acme/clients.csv"},
		{key: "/clients/my.csv"},
		{key: "acme//my.csv"},
		{key: "my.csv"},
		{key: ""},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			tenant, dataset, typ, file, ok := splitKey(tc.key)
			if ok != tc.ok || tenant != tc.tenant || dataset != tc.dataset || typ != tc.typ || file != tc.file {
				t.Errorf("splitKey(%q) = %q, %q, %q, %q, %v; want %q, %q, %q, %q, %v",
					tc.key, tenant, dataset, typ, file, ok, tc.tenant, tc.dataset, tc.typ, tc.file, tc.ok)
			}
		})
	}
}

func TestLinesLeft(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
		sure       bool
	}{
		{"one per line", "email,firstName\na@x.io,A\nb@x.io,B\n", 2, true},
		{"last line without a break", "email,firstName\na@x.io,A\nb@x.io,B", 2, true},
		{"a break inside quotes counts: an upper bound", "email,firstName\na@x.io,\"Ann\nMarie\"\nb@x.io,Bo\n", 3, true},
		{"escaped quotes", "email,firstName\na@x.io,\"say \"\"hi\"\"\"\nb@x.io,Bo\n", 2, true},
		{"blank lines count: an upper bound", "email,firstName\na@x.io,A\n\n\nb@x.io,B\n", 4, true},
		// A stray quote cannot hide the lines after it, as it could from a
		// quote-aware count.
		{"stray quotes", "email,firstName\na@x.io,O\"Brien\nb@x.io,B\nc@x.io,O\"Neil\nd@x.io,D\n", 4, true},
		{"header only", "email,firstName\n", 0, true},
		// Quotes in a file longer than the line limit (1024 here): a quoted
		// field may span lines past it, which only the parser can tell.
		{"quotes in a longer file", "email,firstName\n" + strings.Repeat("a@x.io,\"A\"\n", 100), 100, false},
		{"no quotes in a longer file", "email,firstName\n" + strings.Repeat("a@x.io,A\n", 200), 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr, err := NewRowReader(strings.NewReader(tt.body), "f.csv", schemas.Clients, schemas.ModeCreate, 1024)
			if err != nil {
				t.Fatal(err)
			}
			got, sure, err := rr.LinesLeft(context.Background())
			if err != nil || got != tt.want || sure != tt.sure {
				t.Errorf("LinesLeft() = %d, %v, %v; want %d, %v", got, sure, err, tt.want, tt.sure)
			}
		})
	}
}

func TestLinesLeftLineLimit(t *testing.T) {
	// The limit itself is allowed, not a byte more; a line break inside
	// quotes is a line break here.
	for _, tt := range []struct {
		record string
		ok     bool
	}{
		{strings.Repeat("x", 1024), true},
		{strings.Repeat("x", 1025), false},
		{"\"" + strings.Repeat("x\n", 511) + "\"", true},
		{"\"" + strings.Repeat("x", 1030) + "\"", false},
	} {
		rr, err := NewRowReader(strings.NewReader("email,firstName\n"+tt.record+"\nb@x.io,B\n"), "f.csv", schemas.Clients, schemas.ModeCreate, 1024)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = rr.LinesLeft(context.Background())
		var fe *FileError
		if tt.ok && err != nil || !tt.ok && (!errors.As(err, &fe) || fe.V.Code != schemas.CodeLineTooLong) {
			t.Errorf("a %d-byte record: got %v", len(tt.record), err)
		}
	}
}

// TestEncodings reads the same file saved in each encoding spreadsheets use:
// the cells come out the same, and the encoding is named.
func TestEncodings(t *testing.T) {
	const text = "firstName;lastName;email\r\nHans;Müller;hans@example.com\r\nJosé;García;jose@example.com\r\n"
	const cyrillic = "firstName;lastName;email\r\nИван;Петров;ivan@example.com\r\nЁлка;Щукина;elka@example.com\r\n"
	tests := []struct {
		name, text, want string
		enc              encoding.Encoding
	}{
		{"UTF-8", text, encUTF8, nil},
		{"UTF-8 with a byte order mark", text, encUTF8BOM, unicode.UTF8BOM},
		{"UTF-16LE with a byte order mark", text, encUTF16LE, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)},
		{"UTF-16BE with a byte order mark", cyrillic, encUTF16BE, unicode.UTF16(unicode.BigEndian, unicode.UseBOM)},
		{"Windows-1252", text, enc1252, charmap.Windows1252},
		{"Windows-1251", cyrillic, enc1251, charmap.Windows1251},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.text)
			if tt.enc != nil {
				var err error
				if raw, err = tt.enc.NewEncoder().Bytes(raw); err != nil {
					t.Fatal(err)
				}
			}
			rr, err := NewRowReader(bytes.NewReader(raw), "f.csv", schemas.Clients, schemas.ModeCreate, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if f := rr.Format(); f.Encoding != tt.want || f.Delimiter != ";" {
				t.Errorf("format: got %+v, want encoding %s, delimiter ;", f, tt.want)
			}
			rows, err := rest(rr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows {
				got = append(got, strings.Join(row.Cells, "|"))
			}
			lines := strings.Split(strings.TrimSpace(tt.text), "\r\n")[1:]
			if len(got) != len(lines) {
				t.Fatalf("rows: got %d, want %d", len(got), len(lines))
			}
			for i, l := range lines {
				c := strings.Split(l, ";")
				want := "|" + c[0] + "|" + c[1] + "|" + c[2] + "|||||"
				if got[i] != want {
					t.Errorf("row %d: got %q, want %q", i+2, got[i], want)
				}
			}
		})
	}
}

func TestCROnlyLineEnds(t *testing.T) {
	rows, err := readAll(strings.NewReader("firstName,email\rAnn,ann@x.io\rBo,bo@x.io\r"), "f.csv", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, row := range rows {
		got = append(got, row.N)
	}
	if !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("rows of a CR-only file: got %v, want [2 3]", got)
	}
}
