package schemas_test

import (
	"reflect"
	"strings"
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
		{header: []string{"group name"}, layout: schemas.GroupList, row: []string{"Sales", ""}, want: [][]string{{"Sales", "0", ""}}},
		{header: []string{"Groupname", "Type"}, layout: schemas.GroupList, row: []string{"Sales", "team"}, want: [][]string{{"Sales", "0", "team"}}},
		{header: []string{"Groupname", "New Groupname"}, layout: schemas.RenameGroups, row: []string{"Sales", "Sales EMEA"},
			want: [][]string{{"Sales", "1", ""}, {"Sales EMEA", "0", ""}}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.header, ","), func(t *testing.T) {
			h, v := schemas.Groups.Match(tc.header, schemas.ModeCreate)
			got := h.Shape
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

// TestGroupTypes: a group-list's type column takes the types of the users
// columns, in any case; each users group column names a group of its own
// type (or an untyped one).
func TestGroupTypes(t *testing.T) {
	f := schemas.GroupList.Fields[schemas.GroupList.Index(schemas.GroupType)]
	for _, typ := range schemas.UserGroupTypes {
		if _, ok := f.Check(strings.ToUpper(typ), schemas.Context{}, false); !ok || f.Canonical(strings.ToUpper(typ), schemas.Context{}) != typ {
			t.Errorf("type %q is refused or not made canonical", typ)
		}
		users := schemas.Users.Fields[schemas.Users.Index(typ)]
		if users.Ref == nil || users.Ref.Type != typ || users.Ref.Table != schemas.GroupRecords.Table {
			t.Errorf("users column %s names %+v, want a group of type %s", typ, users.Ref, typ)
		}
	}
	if v, ok := f.Check("planet", schemas.Context{}, false); ok || v.Code != schemas.CodeFormat {
		t.Errorf("type planet: %+v, want a format violation", v)
	}
}
