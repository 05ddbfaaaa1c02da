package notify_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestStalled: on a real ClickHouse, an import still processing that was
// received long ago and has no chunk loaded since counts as stalled, by
// tenant and dataset; one that progresses, one received lately and one that
// ended do not.
func TestStalled(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	store := &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"}
	long := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	save := func(id, tenant, status string, received time.Time) {
		t.Helper()
		rec := notify.ImportRecord{Import: schemas.Import{ID: id, Tenant: tenant, Dataset: "clients", ReceivedAt: received}, Status: status}
		if err := store.SaveImport(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	save("stuck", "acme", schemas.StatusProcessing, long)
	save("stuck-too", "acme", schemas.StatusReceived, long)
	save("moving", "acme", schemas.StatusProcessing, long)
	save("new", "globex", schemas.StatusProcessing, time.Now().UTC())
	save("ended", "globex", schemas.StatusProcessing, long)
	save("ended", "globex", schemas.StatusCompleted, long)
	batch, err := ch.Conn.PrepareBatch(ctx, warehouse.ImportChunks.Insert("sluice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append("moving", uint32(1), uint32(2), uint32(10), uint32(10), uint32(0), uint32(0), uint32(0), time.Now().UTC(), uint64(1),
		uint32(0), uint32(0), uint32(0), uint32(0), uint32(0)); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	got, err := store.Stalled(ctx, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []notify.Stalled{{Tenant: "acme", Dataset: "clients", Imports: 2}}
	if !slices.Equal(got, want) {
		t.Errorf("Stalled = %+v, want %+v", got, want)
	}
}
