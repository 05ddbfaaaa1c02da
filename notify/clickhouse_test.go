package notify_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// TestImportLabels: on a real ClickHouse whose imports table predates the
// labels column, a migration adds it (the imports already there have none),
// and an import's labels are saved and read back with its later statuses.
func TestImportLabels(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	db := ch.Config.Database
	var defs []string
	for _, c := range warehouse.Imports.Columns {
		if c.Name != "labels" {
			defs = append(defs, c.Name+" "+c.Type)
		}
	}
	for _, q := range []string{
		"DROP TABLE " + db + ".imports",
		fmt.Sprintf("CREATE TABLE %s.imports (%s) ENGINE = ReplacingMergeTree(version) ORDER BY import_id", db, strings.Join(defs, ", ")),
		"INSERT INTO " + db + ".imports (import_id, tenant, status, version) SELECT 'before', 'acme', 'completed', 6",
	} {
		if err := ch.Conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := warehouse.Migrate(ctx, ch.Conn, db, schemas.Datasets, time.Hour); err != nil {
		t.Fatal(err)
	}

	store := &notify.ClickHouse{Conn: ch.Notify, Database: db}
	read := func(id string) notify.ImportRecord {
		t.Helper()
		r, ok, err := store.Import(ctx, id)
		if err != nil || !ok {
			t.Fatalf("import %s: %v %v", id, ok, err)
		}
		return r
	}
	if r := read("before"); len(r.Labels) != 0 || r.Status != schemas.StatusCompleted {
		t.Errorf("an import from before the column: %s with labels %q, want completed with none", r.Status, r.Labels)
	}
	labels := []string{"is manager -> manager", "Логин -> login"}
	rec := notify.ImportRecord{Import: schemas.Import{ID: "after", Tenant: "acme", Dataset: "users", Labels: labels},
		Status: schemas.StatusProcessing}
	if err := store.SaveImport(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec = read("after")
	rec.Status = schemas.StatusCompleted
	if err := store.SaveImport(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if r := read("after"); !slices.Equal(r.Labels, labels) || r.Status != schemas.StatusCompleted {
		t.Errorf("read back %s with labels %q, want completed with %q", r.Status, r.Labels, labels)
	}
}

// TestImports: on a real ClickHouse, Imports reads each import in its
// latest status, newest upload first, and a condition on the status
// matches the status an import is in now, never one it has left; offset
// and limit page the list. Import reads one.
func TestImports(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	store := &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"}
	for i, s := range []struct{ id, status string }{
		{"first", schemas.StatusProcessing}, {"first", schemas.StatusCompleted},
		{"second", schemas.StatusProcessing},
		{"third", schemas.StatusReceived}, {"third", schemas.StatusProcessing}, {"third", schemas.StatusCompletedWithErrors},
	} {
		n := map[string]uint64{"first": 1, "second": 2, "third": 3}[s.id]
		rec := notify.ImportRecord{Import: schemas.Import{ID: s.id, Tenant: "acme", Dataset: "clients", Version: n << 20,
			ReceivedAt: time.Unix(int64(1e9+i), 0).UTC()}, Status: s.status}
		if err := store.SaveImport(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(where string, args []any, offset, limit int) string {
		t.Helper()
		recs, err := store.Imports(ctx, where, args, offset, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.ID+":"+r.Status)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		where         string
		args          []any
		offset, limit int
		want          string
	}{
		{"1", nil, 0, 10, "third:completed_with_errors second:processing first:completed"},
		{"status = ?", []any{schemas.StatusProcessing}, 0, 10, "second:processing"},
		{"status = ?", []any{schemas.StatusReceived}, 0, 10, ""},
		{"tenant = ? AND dataset = ?", []any{"acme", "clients"}, 1, 1, "second:processing"},
		{"tenant = ?", []any{"globex"}, 0, 10, ""},
	} {
		if got := ids(c.where, c.args, c.offset, c.limit); got != c.want {
			t.Errorf("Imports(%q, %v, %d, %d) = %q, want %q", c.where, c.args, c.offset, c.limit, got, c.want)
		}
	}
	if rec, ok, err := store.Import(ctx, "third"); err != nil || !ok || rec.Status != schemas.StatusCompletedWithErrors {
		t.Errorf("Import(third) = %s %v %v, want completed_with_errors", rec.Status, ok, err)
	}
	if _, ok, err := store.Import(ctx, "none"); err != nil || ok {
		t.Errorf("Import(none) = %v %v, want not found", ok, err)
	}
}
