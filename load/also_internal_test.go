package load

import (
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
