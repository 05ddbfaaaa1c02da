package warehouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestRevise, on a real ClickHouse as notify's user (no DDL): a new version
// of a record copies the latest one with the changed cells and their hash,
// keeps where it came from, and is newer than the latest and than an
// upload made before; change refusing, or no such record, writes nothing;
// a cell that is not text may not change.
func TestRevise(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	// Two versions of acme's clients record, identified by its ID (its
	// email changed); the later one counts.
	if err := ch.Conn.Exec(ctx, `INSERT INTO sluice.clients (tenant, id, email, first_name, last_name, active, import_id, row, version, row_hash, loaded_at)
		SELECT 'acme', 'c-ann', 'ann.old@acme.example', 'Ann', 'Old', 1, 'imp-1', 2, 10, 0, now()
		UNION ALL SELECT 'acme', 'c-ann', 'ann@acme.example', 'Ann', 'Avery', 1, 'imp-2', 3, 20, 0, now()`); err != nil {
		t.Fatal(err)
	}
	c := schemas.Clients
	last := c.Index("lastName")
	before := uint64(time.Now().UnixMilli()) << 20
	var seen []string
	done, err := warehouse.Revise(ctx, ch.Notify, "sluice", c, "acme", "c-ann", func(cells []string) bool {
		seen = append([]string(nil), cells...)
		cells[last] = "Avery-Smith"
		return true
	})
	if err != nil || !done {
		t.Fatalf("Revise = %v, %v; want done", done, err)
	}
	if seen[last] != "Avery" {
		t.Errorf("change was given %q, want the latest version's cells", seen)
	}
	want := append([]string(nil), seen...)
	want[last] = "Avery-Smith"
	var first, lastName, importID string
	var active uint8
	var row uint32
	var hash, version uint64
	err = ch.Conn.QueryRow(ctx, `SELECT first_name, last_name, active, import_id, row, row_hash, version
		FROM sluice.clients FINAL WHERE tenant = 'acme' AND id = 'c-ann'`).Scan(&first, &lastName, &active, &importID, &row, &hash, &version)
	if err != nil {
		t.Fatal(err)
	}
	if first != "Ann" || lastName != "Avery-Smith" || active != 1 || importID != "imp-2" || row != 3 {
		t.Errorf("the new version: %s %s, active %d, from %s row %d; want Ann Avery-Smith, active, from imp-2 row 3", first, lastName, active, importID, row)
	}
	if hash != schemas.RowHash(want) {
		t.Errorf("row_hash %d, want the hash of %q", hash, want)
	}
	if version <= before {
		t.Errorf("version %d, want one later than an upload made before (%d)", version, before)
	}

	for name, tc := range map[string]struct {
		key    string
		change func([]string) bool
	}{
		"change refuses": {"c-ann", func([]string) bool { return false }},
		"no such record": {"c-bob", func(cells []string) bool { cells[last] = "x"; return true }},
		// An email names no record: a client's identity is its ID.
		"an email": {"ann@acme.example", func(cells []string) bool { cells[last] = "x"; return true }},
	} {
		n := strs(t, ch.Conn, "SELECT toString(count()) FROM sluice.clients")
		if done, err := warehouse.Revise(ctx, ch.Notify, "sluice", c, "acme", tc.key, tc.change); err != nil || done {
			t.Errorf("%s: Revise = %v, %v; want not done", name, done, err)
		}
		if after := strs(t, ch.Conn, "SELECT toString(count()) FROM sluice.clients"); after[0] != n[0] {
			t.Errorf("%s: %s versions, then %s", name, n[0], after[0])
		}
	}
	flag := c.Index("active")
	if _, err := warehouse.Revise(ctx, ch.Notify, "sluice", c, "acme", "c-ann", func(cells []string) bool { cells[flag] = "0"; return true }); err == nil {
		t.Error("Revise changed a Bool cell, want an error")
	}
}
