package schemas_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestSeed001Header: seed 001's template (first name, last name, email) is
// a users file: the login is the email and the password may be left out;
// a header with neither login nor email lacks both.
func TestSeed001Header(t *testing.T) {
	u := schemas.Users
	expected := strings.Join(u.Headers(), ", ")
	cases := []struct {
		name    string
		header  []string
		missing []string // nil: accepted
	}{
		{name: "seed 001's template", header: []string{"firstName", "lastName", "email"}},
		{name: "with a login", header: []string{"login", "email", "firstName", "lastName"}},
		{name: "no email, no login", header: []string{"firstName", "lastName"}, missing: []string{"email", "login"}},
		{name: "a login, no email", header: []string{"login", "firstName", "lastName"}, missing: []string{"email"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, v := u.Match(tc.header, schemas.ModeCreate)
			cols := h.Cols
			switch {
			case tc.missing == nil && v != nil:
				t.Fatalf("Match(%q): %+v, want accepted", tc.header, *v)
			case tc.missing == nil:
				if want := u.Index(tc.header[len(tc.header)-1]); cols[len(cols)-1] != want {
					t.Errorf("Match(%q) = %v, last column %d, want %d", tc.header, cols, cols[len(cols)-1], want)
				}
			case v == nil:
				t.Fatalf("Match(%q) = %v, want missing %v", tc.header, cols, tc.missing)
			case v.Code != schemas.CodeMissingColumn || v.Message != schemas.MsgMissingColumn(tc.missing, expected):
				t.Errorf("Match(%q) = %+v, want missing %v", tc.header, *v, tc.missing)
			}
		})
	}
}

// TestFillFrom: an empty login takes the email as written, trimmed (its
// rules and canonical form are the login's); a login given stays.
func TestFillFrom(t *testing.T) {
	u := schemas.Users
	row := func(login, email string) []string {
		cells := make([]string, len(u.Fields))
		cells[u.Index("login")], cells[u.Index("email")] = login, email
		return cells
	}
	cases := []struct{ name, login, email, want string }{
		{name: "no login", email: " Ann.Avery@Initech.example ", want: "Ann.Avery@Initech.example"},
		{name: "blank login", login: "  ", email: "bob@initech.example", want: "bob@initech.example"},
		{name: "a login", login: "cid", email: "cid@initech.example", want: "cid"},
		{name: "neither", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cells := row(tc.login, tc.email)
			u.FillFrom(cells)
			if got := cells[u.Index("login")]; got != tc.want {
				t.Errorf("login = %q, want %q", got, tc.want)
			}
			if got := cells[u.Index("email")]; got != tc.email {
				t.Errorf("email changed to %q", got)
			}
		})
	}
	// The key every stage reads is then the email, lower-cased, and it
	// passes the login's rules (emails are valid logins).
	cells := row("", "Ann.Avery@Initech.example")
	u.FillFrom(cells)
	if got := u.CanonicalKey(cells); got != "ann.avery@initech.example" {
		t.Errorf("CanonicalKey = %q, want the email lower-cased", got)
	}
	f := u.Fields[u.Index("login")]
	if v, ok := f.Check(cells[u.Index("login")], schemas.Context{}, true); !ok {
		t.Errorf("the email as login breaks %+v", v)
	}
	// An email a login cannot be (a +, or over 50 characters) breaks the
	// login's rules: such a file needs a login column.
	for _, email := range []string{"ann+hr@initech.example", strings.Repeat("a", 45) + "@initech.example"} {
		if _, ok := f.Check(email, schemas.Context{}, true); ok {
			t.Errorf("login %q passes the login's rules", email)
		}
	}
}

// TestLoginRule: the template says that the login may be left out.
func TestLoginRule(t *testing.T) {
	f := schemas.Users.Fields[schemas.Users.Index("login")]
	if got := f.Rule(); !strings.HasPrefix(got, "required (the email when empty or left out), at most 50 characters; ") {
		t.Errorf("login's rule: %q", got)
	}
}

// TestNewUserStatus: a new user with no password is pending (seed 001), one
// with a password stays as the defaults make it.
func TestNewUserStatus(t *testing.T) {
	u := schemas.Users
	for _, tc := range []struct{ password, want string }{{"", schemas.UserPending}, {"$argon2id$v=19$...", schemas.UserActive}} {
		cells := make([]string, len(u.Fields))
		cells[u.Index("password")], cells[u.Index("status")] = tc.password, schemas.UserActive
		u.OnCreate(u, cells)
		if got := cells[u.Index("status")]; got != tc.want {
			t.Errorf("password %q: status %q, want %q", tc.password, got, tc.want)
		}
	}
	if !slices.Contains(schemas.UserStatuses, schemas.UserPending) || !slices.Contains(schemas.UserStatuses, schemas.UserExpired) {
		t.Errorf("UserStatuses %v lack seed 001's pending and expired", schemas.UserStatuses)
	}
}
