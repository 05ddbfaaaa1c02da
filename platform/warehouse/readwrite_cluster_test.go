package warehouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestClusterReadsItsWrites: what load inserts through a Distributed table,
// notify reads through it at once, on its own connection, every time: both
// go to the first live replica of each shard (load_balancing=in_order in
// the cluster's users.d). Replication is asynchronous: were a read sent to
// a random replica, it could miss the chunk just written to the other, and
// notify would never see an import complete.
func TestClusterReadsItsWrites(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	db := c.Config.Database
	const writes = 40
	stale := 0
	for i := range writes {
		id := fmt.Sprintf("readwrite-%d-%d", time.Now().UnixNano(), i)
		if err := c.Load.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.import_chunks (import_id, chunk, first_row, rows, created, updated, unchanged, rejected, loaded_at, version)
			SELECT ?, 1, 1, 1, 1, 0, 0, 0, now(), 1`, db), id); err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := c.Notify.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.import_chunks WHERE import_id = ?", db), id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			stale++
		}
	}
	if stale > 0 {
		t.Errorf("%d of %d reads missed the write just before them", stale, writes)
	}
}
