package warehouse_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestMigrateRekeysClients upgrades, on a real ClickHouse 18.16, a clients
// table of the release that ordered it by email, holding the rows that
// release wrote for one client whose email changed by ID (two rows with one
// ID), and checks that Migrate orders it by ID, keeps every record, and
// leaves that client once, with its latest email. It then leaves the
// migration half done in each way a crash can, and checks that Migrate
// finishes it; and that running it again changes nothing.
func TestMigrateRekeysClients(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	db := ch.Config.Database
	exec := execOn(t, ch.Conn)
	migrate := func(datasets map[string]*schemas.Dataset) {
		t.Helper()
		if err := warehouse.Migrate(ctx, ch.Conn, db, datasets, platform.DefaultPersonalDataTTL); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	byEmail := *schemas.Clients
	byEmail.Identity = ""
	before := maps.Clone(schemas.Datasets)
	before[schemas.Clients.Name] = &byEmail
	migrate(before)

	sortingKeys := func() []string {
		return strs(t, ch.Conn, "SELECT concat(name, ': ', sorting_key) FROM system.tables WHERE database = ? AND name LIKE 'clients%' ORDER BY name", db)
	}
	if got, want := sortingKeys(), []string{"clients: tenant, email", "clients_staged: import_id, email"}; !slices.Equal(got, want) {
		t.Fatalf("the old release's tables: %q, want %q", got, want)
	}
	insert := func(table string, rows ...[]any) {
		t.Helper()
		batch, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+db+"."+table+" (tenant, id, first_name, email, version)")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := batch.Append(r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insert("clients",
		[]any{"acme", "aaaaaaaaaaaaaaaaaaaaaaaa", "Ann", "ann@acme.example", uint64(1)},
		[]any{"acme", "aaaaaaaaaaaaaaaaaaaaaaaa", "Ann", "ann.new@acme.example", uint64(2)},
		[]any{"acme", "bbbbbbbbbbbbbbbbbbbbbbbb", "Bob", "bob@acme.example", uint64(1)},
		[]any{"umbrella", "aaaaaaaaaaaaaaaaaaaaaaaa", "Ann", "ann@umbrella.example", uint64(1)})
	clients := func() []string {
		return strs(t, ch.Conn, "SELECT concat(tenant, ' ', id, ' ', first_name, ' ', email) FROM "+db+".clients FINAL ORDER BY tenant, id")
	}
	want := []string{
		"acme aaaaaaaaaaaaaaaaaaaaaaaa Ann ann.new@acme.example",
		"acme bbbbbbbbbbbbbbbbbbbbbbbb Bob bob@acme.example",
		"umbrella aaaaaaaaaaaaaaaaaaaaaaaa Ann ann@umbrella.example",
	}
	rekeyed := []string{"clients: tenant, id", "clients_staged: import_id, id"}
	check := func(when string) {
		t.Helper()
		if got := sortingKeys(); !slices.Equal(got, rekeyed) {
			t.Errorf("%s: tables %q, want %q", when, got, rekeyed)
		}
		if got := clients(); !slices.Equal(got, want) {
			t.Errorf("%s: clients\n %q\nwant\n %q", when, got, want)
		}
	}

	migrate(schemas.Datasets)
	check("upgraded")
	migrate(schemas.Datasets)
	check("migrated again")

	// A crash between the two renames: the copy is whole, the table gone.
	exec("RENAME TABLE " + db + ".clients TO " + db + ".clients_rekey")
	exec("CREATE TABLE " + db + ".clients_old (x UInt8) ENGINE = Memory")
	migrate(schemas.Datasets)
	check("after a crash between the renames")

	// A crash during the copy: the old table is there with its key, and a
	// copy half made.
	migrate(before)
	exec("CREATE TABLE " + db + ".clients_rekey AS " + db + ".clients")
	insert("clients_rekey", []any{"acme", "bbbbbbbbbbbbbbbbbbbbbbbb", "Bob", "bob@acme.example", uint64(1)})
	migrate(schemas.Datasets)
	check("after a crash during the copy")
}
