package schemas_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestMessagesFormat: the messages with parameters read as partners have
// always read them, word for word.
func TestMessagesFormat(t *testing.T) {
	const clients = "ID, firstName, lastName, email, project, desk, active, type, created"
	const groups = "Groupname, Email (group-based) or email, FirstName, LastName, Groupname (user-based) or Groupname, type (group-list) or Groupname, New Groupname (rename)"
	_, layouts := schemas.Groups.Match([]string{"Groupname", "phone"}, schemas.ModeCreate)
	cases := []struct {
		name string
		got  string
		want string
	}{
		{name: "duplicate of an earlier row", got: schemas.MsgDuplicateOf("phone", 2),
			want: "the phone number or email address has already been confirmed with another existing or imported user (row 2 has the same phone)"},
		{name: "repeated user", got: schemas.MsgRepeatedUser(7),
			want: "the user is repeated (row 7 has the same email); put all of a user's groups in the Groupname columns of one row"},
		{name: "unknown column", got: schemas.MsgUnknownColumn("phone", clients),
			want: `the file has an unknown column "phone"; expected headers: ` + clients},
		{name: "unknown column quoted", got: schemas.MsgUnknownColumn(`a "b"`, "x"),
			want: `the file has an unknown column "a \"b\""; expected headers: x`},
		{name: "duplicate column", got: schemas.MsgDuplicateColumn("email", "E-mail", "email", clients),
			want: `the columns "email" and "E-mail" are both the field email; expected headers: ` + clients},
		{name: "missing column", got: schemas.MsgMissingColumn([]string{"email"}, clients),
			want: "the file has no column email; expected headers: " + clients},
		{name: "missing columns", got: schemas.MsgMissingColumn([]string{"email", "firstName"}, clients),
			want: "the file has no column email, firstName; expected headers: " + clients},
		{name: "expected headers of a dataset", got: func() string { _, v := schemas.Clients.Match([]string{"phone"}, schemas.ModeCreate); return v.Message }(),
			want: `the file has an unknown column "phone"; expected headers: ` + clients},
		{name: "expected headers of layouts", got: layouts.Message,
			want: `the file has an unknown column "phone"; expected headers: ` + groups},
		{name: "permissions on another dataset", got: schemas.MsgPermissionsUsersOnly,
			want: "the options assign-groups and mirror-user apply to users imports only"},
		{name: "option not allowed", got: schemas.MsgOptionNotAllowed(schemas.OptionMirrorUser),
			want: "the option mirror-user (X-Amz-Meta-mirror-user) is not allowed for your company's uploads; upload the file without it, or ask the operator to allow it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("message =\n %q\nwant\n %q", tc.got, tc.want)
			}
		})
	}
}

// TestEcho: partner text a message repeats is cut at MaxEcho bytes, on a
// rune boundary, with a marker; shorter text is left alone.
func TestEcho(t *testing.T) {
	long := strings.Repeat("a", schemas.MaxEcho+1)
	cyr := strings.Repeat("я", schemas.MaxEcho) // 2 bytes a rune
	cases := []struct {
		name string
		got  string
		want string
	}{
		{name: "short", got: schemas.Echo("O'Brien"), want: "O'Brien"},
		{name: "at the bound", got: schemas.Echo(long[:schemas.MaxEcho]), want: long[:schemas.MaxEcho]},
		{name: "over the bound", got: schemas.Echo(long), want: long[:schemas.MaxEcho] + schemas.CutMarker},
		{name: "runes stay whole", got: schemas.Cut("aя", 2), want: "a" + schemas.CutMarker},
		{name: "multi-byte", got: schemas.Echo(cyr), want: cyr[:schemas.MaxEcho] + schemas.CutMarker},
		{name: "unknown column", got: schemas.MsgUnknownColumn(long, "x"),
			want: `the file has an unknown column "` + long[:schemas.MaxEcho] + schemas.CutMarker + `"; expected headers: x`},
		{name: "a shown value", got: schemas.Clients.Fields[1].Show(long), want: long[:schemas.MaxEcho] + schemas.CutMarker},
		{name: "unpacked", got: schemas.MsgUnpacked(64 << 20),
			want: "the file expands to more than 64 MiB when unpacked, far more than a workbook within the row limit needs (a damaged file or a decompression bomb); save the data again as a new .xlsx or .csv file"},
		{name: "row number", got: schemas.MsgRowNumber(1048576),
			want: "the sheet numbers a row beyond 1048576, the last row a spreadsheet has: the file is damaged; save the data again as a new .xlsx or .csv file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got\n %q\nwant\n %q", tc.got, tc.want)
			}
		})
	}
}

// TestPlain: partner text for a mail loses what could forge a header, a
// line or the order of what a reader sees, and is bounded.
func TestPlain(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{name: "plain", in: "clients june.csv", want: "clients june.csv"},
		{name: "CRLF", in: "a.csv\r\nBcc: x@y", want: "a.csv Bcc: x@y"},
		{name: "tab", in: "a\tb", want: "a b"},
		{name: "NUL and escape", in: "a\x00b\x1b[31m", want: "ab[31m"},
		{name: "right-to-left override", in: "invoice\u202Efdp.exe", want: "invoicefdp.exe"},
		{name: "zero-width space and BOM", in: "a\u200Bb\uFEFF", want: "ab"},
		{name: "Cyrillic kept", in: "клиенты.csv", want: "клиенты.csv"},
		{name: "bounded", in: strings.Repeat("ab", 100), want: strings.Repeat("ab", 5) + schemas.CutMarker},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := 200
			if tc.name == "bounded" {
				n = 10
			}
			if got := schemas.Plain(tc.in, n); got != tc.want {
				t.Errorf("Plain(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
