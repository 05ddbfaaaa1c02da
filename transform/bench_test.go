package transform_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/transform"
)

// BenchmarkRecords transforms a chunk of 5000 clients rows like make
// bench's (go test -bench Records ./transform/).
func BenchmarkRecords(b *testing.B) {
	imp := schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", ReceivedAt: time.Now()}
	in := make([][]string, 5000)
	for i := range in {
		in[i] = []string{fmt.Sprintf("%024x", i), "First", "Last", fmt.Sprintf("user%d@bench.example", i), fmt.Sprintf("%024x", i%97),
			fmt.Sprintf("%024x", i%89), []string{"True", "False"}[i%2], []string{"Personal", "Corporate", "Partner"}[i%3], "2024-03-04T05:06:00Z"}
	}
	rows := make([]schemas.Row, len(in))
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows {
			rows[i] = schemas.Row{N: i + 2, Cells: append([]string(nil), in[i]...)}
		}
		if _, err := transform.Records(schemas.Clients, &imp, rows, nil); err != nil {
			b.Fatal(err)
		}
	}
}
