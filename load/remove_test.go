package load_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestDecideRemovals: a removal removes a record that exists, leaves one that
// does not (or whose latest version is a removal) unchanged, and is never
// rejected as existing; a record added again after its removal is created.
func TestDecideRemovals(t *testing.T) {
	member := schemas.Membership("Sales", "ann@acme.example")
	removal := schemas.Removal(schemas.Memberships, member)
	cases := []struct {
		name   string
		mode   string
		cells  []string
		stored *load.Stored
		want   string
	}{
		{name: "removal of a membership that exists: removed", mode: schemas.ModeRemove, cells: removal,
			stored: &load.Stored{Hash: schemas.RowHash(member)}, want: warehouse.Removed},
		{name: "removal of a membership that does not exist: unchanged", mode: schemas.ModeRemove, cells: removal, want: warehouse.Unchanged},
		{name: "removal of a removed membership: unchanged", mode: schemas.ModeRemove, cells: removal,
			stored: &load.Stored{Hash: schemas.RowHash(removal), Removed: true}, want: warehouse.Unchanged},
		{name: "a removed membership added again: created", mode: schemas.ModeCreate, cells: member,
			stored: &load.Stored{Hash: schemas.RowHash(removal), Removed: true}, want: warehouse.Created},
		{name: "a membership that exists, in create mode: rejected", mode: schemas.ModeCreate, cells: member,
			stored: &load.Stored{Hash: schemas.RowHash(member)}, want: warehouse.Rejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records := []load.Record{{Row: schemas.Row{N: 2, Cells: slices.Clone(tc.cells)}, Chunk: 1}}
			stored := map[string]load.Stored{}
			if tc.stored != nil {
				stored[member[0]] = *tc.stored
			}
			load.Decide(schemas.Memberships, &schemas.Import{Mode: tc.mode}, records, nil, stored)
			if got := records[0].Outcome; got != tc.want {
				t.Errorf("outcome = %s, want %s (%v)", got, tc.want, records[0].Violations)
			}
		})
	}
}

// TestReadersSkipRemoved: on a real ClickHouse, every reader of the group
// tables takes a record's latest version and skips it when it is a removal:
// Stored, Existing (the groups a users row names), GroupsOf (a mirrored
// user's groups) and Members (a removed or renamed group's). A record added
// again after its removal is read again.
func TestReadersSkipRemoved(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	wh := &load.ClickHouse{Conn: ch.Load, Database: "sluice"}
	ctx := context.Background()
	write := func(version uint64, ds *schemas.Dataset, cells ...[]string) {
		t.Helper()
		w := &load.Write{Dataset: ds, Import: schemas.Import{ID: "imp", Tenant: "acme", Version: version}}
		for i, c := range cells {
			w.Records = append(w.Records, load.Record{Row: schemas.Row{N: i + 2, Cells: c}, Chunk: 1, Hash: schemas.RowHash(c), Outcome: warehouse.Created})
		}
		if err := wh.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	group := func(name string) []string { return schemas.Group(name, "") }
	write(1, schemas.GroupRecords, group("Sales"), group("Support"), group("Ops"))
	write(1, schemas.Memberships, schemas.Membership("Sales", "ann@acme.example"), schemas.Membership("Sales", "bob@acme.example"),
		schemas.Membership("Support", "ann@acme.example"), schemas.Membership("Ops", "ann@acme.example"))
	// Version 2 removes Support (and Ann's membership of it) and Bob from
	// Sales; version 3 adds Ops back after version 2 removed it.
	write(2, schemas.GroupRecords, schemas.Removal(schemas.GroupRecords, group("Support")), schemas.Removal(schemas.GroupRecords, group("Ops")))
	write(2, schemas.Memberships, schemas.Removal(schemas.Memberships, schemas.Membership("Support", "ann@acme.example")),
		schemas.Removal(schemas.Memberships, schemas.Membership("Sales", "bob@acme.example")),
		schemas.Removal(schemas.Memberships, schemas.Membership("Ops", "ann@acme.example")))
	write(3, schemas.GroupRecords, group("Ops"))
	write(3, schemas.Memberships, schemas.Membership("Ops", "ann@acme.example"))

	stored, err := wh.Stored(ctx, schemas.GroupRecords, "acme", []string{"Sales", "Support", "Ops"}, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"Sales": false, "Support": true, "Ops": false} {
		if s, ok := stored[name]; !ok || s.Removed != want {
			t.Errorf("Stored[%s] = %+v (found %v), want Removed %v", name, s, ok, want)
		}
	}
	found, err := wh.Existing(ctx, &schemas.Ref{Table: schemas.GroupRecords.Table, Column: "name"}, "acme", []string{"Sales", "Support", "Ops", "Nope"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"Sales": true, "Ops": true}; !reflect.DeepEqual(found, want) {
		t.Errorf("Existing = %v, want %v", found, want)
	}
	groups, err := wh.GroupsOf(ctx, "acme", "ann@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Ops", "Sales"}; !slices.Equal(groups, want) {
		t.Errorf("GroupsOf(ann) = %v, want %v", groups, want)
	}
	members, err := wh.Members(ctx, "acme", []string{"Sales", "Support", "Ops"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"Sales": {"ann@acme.example"}, "Ops": {"ann@acme.example"}}; !reflect.DeepEqual(members, want) {
		t.Errorf("Members = %v, want %v", members, want)
	}
	// Before version 2, Bob was in Sales and Ann in Support.
	members, err = wh.Members(ctx, "acme", []string{"Sales", "Support"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"Sales": {"ann@acme.example", "bob@acme.example"}, "Support": {"ann@acme.example"}}; !reflect.DeepEqual(members, want) {
		t.Errorf("Members before version 2 = %v, want %v", members, want)
	}
}

// TestExistingTypedGroups: on a real ClickHouse, a users column of a type
// finds the groups of that type and the untyped ones, by their latest
// version; a look-up of no type finds every group.
func TestExistingTypedGroups(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	wh := &load.ClickHouse{Conn: ch.Load, Database: "sluice"}
	ctx := context.Background()
	write := func(version uint64, cells ...[]string) {
		t.Helper()
		w := &load.Write{Dataset: schemas.GroupRecords, Import: schemas.Import{ID: "imp", Tenant: "acme", Version: version}}
		for i, c := range cells {
			w.Records = append(w.Records, load.Record{Row: schemas.Row{N: i + 2, Cells: c}, Chunk: 1, Hash: schemas.RowHash(c), Outcome: warehouse.Created})
		}
		if err := wh.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	write(1, schemas.Group("Sales", ""), schemas.Group("North", "region"), schemas.Group("Misc", ""))
	write(2, schemas.Group("Sales", "team")) // typed later
	all := []string{"Sales", "North", "Misc"}
	for typ, want := range map[string]map[string]bool{
		"team":   {"Sales": true, "Misc": true},
		"region": {"North": true, "Misc": true},
		"city":   {"Misc": true},
		"":       {"Sales": true, "North": true, "Misc": true},
	} {
		found, err := wh.Existing(ctx, &schemas.Ref{Table: schemas.GroupRecords.Table, Column: "name", Type: typ}, "acme", all)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(found, want) {
			t.Errorf("Existing of type %q = %v, want %v", typ, found, want)
		}
	}
}
