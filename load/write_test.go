package load_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestWriteLandsEveryRowOnce: a write larger than the blocks an insert is
// sent in (records, outcomes and rejections) lands in ClickHouse whole, each
// row once with its own values, and writing it again changes nothing.
func TestWriteLandsEveryRowOnce(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	const loaded, rejected = 20000, 9000 // both more than a block
	imp := schemas.Import{ID: "imp-blocks", Tenant: "acme", Dataset: "clients", Version: 7}
	w := &load.Write{Dataset: schemas.Clients, Import: imp, Rejected: map[int][]schemas.Rejected{}}
	for i := range loaded + rejected {
		n, chunk := i+2, i/1000+1
		if i >= loaded {
			w.Rejected[chunk] = append(w.Rejected[chunk], schemas.Rejected{N: n, Violations: []schemas.Violation{
				{Column: "email", Code: schemas.CodeFormat, Message: schemas.MsgFormat, Value: fmt.Sprintf("bad%d", n)}}})
			continue
		}
		cells := []string{fmt.Sprintf("%024x", n), "Ann", "", fmt.Sprintf("ann%d@acme.example", n), "", "", "1", "Personal", "2024-01-01 00:00:00"}
		w.Records = append(w.Records, load.Record{Row: schemas.Row{N: n, Cells: cells}, Chunk: chunk, Hash: schemas.RowHash(cells), Outcome: warehouse.Created})
		w.Rows = append(w.Rows, load.RowOutcome{N: n, Chunk: chunk, Outcome: warehouse.Created})
	}
	for chunk := 1; chunk <= (loaded+rejected)/1000; chunk++ {
		w.Chunks = append(w.Chunks, load.ChunkReport{Number: chunk, FirstRow: (chunk-1)*1000 + 2, Counts: schemas.Counts{Rows: 1000}})
	}
	wh := &load.ClickHouse{Conn: ch.Load, Database: "sluice"}
	ctx := context.Background()
	for attempt := 1; attempt <= 2; attempt++ {
		if err := wh.Write(ctx, w); err != nil {
			t.Fatalf("write %d: %v", attempt, err)
		}
		for _, c := range []struct {
			query string
			want  uint64
		}{
			{"SELECT count() FROM sluice.clients FINAL WHERE import_id = ?", loaded},
			{"SELECT uniqExact(row) FROM sluice.clients WHERE import_id = ?", loaded},
			// Each record has its own row's email.
			{"SELECT countIf(email = concat('ann', toString(row), '@acme.example')) FROM sluice.clients FINAL WHERE import_id = ?", loaded},
			{"SELECT count() FROM sluice.import_rows FINAL WHERE import_id = ?", loaded + rejected},
			{"SELECT uniqExact(row) FROM sluice.import_rows WHERE import_id = ?", loaded + rejected},
			{"SELECT countIf(outcome = 'rejected') FROM sluice.import_rows FINAL WHERE import_id = ?", rejected},
			{"SELECT countIf(values = [concat('bad', toString(row))]) FROM sluice.import_rejections FINAL WHERE import_id = ?", rejected},
			{"SELECT count() FROM sluice.import_chunks FINAL WHERE import_id = ?", (loaded + rejected) / 1000},
		} {
			var got uint64
			if err := ch.Conn.QueryRow(ctx, c.query, imp.ID).Scan(&got); err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			if got != c.want {
				t.Errorf("after write %d: %s = %d, want %d", attempt, c.query, got, c.want)
			}
		}
	}
}
