package warehouse_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

func TestStatements(t *testing.T) {
	cases := []struct {
		name, got, want string
	}{
		{"insert lists every column", warehouse.ImportRows.Insert("db"),
			"INSERT INTO db.import_rows (import_id, row, chunk, outcome, version)"},
		{"select reads enums as strings, with FINAL", warehouse.ImportRows.Select("db"),
			"SELECT import_id, row, chunk, toString(outcome), version FROM db.import_rows FINAL"},
		{"rejections", warehouse.SelectRejections("db"),
			"SELECT row, columns, codes, messages, values FROM db.import_rejections FINAL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got  %q\nwant %q", tc.got, tc.want)
			}
		})
	}
}

func TestRejectionArraysRoundTrip(t *testing.T) {
	vs := []schemas.Violation{
		{Column: "email", Code: "format", Message: "bad email", Value: "x@"},
		{Column: "phone", Code: "format", Message: "bad phone", Value: "+7"},
	}
	cols, codes, msgs, vals := warehouse.RejectionArrays(vs)
	want := [][]string{{"email", "phone"}, {"format", "format"}, {"bad email", "bad phone"}, {"x@", "+7"}}
	for i, got := range [][]string{cols, codes, msgs, vals} {
		if !slices.Equal(got, want[i]) {
			t.Errorf("array %d = %q, want %q", i, got, want[i])
		}
	}
}

// TestMigrate migrates a real ClickHouse twice (a restart), then checks that
// every audit table and dataset table has exactly the columns the contract
// declares, in order, so that an insert by the contract's column list fits,
// and that a rejection written by the contract reads back whole.
func TestMigrate(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	db := ch.Config.Database
	if err := warehouse.Migrate(ctx, ch.Conn, db, schemas.Datasets, platform.DefaultPersonalDataTTL); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	columns := func(table string) []string {
		// system.columns lists a table's columns in order (18.16 has no position).
		return strs(t, ch.Conn, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, table)
	}
	for _, tbl := range warehouse.AuditTables {
		want := tbl.Names()
		for _, c := range tbl.Filled {
			want = append(want, c.Name)
		}
		if got := columns(tbl.Name); !slices.Equal(got, want) {
			t.Errorf("%s columns = %q, want %q", tbl.Name, got, want)
		}
	}
	for _, ds := range schemas.Datasets {
		for _, target := range ds.Writes() {
			for _, table := range []string{target.Table, warehouse.StagedTable(target.Table)} {
				if got := columns(table); !slices.Equal(got, warehouse.DatasetColumns(target)) {
					t.Errorf("%s columns = %q, want %q", table, got, warehouse.DatasetColumns(target))
				}
			}
		}
	}

	vs := []schemas.Violation{{Column: "email", Code: "format", Message: "bad, \"quoted\"", Value: "=1+1"}}
	cols, codes, msgs, vals := warehouse.RejectionArrays(vs)
	batch, err := ch.Conn.PrepareBatch(ctx, warehouse.ImportRejections.Insert(db))
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append("imp", uint32(7), "acme", "clients", cols, codes, msgs, vals, uint64(1)); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	rows, err := ch.Conn.Query(ctx, warehouse.SelectRejections(db)+" WHERE import_id = ?", "imp")
	if err != nil {
		t.Fatal(err)
	}
	var got []schemas.Rejected
	if err := warehouse.ScanRejections(rows, func(r schemas.Rejected) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].N != 7 || !slices.Equal(got[0].Violations, vs) {
		t.Errorf("read back %+v, want row 7 with %+v", got, vs)
	}
}

// TestExpire writes rejections and staged records older and newer than the
// TTL on a real ClickHouse (18.16 has no table TTL), runs Expire as the
// migration user, and checks that exactly the expired ones are gone: old
// rejections, the staged records of an ended import and old staged
// records; a new rejection, and the staged records of a running import, of
// a failed one (a replay completes it), of one that requires intervention
// (`sluice continue` loads them) and of a preview (`sluice confirm` loads
// them), stay, while younger than the TTL. The same for the keys of syncs
// (gone once ended or old) and their deactivations (gone once old).
func TestExpire(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	exec := execOn(t, ch.Conn)
	exec(`INSERT INTO sluice.import_rejections (import_id, row, tenant, dataset, columns, codes, messages, values, version, written_at)
		SELECT 'old', 1, 't', 'clients', ['email'], ['format'], ['bad'], ['x@'], 1, now() - 2 * 86400
		UNION ALL SELECT 'new', 1, 't', 'clients', ['email'], ['format'], ['bad'], ['y@'], 1, now() - 3600`)
	exec(`INSERT INTO sluice.imports (import_id, status, version)
		SELECT 'ended', 'completed', 5 UNION ALL SELECT 'running', 'processing', 2 UNION ALL SELECT 'failed', 'failed', 8
		UNION ALL SELECT 'held', 'requires_intervention', 3 UNION ALL SELECT 'preview', 'previewed', 3`)
	exec(`INSERT INTO sluice.clients_staged (tenant, email, import_id, version, loaded_at)
		SELECT 't', 'a@t.example', 'ended', 1, now() UNION ALL SELECT 't', 'b@t.example', 'running', 1, now()
		UNION ALL SELECT 't', 'c@t.example', 'failed', 1, now() UNION ALL SELECT 't', 'd@t.example', 'stale', 1, now() - 2 * 86400
		UNION ALL SELECT 't', 'e@t.example', 'held', 1, now() UNION ALL SELECT 't', 'f@t.example', 'held', 1, now() - 2 * 86400
		UNION ALL SELECT 't', 'g@t.example', 'preview', 1, now() UNION ALL SELECT 't', 'h@t.example', 'preview', 1, now() - 2 * 86400`)
	exec(`INSERT INTO sluice.import_keys (import_id, record_key, version, written_at)
		SELECT 'ended', 'a@t.example', 5, now() UNION ALL SELECT 'running', 'b@t.example', 2, now()
		UNION ALL SELECT 'stale', 'd@t.example', 1, now() - 2 * 86400`)
	exec(`INSERT INTO sluice.import_deactivations (import_id, tenant, dataset, record_key, version, written_at)
		SELECT 'old', 't', 'users', 'a', 1, now() - 2 * 86400 UNION ALL SELECT 'new', 't', 'users', 'b', 1, now() - 3600`)

	if err := warehouse.Expire(ctx, ch.Conn, "sluice", schemas.Datasets, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	ids := func(q string) []string { return strs(t, ch.Conn, q) }
	checks := []struct{ query, want string }{
		{"SELECT import_id FROM sluice.import_rejections ORDER BY import_id", "new"},
		{"SELECT email FROM sluice.clients_staged ORDER BY email", "b@t.example c@t.example e@t.example g@t.example"},
		{"SELECT import_id FROM sluice.import_keys ORDER BY import_id", "running"},
		{"SELECT import_id FROM sluice.import_deactivations ORDER BY import_id", "new"},
	}
	// A mutation applies in the background.
	err = parts.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		for _, c := range checks {
			if strings.Join(ids(c.query), " ") != c.want {
				return false, nil
			}
		}
		return true, nil
	})
	for _, c := range checks {
		if got := strings.Join(ids(c.query), " "); got != c.want {
			t.Errorf("%s = %q, want %q (%v)", c.query, got, c.want, err)
		}
	}
}

// TestStaged counts a held import's staged records on a real ClickHouse,
// and those a later upload wrote since: a record of the tenant with a
// higher version, not an older one, another tenant's, nor the import's own
// once loaded.
func TestStaged(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO sluice.clients_staged (tenant, id, email, import_id, version) SELECT 't', 'a', 'a@t.example', 'held', 10
			UNION ALL SELECT 't', 'b', 'b@t.example', 'held', 10 UNION ALL SELECT 't', 'c', 'c@t.example', 'held', 10
			UNION ALL SELECT 't', 'd', 'd@t.example', 'other', 12`,
		// b's email changed by ID later: its record was written since.
		`INSERT INTO sluice.clients (tenant, id, email, import_id, version) SELECT 't', 'a', 'a@t.example', 'before', 5
			UNION ALL SELECT 't', 'b', 'b.new@t.example', 'later', 20 UNION ALL SELECT 'u', 'c', 'c@t.example', 'elsewhere', 20
			UNION ALL SELECT 't', 'c', 'c@t.example', 'held', 10 UNION ALL SELECT 't', 'd', 'd@t.example', 'later', 20`,
	} {
		if err := ch.Conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	imp := &schemas.Import{ID: "held", Tenant: "t", Version: 10}
	staged, err := warehouse.StagedRecords(ctx, ch.Notify, "sluice", schemas.Clients, imp.ID)
	if err != nil || staged != 3 {
		t.Errorf("StagedRecords = %d, %v; want 3", staged, err)
	}
	changed, err := warehouse.StagedChanged(ctx, ch.Notify, "sluice", schemas.Clients, imp)
	if err != nil || changed != 1 {
		t.Errorf("StagedChanged = %d, %v; want 1 (b)", changed, err)
	}
}

// TestMigrateMaterialisesWrittenAt upgrades an import_rejections made by a
// sluice from before WrittenAt (no such column) on a real ClickHouse: the
// row written before the upgrade must store a written_at (reading it twice a
// second apart gives the same time, where an unstored DEFAULT now() would
// move), so that it is kept while younger than the TTL and Expire deletes it
// once it is older.
func TestMigrateMaterialisesWrittenAt(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	db := ch.Config.Database
	exec := execOn(t, ch.Conn)
	old := warehouse.ImportRejections
	var defs []string
	for _, c := range old.Columns {
		defs = append(defs, c.Name+" "+c.Type)
	}
	exec("DROP TABLE " + db + "." + old.Name)
	exec(fmt.Sprintf("CREATE TABLE %s.%s (%s) ENGINE = ReplacingMergeTree(version) ORDER BY %s", db, old.Name, strings.Join(defs, ", "), old.OrderBy))
	exec(old.Insert(db) + " SELECT 'before', 1, 't', 'clients', ['email'], ['format'], ['bad'], ['x@'], 1")

	if err := warehouse.Migrate(ctx, ch.Conn, db, schemas.Datasets, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The update is a mutation, applied in the background.
	err = parts.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		var n uint64
		err := ch.Conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND NOT is_done", db, old.Name).Scan(&n)
		return err == nil && n == 0, err
	})
	if err != nil {
		t.Fatalf("mutation not done: %v", err)
	}
	writtenAt := func() time.Time {
		t.Helper()
		var at time.Time
		if err := ch.Conn.QueryRow(ctx, "SELECT written_at FROM "+db+"."+old.Name+" WHERE import_id = 'before'").Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	first := writtenAt()
	time.Sleep(1100 * time.Millisecond)
	if second := writtenAt(); !second.Equal(first) {
		t.Fatalf("written_at read %v, then %v: not stored", first, second)
	}

	count := func() uint64 {
		t.Helper()
		var n uint64
		if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+old.Name+" WHERE import_id = 'before'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Younger than the TTL: kept.
	if err := warehouse.Expire(ctx, ch.Conn, db, schemas.Datasets, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("a row younger than the TTL: %d rows left, want 1", n)
	}
	// Older than a 1 s TTL once two seconds have passed: deleted.
	time.Sleep(2 * time.Second)
	if err := warehouse.Expire(ctx, ch.Conn, db, schemas.Datasets, time.Second); err != nil {
		t.Fatal(err)
	}
	err = parts.WaitFor(ctx, 30*time.Second, func() (bool, error) { return count() == 0, nil })
	if n := count(); n != 0 {
		t.Errorf("a row older than the TTL: %d rows left, want 0 (%v)", n, err)
	}

	// A migration run again finds the column: nothing more is mutated.
	var before uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ?", db, old.Name).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := warehouse.Migrate(ctx, ch.Conn, db, schemas.Datasets, time.Hour); err != nil {
		t.Fatal(err)
	}
	var after uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ?", db, old.Name).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("migrating again started %d mutations on %s, want 0", after-before, old.Name)
	}
}

// execOn returns a function that runs a statement on conn and fails the
// test on an error.
func execOn(t *testing.T, conn driver.Conn) func(q string) {
	return func(q string) {
		t.Helper()
		if err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// strs runs q, whose rows are one string each, and returns them in order.
func strs(t *testing.T, conn driver.Conn, q string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
