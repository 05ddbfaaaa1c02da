package validate_test

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/validate"
)

// TestJudgeEachMember (seed 003): in a group-based row each member is
// judged on its own. The bad ones are dropped with their Email column
// (an empty column keeps its place); the row goes on with the good ones,
// or is rejected with every reason when none is left or its group is bad.
func TestJudgeEachMember(t *testing.T) {
	sep := schemas.ListSep
	format := func(col, v string) schemas.Violation {
		return schemas.Violation{Column: col, Code: schemas.CodeFormat, Message: schemas.MsgFormat, Value: v}
	}
	cases := []struct {
		name      string
		cells     []string
		wantCell  string // the Email cell of a valid row
		dropped   []schemas.Violation
		rejection []schemas.Violation // nil: valid
	}{
		{name: "every member good", cells: []string{"Sales", "a@x.io" + sep + "b@x.io"}, wantCell: "a@x.io" + sep + "b@x.io"},
		{name: "a bad member after an empty column", cells: []string{"Sales", "a@x.io" + sep + sep + "nope"},
			wantCell: "a@x.io" + sep + sep, dropped: []schemas.Violation{format("Email (3)", "nope")}},
		{name: "the first member bad", cells: []string{"Sales", "nope" + sep + "b@x.io" + sep + "c@"},
			wantCell: sep + "b@x.io" + sep, dropped: []schemas.Violation{format("Email", "nope"), format("Email (3)", "c@")}},
		{name: "no good member left", cells: []string{"Sales", "nope" + sep + " "},
			rejection: []schemas.Violation{format("Email", "nope")}},
		{name: "a bad group rejects the row whole", cells: []string{"", "a@x.io" + sep + "nope"},
			rejection: []schemas.Violation{{Column: "Groupname", Code: schemas.CodeRequired, Message: schemas.MsgRequired("Groupname")}, format("Email (2)", "nope")}},
		{name: "no member at all", cells: []string{"Sales", sep},
			rejection: []schemas.Violation{{Column: "Email", Code: schemas.CodeRequired, Message: schemas.MsgRequired("Email")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := schemas.Import{Tenant: "acme", Dataset: "groups", Layout: "group-based", Mode: schemas.ModeUpdate}
			valid, rejected, err := validate.Judge(schemas.GroupBased, &imp, []schemas.Row{{N: 2, Cells: tc.cells}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(valid)+len(rejected) != 1 {
				t.Fatalf("%d valid and %d rejected rows, want the row once", len(valid), len(rejected))
			}
			if tc.rejection != nil {
				if len(rejected) != 1 || !reflect.DeepEqual(rejected[0].Violations, tc.rejection) {
					t.Errorf("rejected = %+v, want %+v", rejected, tc.rejection)
				}
				return
			}
			if len(valid) != 1 {
				t.Fatalf("rejected %+v, want the row valid", rejected)
			}
			if got := valid[0]; got.Cells[1] != tc.wantCell || !reflect.DeepEqual(got.Dropped, tc.dropped) {
				t.Errorf("valid row: Email cell %q dropped %+v, want %q %+v", got.Cells[1], got.Dropped, tc.wantCell, tc.dropped)
			}
		})
	}
}
