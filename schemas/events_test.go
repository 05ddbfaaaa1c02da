package schemas_test

import (
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestRowEmpty: a row's empty-cell marks are set, cleared and read one field
// at a time, over the whole 64-field mask.
func TestRowEmpty(t *testing.T) {
	cases := []struct {
		name    string
		set     []int
		clear   []int
		empty   []int // the fields IsEmpty reports
		anyWant bool
	}{
		{name: "none"},
		{name: "first field", set: []int{0}, empty: []int{0}, anyWant: true},
		{name: "last field", set: []int{schemas.MaxFields - 1}, empty: []int{schemas.MaxFields - 1}, anyWant: true},
		{name: "several", set: []int{1, 3, 8}, empty: []int{1, 3, 8}, anyWant: true},
		{name: "set twice", set: []int{2, 2}, empty: []int{2}, anyWant: true},
		{name: "cleared", set: []int{4}, clear: []int{4}},
		{name: "cleared one of two", set: []int{4, 5}, clear: []int{5}, empty: []int{4}, anyWant: true},
		{name: "clearing an unset field", clear: []int{6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r schemas.Row
			for _, i := range tc.set {
				r.SetEmpty(i)
			}
			for _, i := range tc.clear {
				r.ClearEmpty(i)
			}
			want := make(map[int]bool, len(tc.empty))
			for _, i := range tc.empty {
				want[i] = true
			}
			for i := range schemas.MaxFields {
				if got := r.IsEmpty(i); got != want[i] {
					t.Errorf("IsEmpty(%d) = %v, want %v", i, got, want[i])
				}
			}
			if got := r.AnyEmpty(); got != tc.anyWant {
				t.Errorf("AnyEmpty() = %v, want %v", got, tc.anyWant)
			}
		})
	}
}
