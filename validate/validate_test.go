package validate_test

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/validate"
)

// seedDuplicate is the seeds' sentence for a key used by another row.
const seedDuplicate = "the phone number or email address has already been confirmed with another existing or imported user"

// judge judges client rows in the given mode.
func judge(t *testing.T, mode string, rows ...schemas.Row) ([]schemas.Row, []schemas.Rejected) {
	t.Helper()
	imp := schemas.Import{Tenant: "acme", Dataset: "clients", Mode: mode}
	valid, rejected, err := validate.Judge(schemas.Clients, &imp, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	return valid, rejected
}

// emailDup says that a client row's email repeats row of's (0: none).
func emailDup(of int) []schemas.Duplicate {
	if of == 0 {
		return nil
	}
	return []schemas.Duplicate{{Field: schemas.Clients.Index("email"), Of: of}}
}

// clientCells returns a row of valid cells in field order, with some
// replaced.
func clientCells(t testing.TB, replace map[string]string) []string {
	t.Helper()
	cells := map[string]string{
		"ID": "666c2c2f32735479fd3e9a5c", "firstName": "John", "lastName": "Doe", "email": "john@example.com",
		"project": "66524609caa3558dd8f8da65", "desk": "67a346ad8092c651c919337e",
		"active": "True", "type": "Personal", "created": "2024-06-13T15:06:02.802Z",
	}
	for k, v := range replace {
		if _, ok := cells[k]; !ok {
			t.Fatalf("no field %q", k)
		}
		cells[k] = v
	}
	out := make([]string, len(schemas.Clients.Fields))
	for i, f := range schemas.Clients.Fields {
		out[i] = cells[f.Name]
	}
	return out
}

func TestJudge(t *testing.T) {
	malformed := &schemas.Violation{Code: schemas.CodeMalformed, Message: schemas.MsgMalformed(`bare " in non-quoted-field`)}
	columns := &schemas.Violation{Code: schemas.CodeColumnCount, Message: schemas.MsgColumnCount(10, 9)}
	cases := []struct {
		name    string
		replace map[string]string
		dupOf   int
		problem *schemas.Violation
		want    []schemas.Violation // nil: the row is valid
	}{
		{name: "every field valid"},
		{name: "required fields only", replace: map[string]string{
			"ID": "", "lastName": "", "project": "", "desk": "", "active": "", "type": "", "created": ""}},
		{name: "firstName empty", replace: map[string]string{"firstName": " "},
			want: []schemas.Violation{{Column: "firstName", Code: schemas.CodeRequired, Value: " ",
				Message: "the value of the field firstName cannot be empty"}}},
		{name: "firstName too long", replace: map[string]string{"firstName": strings.Repeat("Ж", 51)},
			want: []schemas.Violation{{Column: "firstName", Code: schemas.CodeTooLong, Value: strings.Repeat("Ж", 51),
				Message: "the field firstName can contain no more than 50 characters"}}},
		{name: "lastName too long", replace: map[string]string{"lastName": strings.Repeat("d", 51)},
			want: []schemas.Violation{{Column: "lastName", Code: schemas.CodeTooLong, Value: strings.Repeat("d", 51),
				Message: "the field lastName can contain no more than 50 characters"}}},
		{name: "email empty", replace: map[string]string{"email": ""},
			want: []schemas.Violation{{Column: "email", Code: schemas.CodeRequired,
				Message: "the value of the field email cannot be empty"}}},
		{name: "email format", replace: map[string]string{"email": "john.example.com"},
			want: []schemas.Violation{{Column: "email", Code: schemas.CodeFormat, Value: "john.example.com",
				Message: "the entered value does not match the format"}}},
		{name: "ID format", replace: map[string]string{"ID": "42"},
			want: []schemas.Violation{{Column: "ID", Code: schemas.CodeFormat, Value: "42", Message: schemas.MsgFormat}}},
		{name: "project format", replace: map[string]string{"project": "Main"},
			want: []schemas.Violation{{Column: "project", Code: schemas.CodeFormat, Value: "Main", Message: schemas.MsgFormat}}},
		{name: "desk format", replace: map[string]string{"desk": "Desk 1"},
			want: []schemas.Violation{{Column: "desk", Code: schemas.CodeFormat, Value: "Desk 1", Message: schemas.MsgFormat}}},
		{name: "active format", replace: map[string]string{"active": "yes"},
			want: []schemas.Violation{{Column: "active", Code: schemas.CodeFormat, Value: "yes", Message: schemas.MsgFormat}}},
		{name: "type format", replace: map[string]string{"type": "VIP"},
			want: []schemas.Violation{{Column: "type", Code: schemas.CodeFormat, Value: "VIP", Message: schemas.MsgFormat}}},
		{name: "created format", replace: map[string]string{"created": "yesterday"},
			want: []schemas.Violation{{Column: "created", Code: schemas.CodeFormat, Value: "yesterday", Message: schemas.MsgFormat}}},
		{name: "several rules, in field order", replace: map[string]string{"created": "2024-13-01", "active": "yes", "email": "", "firstName": ""},
			want: []schemas.Violation{
				{Column: "firstName", Code: schemas.CodeRequired, Message: "the value of the field firstName cannot be empty"},
				{Column: "email", Code: schemas.CodeRequired, Message: "the value of the field email cannot be empty"},
				{Column: "active", Code: schemas.CodeFormat, Value: "yes", Message: schemas.MsgFormat},
				{Column: "created", Code: schemas.CodeFormat, Value: "2024-13-01", Message: schemas.MsgFormat},
			}},
		{name: "duplicate", dupOf: 2,
			want: []schemas.Violation{{Column: "email", Code: schemas.CodeDuplicate, Value: "john@example.com", Message: seedDuplicate}}},
		{name: "duplicate and another rule", dupOf: 2, replace: map[string]string{"firstName": ""},
			want: []schemas.Violation{
				{Column: "firstName", Code: schemas.CodeRequired, Message: "the value of the field firstName cannot be empty"},
				{Column: "email", Code: schemas.CodeDuplicate, Value: "john@example.com", Message: seedDuplicate},
			}},
		{name: "duplicate of a bad email is a format error only", dupOf: 2, replace: map[string]string{"email": "john@"},
			want: []schemas.Violation{{Column: "email", Code: schemas.CodeFormat, Value: "john@", Message: schemas.MsgFormat}}},
		{name: "malformed row: its problem only", problem: malformed, replace: map[string]string{
			"ID": "", "firstName": "", "lastName": "", "email": "", "project": "", "desk": "", "active": "", "type": "", "created": ""},
			want: []schemas.Violation{*malformed}},
		{name: "column count: its problem only", problem: columns, dupOf: 2, replace: map[string]string{"active": "yes"},
			want: []schemas.Violation{*columns}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := schemas.Row{N: 7, Cells: clientCells(t, tc.replace), Duplicates: emailDup(tc.dupOf), Problem: tc.problem}
			valid, rejected := judge(t, schemas.ModeCreate, row)
			if tc.want == nil {
				if len(rejected) != 0 || len(valid) != 1 || !reflect.DeepEqual(valid[0], row) {
					t.Fatalf("Judge = valid %+v, rejected %+v; want the row valid", valid, rejected)
				}
				return
			}
			if len(valid) != 0 || len(rejected) != 1 {
				t.Fatalf("Judge = valid %+v, rejected %+v; want the row rejected once", valid, rejected)
			}
			if rejected[0].N != row.N {
				t.Errorf("rejected row N = %d, want %d", rejected[0].N, row.N)
			}
			got := rejected[0].Violations
			if len(got) != len(tc.want) {
				t.Fatalf("violations =\n %+v\nwant\n %+v", got, tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				// A duplicate's message is the seeds' sentence, then which
				// row it repeats.
				msgOK := g.Message == w.Message
				if w.Code == schemas.CodeDuplicate {
					msgOK = strings.HasPrefix(g.Message, w.Message)
				}
				if g.Column != w.Column || g.Code != w.Code || g.Value != w.Value || !msgOK {
					t.Errorf("violation %d =\n %+v\nwant\n %+v", i, g, w)
				}
			}
		})
	}
}

// TestJudgeKeepsEveryRow checks, over a generated mix of rows, that every row
// comes back exactly once, valid or rejected, in order, and rejected exactly
// when it breaks a rule.
func TestJudgeKeepsEveryRow(t *testing.T) {
	bad := map[string][]string{
		"firstName": {"", strings.Repeat("x", 51)},
		"email":     {"", "john@", strings.Repeat("x", 95) + "@a.com"},
		"ID":        {"123"},
		"active":    {"yes"},
		"type":      {"VIP"},
		"created":   {"2024-02-30"},
	}
	names := []string{"firstName", "email", "ID", "active", "type", "created"}
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []schemas.Row
	shouldReject := map[int]bool{}
	for n := 2; n < 1002; n++ {
		replace := map[string]string{}
		reject := false
		for _, name := range names {
			if rng.IntN(8) == 0 {
				vs := bad[name]
				replace[name] = vs[rng.IntN(len(vs))]
				reject = true
			}
		}
		row := schemas.Row{N: n, Cells: clientCells(t, replace)}
		switch rng.IntN(10) {
		case 0:
			row.Duplicates = emailDup(n - 1)
			reject = true
		case 1:
			row.Problem = &schemas.Violation{Code: schemas.CodeMalformed, Message: schemas.MsgMalformed("x")}
			reject = true
		}
		shouldReject[n] = reject
		rows = append(rows, row)
	}

	valid, rejected := judge(t, schemas.ModeCreate, rows...)

	if len(valid)+len(rejected) != len(rows) {
		t.Fatalf("len(valid) %d + len(rejected) %d = %d, want len(rows) %d",
			len(valid), len(rejected), len(valid)+len(rejected), len(rows))
	}
	if len(valid) == 0 || len(rejected) == 0 {
		t.Fatalf("generated %d valid and %d rejected rows, want some of each", len(valid), len(rejected))
	}
	check := func(kind string, ns []int, rejectedKind bool) {
		for i, n := range ns {
			if i > 0 && n <= ns[i-1] {
				t.Errorf("%s rows out of order: %d after %d", kind, n, ns[i-1])
			}
			if shouldReject[n] != rejectedKind {
				t.Errorf("row %d is %s, want rejected = %v", n, kind, shouldReject[n])
			}
		}
	}
	var vn, rn []int
	for _, r := range valid {
		vn = append(vn, r.N)
	}
	for _, r := range rejected {
		rn = append(rn, r.N)
		if len(r.Violations) == 0 {
			t.Errorf("row %d rejected with no violation", r.N)
		}
	}
	check("valid", vn, false)
	check("rejected", rn, true)
}

// TestJudgeRepeatedID: a clients row whose ID an earlier row of the file has
// names the same client twice (the ID identifies a client, seed 004); the
// message says which row, not the seeds' sentence about emails.
func TestJudgeRepeatedID(t *testing.T) {
	id := schemas.Clients.IdentityIndex()
	cells := clientCells(t, map[string]string{"ID": "666C2C2F32735479FD3E9A5C"})
	row := schemas.Row{N: 7, Cells: cells, Duplicates: []schemas.Duplicate{{Field: id, Of: 3}}}
	_, rejected := judge(t, schemas.ModeUpdate, row)
	want := schemas.Violation{Column: "ID", Code: schemas.CodeDuplicate, Value: "666C2C2F32735479FD3E9A5C",
		Message: "row 3 names the same record (ID 666C2C2F32735479FD3E9A5C); a file may name a record once"}
	if len(rejected) != 1 || len(rejected[0].Violations) != 1 || rejected[0].Violations[0] != want {
		t.Errorf("Judge rejected %+v, want row 7 with %+v", rejected, want)
	}
}
