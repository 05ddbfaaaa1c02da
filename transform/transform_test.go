package transform_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/transform"
)

// cells returns a row in field order from cells by field name.
func cells(t *testing.T, byName map[string]string) []string {
	t.Helper()
	out := make([]string, len(schemas.Clients.Fields))
	for name, v := range byName {
		i := schemas.Clients.Index(name)
		if i < 0 {
			t.Fatalf("no field %q", name)
		}
		out[i] = v
	}
	return out
}

func TestRecords(t *testing.T) {
	imp := schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients",
		ReceivedAt: time.Date(2025, 3, 1, 12, 30, 45, 0, time.FixedZone("CET", 3600))}
	cases := []struct {
		name  string
		in    map[string]string
		want  map[string]string
		empty []string // the fields the file left empty
	}{
		{name: "every field given, normalised",
			in: map[string]string{
				"ID": "666C2C2F32735479FD3E9A5C", "firstName": " John ", "lastName": "Doe ", "email": " John.Doe@Example.COM",
				"project": "66524609CAA3558DD8F8DA65", "desk": "67a346ad8092c651c919337e",
				"active": "FALSE", "type": "corporate", "created": "2025-01-15T09:30:00+01:00"},
			want: map[string]string{
				"ID": "666c2c2f32735479fd3e9a5c", "firstName": "John", "lastName": "Doe", "email": "john.doe@example.com",
				"project": "66524609caa3558dd8f8da65", "desk": "67a346ad8092c651c919337e",
				"active": "0", "type": "Corporate", "created": "2025-01-15 08:30:00"}},
		{name: "required only, defaults filled",
			in: map[string]string{"firstName": "Jane", "email": "jane@example.com"},
			want: map[string]string{
				"ID": schemas.DerivedID("acme", "jane@example.com"), "firstName": "Jane", "email": "jane@example.com",
				"active": "1", "type": "Personal", "created": "2025-03-01 11:30:45"},
			empty: []string{"ID", "lastName", "project", "desk", "active", "type", "created"}},
		{name: "derived ID uses the canonical key, spaces are empty",
			in: map[string]string{"firstName": "Jane", "email": "  JANE@Example.com ", "active": "  ", "created": "2024-08-01"},
			want: map[string]string{
				"ID": schemas.DerivedID("acme", "jane@example.com"), "firstName": "Jane", "email": "jane@example.com",
				"active": "1", "type": "Personal", "created": "2024-08-01 00:00:00"},
			empty: []string{"ID", "lastName", "project", "desk", "active", "type"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := []schemas.Row{{N: 2, Cells: cells(t, tc.in)}}
			if _, err := transform.Records(schemas.Clients, &imp, rows, nil); err != nil {
				t.Fatal(err)
			}
			if want := cells(t, tc.want); !reflect.DeepEqual(rows[0].Cells, want) {
				t.Errorf("Records cells =\n %q\nwant\n %q", rows[0].Cells, want)
			}
			var want schemas.Row
			for _, name := range tc.empty {
				want.SetEmpty(schemas.Clients.Index(name))
			}
			for i, f := range schemas.Clients.Fields {
				if got := rows[0].IsEmpty(i); got != want.IsEmpty(i) {
					t.Errorf("Records IsEmpty(%s) = %v, want %v (empty: %v)", f.Name, got, want.IsEmpty(i), tc.empty)
				}
			}
			if rows[0].AnyEmpty() != want.AnyEmpty() {
				t.Errorf("Records AnyEmpty = %v, want %v", rows[0].AnyEmpty(), want.AnyEmpty())
			}
			if rows[0].N != 2 {
				t.Errorf("Records changed N to %d, want 2", rows[0].N)
			}
		})
	}
}

func TestRecordsDeterministic(t *testing.T) {
	imp := schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", ReceivedAt: time.Unix(1718291162, 0)}
	input := [][]string{
		cells(t, map[string]string{"firstName": "John", "email": "John@Example.com"}),
		cells(t, map[string]string{"firstName": "Jane", "email": "jane@example.com", "active": "0", "type": "partner"}),
	}
	cases := []struct {
		name string
		imp  schemas.Import
		same bool
	}{
		{name: "same import redelivered", imp: imp, same: true},
		{name: "other tenant", imp: schemas.Import{ID: "imp-2", Tenant: "beta", Dataset: "clients", ReceivedAt: imp.ReceivedAt}},
	}
	run := func(imp schemas.Import) []schemas.Row {
		rows := make([]schemas.Row, len(input))
		for i, c := range input {
			rows[i] = schemas.Row{N: i + 2, Cells: slices.Clone(c)}
		}
		if _, err := transform.Records(schemas.Clients, &imp, rows, nil); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	first := run(imp)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			again := run(tc.imp)
			if same := reflect.DeepEqual(first, again); same != tc.same {
				t.Errorf("records =\n %+v\nand\n %+v\nwant same = %v", first, again, tc.same)
			}
		})
	}
}
