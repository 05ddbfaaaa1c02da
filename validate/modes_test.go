package validate_test

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/validate"
)

// TestJudgeUpdateMode: in update mode a row may leave required cells empty
// (it may update a stored record; load judges new ones), but must fill
// something besides its key, and its key always.
func TestJudgeUpdateMode(t *testing.T) {
	all := map[string]string{"ID": "", "firstName": "", "lastName": "", "project": "", "desk": "", "active": "", "type": "", "created": ""}
	onlyKey := schemas.Row{N: 2, Cells: clientCells(t, all)}
	partial := schemas.Row{N: 3, Cells: clientCells(t, map[string]string{"firstName": "", "lastName": "Smith"})}
	noKey := schemas.Row{N: 4, Cells: clientCells(t, map[string]string{"email": ""})}

	valid, rejected := judge(t, schemas.ModeUpdate, onlyKey, partial, noKey)
	if len(valid) != 1 || valid[0].N != 3 {
		t.Errorf("valid = %+v, want row 3 only", valid)
	}
	want := map[int]string{2: schemas.CodeNothingToUpdate, 4: schemas.CodeRequired}
	if len(rejected) != len(want) {
		t.Fatalf("rejected = %+v, want rows 2 and 4", rejected)
	}
	for _, r := range rejected {
		if len(r.Violations) != 1 || r.Violations[0].Code != want[r.N] {
			t.Errorf("row %d: %+v, want one %s", r.N, r.Violations, want[r.N])
		}
	}
	if v := rejected[0].Violations[0]; v.Message != "the row fills no field besides email; fill in at least one field, in addition to the email" {
		t.Errorf("nothing to update: %q", v.Message)
	}

	// A sync judges as update mode does, and keeps the rejected rows' keys.
	_, rejected = judge(t, schemas.ModeSync, onlyKey, partial)
	if len(rejected) != 1 || rejected[0].N != 2 || !slices.Equal(rejected[0].Keys, []string{onlyKey.Cells[schemas.Clients.KeyIndex()]}) || rejected[0].Keys[0] == "" {
		t.Errorf("sync: %+v, want row 2 rejected with its key", rejected)
	}

	// In create mode the same partial row is missing its first name.
	_, rejected = judge(t, schemas.ModeCreate, partial)
	if len(rejected) != 1 || rejected[0].Violations[0].Message != "the value of the field firstName cannot be empty" {
		t.Errorf("create mode: %+v, want firstName required", rejected)
	}
}

// userRow returns a users row of valid cells, with some replaced; the
// password is sealed as ingest seals it.
func userRow(t *testing.T, secrets *platform.Secrets, n int, replace map[string]string) schemas.Row {
	t.Helper()
	cells := map[string]string{"login": "j.doe", "password": "Welcome2024", "email": "john@example.com", "phone": "8 916 123-45-67",
		"firstName": "Иван", "lastName": "O'Neil-Smith", "manager": "0", "mustChangePassword": "1", "status": "active"}
	for k, v := range replace {
		cells[k] = v
	}
	row := schemas.Row{N: n, Cells: make([]string, len(schemas.Users.Fields))}
	for i, f := range schemas.Users.Fields {
		row.Cells[i] = cells[f.Name]
	}
	row.Cells[schemas.Users.Index("password")] = secrets.Seal(cells["password"])
	return row
}

func TestJudgeUsers(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	secrets, err := platform.NewSecrets(key)
	if err != nil {
		t.Fatal(err)
	}
	policy := schemas.DefaultPasswordPolicy.String()
	cases := []struct {
		name    string
		replace map[string]string
		column  string
		code    string
		message string
	}{
		{name: "valid", replace: nil},
		{name: "phone 7...", replace: map[string]string{"phone": "79161234567"}},
		{name: "phone +44", replace: map[string]string{"phone": "+44 20 7946 0958"}},
		{name: "phone letters", replace: map[string]string{"phone": "call me"}, column: "phone", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "phone too short", replace: map[string]string{"phone": "12345"}, column: "phone", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "login Cyrillic", replace: map[string]string{"login": "иван"}, column: "login", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "login 51", replace: map[string]string{"login": strings.Repeat("a", 51)}, column: "login", code: schemas.CodeTooLong,
			message: "the field login can contain no more than 50 characters"},
		{name: "login all allowed", replace: map[string]string{"login": `a/b\c_d.e-f@g1`}},
		{name: "name with digit and slash", replace: map[string]string{"firstName": `Anna 2/B`}},
		{name: "name with a symbol", replace: map[string]string{"firstName": "Anna!"}, column: "firstName", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "password short", replace: map[string]string{"password": "abc123"}, column: "password", code: schemas.CodePasswordPolicy,
			message: "the password does not match the password policy: " + policy},
		{name: "password without digit", replace: map[string]string{"password": "Welcomeeeee"}, column: "password", code: schemas.CodePasswordPolicy},
		{name: "password with space", replace: map[string]string{"password": "Welcome 2024"}, column: "password", code: schemas.CodePasswordPolicy},
		{name: "password trailing space", replace: map[string]string{"password": "Welcome2024 "}, column: "password", code: schemas.CodePasswordPolicy},
		{name: "password 101", replace: map[string]string{"password": strings.Repeat("a1", 51)}, column: "password", code: schemas.CodeTooLong,
			message: "the field password can contain no more than 100 characters"},
		{name: "manager 2", replace: map[string]string{"manager": "2"}, column: "manager", code: schemas.CodeFormat},
		{name: "manager true", replace: map[string]string{"manager": "true"}, column: "manager", code: schemas.CodeFormat},
		{name: "status legacy", replace: map[string]string{"status": "Blocked"}},
		{name: "status unknown", replace: map[string]string{"status": "gone"}, column: "status", code: schemas.CodeFormat},
		{name: "group 256", replace: map[string]string{"team": strings.Repeat("g", 256)}, column: "team", code: schemas.CodeTooLong,
			message: "the field team can contain no more than 255 characters"},
	}
	imp := schemas.Import{Tenant: "acme", Dataset: "users", Mode: schemas.ModeCreate, Region: "RU", Password: schemas.DefaultPasswordPolicy}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := userRow(t, secrets, 2, tc.replace)
			valid, rejected, err := validate.Judge(schemas.Users, &imp, []schemas.Row{row}, secrets.Open)
			if err != nil {
				t.Fatal(err)
			}
			if tc.code == "" {
				if len(valid) != 1 {
					t.Fatalf("rejected %+v, want valid", rejected)
				}
				if valid[0].Cells[1] != row.Cells[1] || !strings.HasPrefix(valid[0].Cells[1], "sealed2:") {
					t.Errorf("the valid row's password is %q, want it still sealed", valid[0].Cells[1])
				}
				return
			}
			if len(rejected) != 1 || len(rejected[0].Violations) != 1 {
				t.Fatalf("rejected %+v, want one violation", rejected)
			}
			v := rejected[0].Violations[0]
			if v.Column != tc.column || v.Code != tc.code || tc.message != "" && v.Message != tc.message {
				t.Errorf("got %+v, want %s %s %q", v, tc.column, tc.code, tc.message)
			}
			if tc.column == "password" && v.Value != "" {
				t.Errorf("a rejected password is shown as %q, want nothing", v.Value)
			}
		})
	}

	t.Run("unsealed password is an error, not a verdict", func(t *testing.T) {
		row := userRow(t, secrets, 2, nil)
		row.Cells[1] = "Welcome2024"
		if _, _, err := validate.Judge(schemas.Users, &imp, []schemas.Row{row}, secrets.Open); err == nil {
			t.Error("Judge accepted a plain password cell")
		}
	})
	t.Run("duplicate phone", func(t *testing.T) {
		row := userRow(t, secrets, 5, map[string]string{"login": "other"})
		row.Duplicates = []schemas.Duplicate{{Field: schemas.Users.Index("phone"), Of: 2}}
		_, rejected, _ := validate.Judge(schemas.Users, &imp, []schemas.Row{row}, secrets.Open)
		if len(rejected) != 1 || rejected[0].Violations[0].Column != "phone" ||
			rejected[0].Violations[0].Message != seedDuplicate+" (row 2 has the same phone)" {
			t.Errorf("got %+v", rejected)
		}
	})
}

// TestJudgeGroupLayouts: a repeated user in a user-based groups file has the
// seed's own warning; each group and member is judged on its own.
func TestJudgeGroupLayouts(t *testing.T) {
	imp := schemas.Import{Tenant: "acme", Dataset: "groups", Layout: "user-based", Mode: schemas.ModeUpdate}
	rows := []schemas.Row{
		{N: 2, Cells: []string{"jane@example.com", "Jane", "", "Sales" + schemas.ListSep + "Support"}},
		{N: 3, Cells: []string{"jane@example.com", "", "", "Ops"}, Duplicates: []schemas.Duplicate{{Field: 0, Of: 2}}},
		{N: 4, Cells: []string{"bob@example.com", "", "", "Sales" + schemas.ListSep + strings.Repeat("x", 256)}},
	}
	valid, rejected, err := validate.Judge(schemas.UserBased, &imp, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(valid) != 1 || valid[0].N != 2 || len(rejected) != 2 {
		t.Fatalf("valid %+v, rejected %+v", valid, rejected)
	}
	if got := rejected[0].Violations[0].Message; !strings.HasPrefix(got, "the user is repeated (row 2 has the same email)") {
		t.Errorf("repeated user: %q", got)
	}
	if got := rejected[1].Violations[0]; got.Code != schemas.CodeTooLong || got.Column != "Groupname" {
		t.Errorf("long group: %+v", got)
	}
}
