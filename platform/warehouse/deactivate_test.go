package warehouse_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestDeactivate runs syncs on a real ClickHouse: the users a sync's keys
// leave out are blocked, once however often it runs (the audit and the
// counts do not grow), a blocked user is not counted again, another
// tenant's users are left alone, a sync over its limit deactivates nothing,
// clients are set inactive, and a run that stopped between the audit and
// the records is finished by the next one.
func TestDeactivate(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	exec := execOn(t, ch.Conn)
	exec(`INSERT INTO sluice.users (tenant, login, email, status, row_hash, import_id, version)
		SELECT 'acme', 'ann', 'ann@acme.example', 'active', 11, 'imp-0', 1
		UNION ALL SELECT 'acme', 'bob', 'bob@acme.example', 'active', 12, 'imp-0', 1
		UNION ALL SELECT 'acme', 'cat', 'cat@acme.example', 'pending', 13, 'imp-0', 1
		UNION ALL SELECT 'acme', 'dan', 'dan@acme.example', 'active', 14, 'imp-0', 1
		UNION ALL SELECT 'acme', 'eve', 'eve@acme.example', 'blocked', 15, 'imp-0', 1
		UNION ALL SELECT 'globex', 'gus', 'gus@globex.example', 'active', 16, 'imp-g', 1`)
	exec(`INSERT INTO sluice.import_keys (import_id, record_key, version)
		SELECT 'imp-1', 'ann', 10 UNION ALL SELECT 'imp-1', 'bob', 10`)
	users := func() string {
		return strings.Join(strs(t, ch.Conn, `SELECT concat(login, ':', status, ':', import_id, ':', toString(version), ':', toString(row_hash))
			FROM sluice.users FINAL ORDER BY tenant, login`), " ")
	}
	sync := &schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "users", Mode: schemas.ModeSync, Version: 10}
	var asked []int
	allow := func(would, active int) bool { asked = append(asked, would, active); return true }
	want := "ann:active:imp-0:1:11 bob:active:imp-0:1:12 cat:blocked:imp-1:10:0 dan:blocked:imp-1:10:0 eve:blocked:imp-0:1:15 gus:active:imp-g:1:16"
	for run := range 3 { // a retry, a redelivery
		d, err := warehouse.Deactivate(ctx, ch.Conn, "sluice", schemas.Users, sync, allow)
		if err != nil {
			t.Fatal(err)
		}
		if d.Deactivated != 2 || d.Refused {
			t.Errorf("run %d: %+v, want 2 deactivated", run, d)
		}
		if got := users(); got != want {
			t.Errorf("run %d: users\n%s\nwant\n%s", run, got, want)
		}
	}
	if !slices.Equal(asked, []int{2, 4}) {
		t.Errorf("allow was asked %v, want once, of 2 of 4 active users", asked)
	}
	keys, err := warehouse.Deactivated(ctx, ch.Conn, "sluice", "imp-1", 1)
	if err != nil || !slices.Equal(keys, []string{"cat"}) {
		t.Errorf("Deactivated(limit 1) = %q, %v; want cat", keys, err)
	}

	// Over the limit: nothing changes, and the next attempt asks again.
	exec(`INSERT INTO sluice.import_keys (import_id, record_key, version) SELECT 'imp-2', 'ann', 20`)
	over := &schemas.Import{ID: "imp-2", Tenant: "acme", Dataset: "users", Mode: schemas.ModeSync, Version: 20}
	for range 2 {
		d, err := warehouse.Deactivate(ctx, ch.Conn, "sluice", schemas.Users, over, func(would, active int) bool { return would*100 <= 10*active })
		if err != nil || !d.Refused || d.Deactivated != 0 || d.Would != 1 || d.Active != 2 {
			t.Errorf("over the limit: %+v, %v; want refused, 1 of 2", d, err)
		}
	}
	if got := users(); got != want {
		t.Errorf("after a refused sync: users\n%s\nwant\n%s", got, want)
	}

	// Clients are identified by ID: x changed its email by ID (x-old is
	// only its past), and the sync names its new one.
	exec(`INSERT INTO sluice.clients (tenant, id, email, first_name, active, row_hash, import_id, version)
		SELECT 'acme', 'id-x', 'x-old@acme.example', 'X', 1, 1, 'imp-0', 1 UNION ALL SELECT 'acme', 'id-x', 'x@acme.example', 'X', 1, 1, 'imp-0', 2
		UNION ALL SELECT 'acme', 'id-y', 'y@acme.example', 'Y', 1, 2, 'imp-0', 1`)
	exec(`INSERT INTO sluice.import_keys (import_id, record_key, version) SELECT 'imp-3', 'x@acme.example', 30`)
	clients := &schemas.Import{ID: "imp-3", Tenant: "acme", Dataset: "clients", Mode: schemas.ModeSync, Version: 30}
	if d, err := warehouse.Deactivate(ctx, ch.Conn, "sluice", schemas.Clients, clients, allow); err != nil || d.Deactivated != 1 {
		t.Fatalf("clients: %+v, %v; want 1 deactivated", d, err)
	}
	got := strings.Join(strs(t, ch.Conn, "SELECT concat(id, ':', email, ':', toString(active), ':', first_name) FROM sluice.clients FINAL ORDER BY id"), " ")
	if got != "id-x:x@acme.example:1:X id-y:y@acme.example:0:Y" {
		t.Errorf("clients = %s, want y inactive, its name kept, and x's old email not deactivated", got)
	}

	// A run that stopped after the audit, before the records: the next run
	// deactivates what the audit says, without deciding again.
	exec(`INSERT INTO sluice.import_deactivations (import_id, tenant, dataset, record_key, version) SELECT 'imp-4', 'acme', 'clients', 'x@acme.example', 40`)
	resumed := &schemas.Import{ID: "imp-4", Tenant: "acme", Dataset: "clients", Mode: schemas.ModeSync, Version: 40}
	d, err := warehouse.Deactivate(ctx, ch.Conn, "sluice", schemas.Clients, resumed, func(int, int) bool { t.Error("decided again"); return false })
	if err != nil || d.Deactivated != 1 {
		t.Fatalf("resumed: %+v, %v; want 1 deactivated", d, err)
	}
	got = strings.Join(strs(t, ch.Conn, "SELECT concat(id, ':', email, ':', toString(active), ':', import_id) FROM sluice.clients FINAL ORDER BY id"), " ")
	if got != "id-x:x@acme.example:0:imp-4 id-y:y@acme.example:0:imp-3" {
		t.Errorf("clients after the resumed run = %s, want both inactive", got)
	}
}
