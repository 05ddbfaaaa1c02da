package load

import (
	"reflect"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestAlsoGroups: the group records a write of memberships makes have the
// group dataset's cells, one per group added; a removal adds none.
func TestAlsoGroups(t *testing.T) {
	member := func(n int, cells []string) Record {
		return Record{Row: schemas.Row{N: n, Cells: cells}, Chunk: 1, Outcome: warehouse.Created}
	}
	records := []Record{
		member(2, schemas.Membership("Sales", "a@x.io")),
		member(3, schemas.Membership("Sales", "b@x.io")),
		member(4, schemas.Removal(schemas.Memberships, schemas.Membership("Ops", "a@x.io"))),
	}
	groups := also(schemas.Memberships, nil, records)[schemas.GroupRecords]
	if len(groups) != 1 || len(groups[0].Row.Cells) != len(schemas.GroupRecords.Fields) || groups[0].Row.Cells[0] != "Sales" {
		t.Errorf("group records = %+v, want Sales's alone, with every field", groups)
	}
}

// TestEachMemberSettles: in a group-based row each member's record has its
// own fate. A row with some records rejected, or with members validate
// dropped, is partial: its good records load, and every bad member is
// listed once with its Email column. A row all of whose records are
// rejected is rejected. Every member ends loaded or listed, once.
func TestEachMemberSettles(t *testing.T) {
	noAccount := func(email string) schemas.Violation {
		return schemas.Violation{Column: "email", Code: schemas.CodeNoAccount, Message: schemas.MsgNoAccount, Value: email}
	}
	dropped := schemas.Violation{Column: "Email", Code: schemas.CodeFormat, Message: schemas.MsgFormat, Value: "bad@"}
	member := func(n, item int, email string, why ...schemas.Violation) Record {
		r := Record{Row: schemas.Row{N: n, Cells: schemas.Membership("Red", email), Item: item}, Chunk: 1, Outcome: warehouse.Created}
		if why != nil {
			r.Outcome, r.Violations = warehouse.Rejected, why
		}
		return r
	}
	records := []Record{
		member(2, 1, "ann@x.io"), member(2, 3, "ghost@x.io", noAccount("ghost@x.io")), // partial
		member(3, 2, "bob@x.io"),                                                                             // partial: validate dropped bad@
		member(4, 1, "ghost@x.io", noAccount("ghost@x.io")), member(4, 2, "eve@x.io", noAccount("eve@x.io")), // rejected
		member(5, 1, "ann@x.io"), // created
	}
	records[2].Row.Dropped = []schemas.Violation{dropped}
	w := &Write{Records: records, Rejected: map[int][]schemas.Rejected{}, Partial: map[int][]schemas.Rejected{}}
	settle(schemas.GroupBased, w.Records)
	late := moveRejected(w)
	w.Rows = rowOutcomes(w.Records, w.Partial)

	named := func(col string, v schemas.Violation) schemas.Violation { v.Column = col; return v }
	wantPartial := []schemas.Rejected{
		{N: 2, Violations: []schemas.Violation{named("Email (3)", noAccount("ghost@x.io"))}},
		{N: 3, Violations: []schemas.Violation{dropped}},
	}
	wantRejected := []schemas.Rejected{{N: 4, Violations: []schemas.Violation{named("Email", noAccount("ghost@x.io")), named("Email (2)", noAccount("eve@x.io"))}}}
	if !reflect.DeepEqual(w.Partial[1], wantPartial) || !reflect.DeepEqual(w.Rejected[1], wantRejected) {
		t.Errorf("partial %+v\nrejected %+v\nwant %+v\nand %+v", w.Partial[1], w.Rejected[1], wantPartial, wantRejected)
	}
	if len(late[1]) != 3 {
		t.Errorf("dead letters %+v, want the partial rows and the rejected one", late[1])
	}
	var loaded []string
	for _, r := range w.Records {
		loaded = append(loaded, r.Row.Cells[schemas.Memberships.Index("email")])
	}
	if want := []string{"ann@x.io", "bob@x.io", "ann@x.io"}; !slices.Equal(loaded, want) {
		t.Errorf("loaded members %v, want %v", loaded, want)
	}
	want := []RowOutcome{{N: 2, Chunk: 1, Outcome: warehouse.Partial}, {N: 3, Chunk: 1, Outcome: warehouse.Partial}, {N: 5, Chunk: 1, Outcome: warehouse.Created}}
	if !reflect.DeepEqual(w.Rows, want) {
		t.Errorf("row outcomes %+v, want %+v", w.Rows, want)
	}
}
