package schemas_test

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestGroupsLayouts: a groups file's header picks its layout, and each
// layout's row pivots into the records load writes: memberships, groups, or
// a rename's removal of the old group and the new one.
func TestGroupsLayouts(t *testing.T) {
	cases := []struct {
		header []string
		layout *schemas.Dataset
		row    []string
		want   [][]string
	}{
		{header: []string{"Groupname", "Email", "Email"}, layout: schemas.GroupBased, row: []string{"Sales", "a@x.io" + schemas.ListSep + "b@x.io"},
			want: [][]string{{"a@x.io Sales", "Sales", "a@x.io", "0"}, {"b@x.io Sales", "Sales", "b@x.io", "0"}}},
		{header: []string{"email", "FirstName", "Groupname"}, layout: schemas.UserBased, row: []string{"a@x.io", "", "", "Sales"},
			want: [][]string{{"a@x.io Sales", "Sales", "a@x.io", "0"}}},
		{header: []string{"group name"}, layout: schemas.GroupList, row: []string{"Sales"}, want: [][]string{{"Sales", "0"}}},
		{header: []string{"Groupname", "New Groupname"}, layout: schemas.RenameGroups, row: []string{"Sales", "Sales EMEA"},
			want: [][]string{{"Sales", "1"}, {"Sales EMEA", "0"}}},
	}
	for _, tc := range cases {
		t.Run(tc.layout.Name, func(t *testing.T) {
			got, _, v := schemas.Groups.Match(tc.header)
			if v != nil || got != tc.layout {
				t.Fatalf("Match(%q) = %v, %v; want %s", tc.header, got, v, tc.layout.Name)
			}
			if records := got.Pivot(tc.row); !reflect.DeepEqual(records, tc.want) {
				t.Errorf("Pivot(%q) = %q, want %q", tc.row, records, tc.want)
			}
		})
	}
}

// TestRemovals: only groups and memberships may be removed; a removal is
// the record with its removed cell set, and says so.
func TestRemovals(t *testing.T) {
	for name, want := range map[string]bool{"groups": true, "group_members": true, "users": false, "clients": false, "accounts": false} {
		ds, _ := schemas.Lookup(name)
		if got := schemas.RemovesRecords(ds); got != want {
			t.Errorf("RemovesRecords(%s) = %v, want %v", name, got, want)
		}
	}
	m := schemas.Membership("Sales", "a@x.io")
	r := schemas.Removal(schemas.Memberships, m)
	if schemas.Memberships.IsRemoval(m) || !schemas.Memberships.IsRemoval(r) || m[3] != "0" {
		t.Errorf("membership %q, its removal %q", m, r)
	}
	for table, want := range map[string]*schemas.Dataset{"groups": schemas.GroupRecords, "group_members": schemas.Memberships, "users": nil, "accounts": nil} {
		got, ok := schemas.Removing(table)
		if got != want || ok != (want != nil) {
			t.Errorf("Removing(%s) = %v, %v", table, got, ok)
		}
	}
}
