package schemas_test

import (
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestMessagesFormat: the messages with parameters read as partners have
// always read them, word for word.
func TestMessagesFormat(t *testing.T) {
	const clients = "ID, firstName, lastName, email, project, desk, active, type, created"
	const groups = "Groupname, Email (group-based) or email, FirstName, LastName, Groupname (user-based)"
	_, _, layouts := schemas.Groups.Match([]string{"Groupname", "phone"})
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
		{name: "duplicate column", got: schemas.MsgDuplicateColumn("Email", clients),
			want: `the column "Email" appears more than once; expected headers: ` + clients},
		{name: "missing column", got: schemas.MsgMissingColumn([]string{"email"}, clients),
			want: "the file has no column email; expected headers: " + clients},
		{name: "missing columns", got: schemas.MsgMissingColumn([]string{"email", "firstName"}, clients),
			want: "the file has no column email, firstName; expected headers: " + clients},
		{name: "expected headers of a dataset", got: func() string { _, v := schemas.Clients.MapHeader([]string{"phone"}); return v.Message }(),
			want: `the file has an unknown column "phone"; expected headers: ` + clients},
		{name: "expected headers of layouts", got: layouts.Message,
			want: `the file has an unknown column "phone"; expected headers: ` + groups},
		{name: "permissions on another dataset", got: schemas.MsgPermissionsUsersOnly,
			want: "the options assign-groups and mirror-user apply to users imports only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("message =\n %q\nwant\n %q", tc.got, tc.want)
			}
		})
	}
}
