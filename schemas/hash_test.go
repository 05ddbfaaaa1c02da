package schemas_test

import (
	"hash/fnv"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

func TestRowHash(t *testing.T) {
	base := []string{"john@example.com", "John", "Doe", "1"}
	cases := []struct {
		name  string
		a, b  []string
		equal bool
	}{
		{name: "same cells", a: base, b: []string{"john@example.com", "John", "Doe", "1"}, equal: true},
		{name: "first cell differs", a: base, b: []string{"jane@example.com", "John", "Doe", "1"}},
		{name: "middle cell differs", a: base, b: []string{"john@example.com", "Jon", "Doe", "1"}},
		{name: "last cell differs", a: base, b: []string{"john@example.com", "John", "Doe", "0"}},
		{name: "case differs", a: base, b: []string{"john@example.com", "john", "Doe", "1"}},
		{name: "cells swapped", a: base, b: []string{"john@example.com", "Doe", "John", "1"}},
		{name: "extra empty cell", a: base, b: []string{"john@example.com", "John", "Doe", "1", ""}},
		{name: "text shifted between cells", a: []string{"ab", "c"}, b: []string{"a", "bc"}},
		{name: "empty cell moved", a: []string{"", "a"}, b: []string{"a", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ha, hb := schemas.RowHash(tc.a), schemas.RowHash(tc.b)
			if (ha == hb) != tc.equal {
				t.Errorf("schemas.RowHash(%q) = %x, schemas.RowHash(%q) = %x; want equal = %v", tc.a, ha, tc.b, hb, tc.equal)
			}
		})
	}
}

// TestRowHashIsFNV1a: stored hashes must never change, so RowHash must stay
// FNV-1a over the cells, each followed by a zero byte.
func TestRowHashIsFNV1a(t *testing.T) {
	for _, cells := range [][]string{{}, {""}, {"a"}, {"John", "Doe", "john.doe@acme.example"}, {"é", "日本"}} {
		h := fnv.New64a()
		for _, c := range cells {
			h.Write([]byte(c))
			h.Write([]byte{0})
		}
		if got, want := schemas.RowHash(cells), h.Sum64(); got != want {
			t.Errorf("schemas.RowHash(%q) = %x, want FNV-1a %x", cells, got, want)
		}
	}
}
