package load_test

import (
	"testing"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/schemas"
)

// record returns a record of row n with the given email and hash.
func record(n int, email string, hash uint64) load.Record {
	cells := make([]string, len(schemas.Clients.Fields))
	cells[schemas.Clients.KeyIndex()] = email
	return load.Record{Row: schemas.Row{N: n, Cells: cells}, Chunk: 1, Hash: hash}
}

func TestDecide(t *testing.T) {
	const email = "john@example.com"
	cases := []struct {
		name    string
		audited map[int]string
		stored  map[string]uint64
		want    string
	}{
		{name: "no stored key: created", want: load.Created},
		{name: "other key stored: created", stored: map[string]uint64{"jane@example.com": 42}, want: load.Created},
		{name: "same hash: unchanged", stored: map[string]uint64{email: 42}, want: load.Unchanged},
		{name: "other hash: updated", stored: map[string]uint64{email: 41}, want: load.Updated},
		{name: "audited created wins over same hash", audited: map[int]string{2: load.Created},
			stored: map[string]uint64{email: 42}, want: load.Created},
		{name: "audited updated wins over no stored key", audited: map[int]string{2: load.Updated}, want: load.Updated},
		{name: "audited unchanged wins over other hash", audited: map[int]string{2: load.Unchanged},
			stored: map[string]uint64{email: 41}, want: load.Unchanged},
		{name: "audit of another row ignored", audited: map[int]string{3: load.Unchanged}, want: load.Created},
		{name: "audited rejected does not stand", audited: map[int]string{2: load.Rejected},
			stored: map[string]uint64{email: 41}, want: load.Updated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records := []load.Record{record(2, email, 42)}
			load.Decide(schemas.Clients, records, tc.audited, tc.stored)
			if got := records[0].Outcome; got != tc.want {
				t.Errorf("Outcome = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecideEachRecord checks that each record of a batch is decided on its
// own key and row number.
func TestDecideEachRecord(t *testing.T) {
	records := []load.Record{
		record(2, "new@example.com", 1),
		record(3, "same@example.com", 2),
		record(4, "changed@example.com", 3),
		record(5, "retried@example.com", 4),
	}
	stored := map[string]uint64{"same@example.com": 2, "changed@example.com": 99, "retried@example.com": 4}
	audited := map[int]string{5: load.Updated}
	load.Decide(schemas.Clients, records, audited, stored)
	want := []string{load.Created, load.Unchanged, load.Updated, load.Updated}
	for i, r := range records {
		if r.Outcome != want[i] {
			t.Errorf("row %d (%s): Outcome = %q, want %q", r.Row.N, r.Row.Cells[schemas.Clients.KeyIndex()], r.Outcome, want[i])
		}
	}
}

func TestRowHash(t *testing.T) {
	base := []string{"john@example.com", "John", "Doe", "1"}
	cases := []struct {
		name  string
		cells []string
		same  bool
	}{
		{name: "same cells", cells: []string{"john@example.com", "John", "Doe", "1"}, same: true},
		{name: "first cell differs", cells: []string{"jane@example.com", "John", "Doe", "1"}},
		{name: "middle cell differs", cells: []string{"john@example.com", "Jon", "Doe", "1"}},
		{name: "last cell differs", cells: []string{"john@example.com", "John", "Doe", "0"}},
		{name: "case differs", cells: []string{"john@example.com", "john", "Doe", "1"}},
		{name: "text moved between cells", cells: []string{"john@example.com", "JohnD", "oe", "1"}},
		{name: "extra empty cell", cells: []string{"john@example.com", "John", "Doe", "1", ""}},
		{name: "cells swapped", cells: []string{"john@example.com", "Doe", "John", "1"}},
	}
	h := load.RowHash(base)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := load.RowHash(tc.cells)
			if (got == h) != tc.same {
				t.Errorf("RowHash(%q) = %x, RowHash(%q) = %x; want same = %v", tc.cells, got, base, h, tc.same)
			}
		})
	}
	t.Run("shift between two cells", func(t *testing.T) {
		a, b := load.RowHash([]string{"ab", "c"}), load.RowHash([]string{"a", "bc"})
		if a == b {
			t.Errorf(`RowHash("ab", "c") = RowHash("a", "bc") = %x, want them to differ`, a)
		}
	})
}
