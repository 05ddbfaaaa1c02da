package validate_test

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/validate"
)

// BenchmarkJudge judges a chunk of 5000 clients rows like make bench's
// (go test -bench Judge ./validate/).
func BenchmarkJudge(b *testing.B) {
	imp := schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", Mode: schemas.ModeUpdate}
	rows := make([]schemas.Row, 5000)
	for i := range rows {
		rows[i] = schemas.Row{N: i + 2, Cells: []string{fmt.Sprintf("%024x", i), "First", "Last", fmt.Sprintf("user%d@bench.example", i),
			fmt.Sprintf("%024x", i%97), fmt.Sprintf("%024x", i%89), []string{"True", "False"}[i%2],
			[]string{"Personal", "Corporate", "Partner"}[i%3], "2024-03-04T05:06:00Z"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		valid, _, err := validate.Judge(schemas.Clients, &imp, rows, nil)
		if err != nil || len(valid) != len(rows) {
			b.Fatalf("%d of %d valid: %v", len(valid), len(rows), err)
		}
	}
}
