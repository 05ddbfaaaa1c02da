package schemas_test

import (
	"reflect"
	"slices"
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

// TestRecordKeys: a sync keeps the records of its rejected rows, so a
// rejected row of a members layout names the memberships it stands for,
// read as load would store them (lower-case emails), whatever made it bad;
// a value that cannot be read names none. Only files of members sync.
func TestRecordKeys(t *testing.T) {
	for _, c := range []struct {
		ds    *schemas.Dataset
		cells []string
		want  []string
	}{
		{schemas.UserBased, []string{" Jane@Example.com ", "J4ne", "Roe", "Sales" + schemas.ListSep + "Ops"}, []string{"jane@example.com Sales", "jane@example.com Ops"}},
		{schemas.UserBased, []string{"", "Jane", "Roe", "Sales"}, nil},
		{schemas.GroupBased, []string{"Sales", "a@example.com" + schemas.ListSep + "B@example.com"}, []string{"a@example.com Sales", "b@example.com Sales"}},
		{schemas.GroupBased, []string{"", "a@example.com"}, nil},
	} {
		if got := c.ds.RecordKeys(c.cells); !slices.Equal(got, c.want) {
			t.Errorf("%s.RecordKeys(%q) = %q, want %q", c.ds.Name, c.cells, got, c.want)
		}
	}
	client := make([]string, len(schemas.Clients.Fields))
	client[schemas.Clients.KeyIndex()] = "Jo@Example.com"
	if got := schemas.Clients.RecordKeys(client); !slices.Equal(got, []string{"jo@example.com"}) {
		t.Errorf("a client's keys: %q, want its email", got)
	}
	for ds, want := range map[*schemas.Dataset]bool{schemas.Groups: true, schemas.GroupBased: true, schemas.UserBased: true, schemas.GroupList: false, schemas.RenameGroups: false, schemas.Users: true, schemas.Clients: true, schemas.Accounts: false} {
		if ds.Syncs() != want {
			t.Errorf("%s.Syncs() = %v, want %v", ds.Name, !want, want)
		}
	}
}
