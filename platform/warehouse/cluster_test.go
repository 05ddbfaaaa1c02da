package warehouse_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// The cluster tests share one ClickHouse cluster (ZooKeeper, 2 shards x 2
// replicas), started by the first of them and stopped when the package's
// tests end: it takes a while to start, and four servers are a lot for
// this machine. Each test uses its own tenants and imports, and leaves every
// node running.
var cluster struct {
	once    sync.Once
	c       *parts.ClickHouseCluster
	stop    func()
	err     error
	dir     string
	started time.Duration
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster.stop != nil {
		cluster.stop()
	}
	if cluster.dir != "" && code == 0 {
		os.RemoveAll(cluster.dir)
	} else if cluster.dir != "" {
		fmt.Fprintln(os.Stderr, "the cluster's folders and logs are kept in", cluster.dir)
	}
	os.Exit(code)
}

// clickHouseCluster returns the package's cluster, started on first use.
func clickHouseCluster(t *testing.T) *parts.ClickHouseCluster {
	t.Helper()
	cluster.once.Do(func() {
		if cluster.dir, cluster.err = os.MkdirTemp("", "sluice-cluster-"); cluster.err != nil {
			return
		}
		start := time.Now()
		cluster.c, cluster.stop, cluster.err = parts.NewClickHouseCluster(cluster.dir, "sluice", 2, 2)
		cluster.started = time.Since(start)
	})
	if cluster.err != nil {
		t.Fatalf("cluster: %v", cluster.err)
	}
	t.Logf("the cluster started in %s", cluster.started.Round(time.Millisecond))
	return cluster.c
}

// shardOf is the shard (from 1) whose rows have the sharding key key.
func shardOf(t *testing.T, c *parts.ClickHouseCluster, key string) int {
	t.Helper()
	shard, err := c.ShardOf(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return shard
}

// nodeConn connects to one node of the cluster alone, as user: what its
// local tables hold.
func nodeConn(t *testing.T, c *parts.ClickHouseCluster, n *parts.ClusterNode, user platform.ClickHouseUser) driver.Conn {
	t.Helper()
	cfg := c.Config
	cfg.Addr, cfg.Cluster = n.Addr, ""
	conn, err := warehouse.Open(context.Background(), cfg, user)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestClusterMigrate checks what MigrateCluster made on every node: each
// table a ReplicatedReplacingMergeTree under <table>_local and a
// Distributed table over them under its own name, with the contract's
// columns; that migrating again (a restart) changes nothing, the rekey
// included; and that a column a release adds is added to both tables on
// every node.
func TestClusterMigrate(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	db := c.Config.Database
	// import_chunks as the release before "partial" made it (18.16 alters
	// a Distributed table on one node at a time).
	execOn(t, c.Conn)(fmt.Sprintf("ALTER TABLE %s.import_chunks_local ON CLUSTER %s DROP COLUMN partial", db, c.Config.Cluster))
	for _, n := range c.Nodes {
		execOn(t, nodeConn(t, c, n, c.Config.Migrate))("ALTER TABLE " + db + ".import_chunks DROP COLUMN partial")
	}
	if err := warehouse.MigrateCluster(ctx, c.Conn, db, c.Config.Cluster, schemas.Datasets, platform.DefaultPersonalDataTTL); err != nil {
		t.Fatalf("second MigrateCluster: %v", err)
	}
	want := map[string][]string{}
	for _, tbl := range warehouse.AuditTables {
		want[tbl.Name] = tbl.Names()
		for _, col := range tbl.Filled {
			want[tbl.Name] = append(want[tbl.Name], col.Name)
		}
	}
	for _, ds := range schemas.Datasets {
		for _, target := range ds.Writes() {
			want[target.Table] = warehouse.DatasetColumns(target)
			want[warehouse.StagedTable(target.Table)] = warehouse.DatasetColumns(target)
		}
	}
	for _, n := range c.Nodes {
		conn := nodeConn(t, c, n, c.Config.Migrate)
		for table, cols := range want {
			for name, engine := range map[string]string{table: "Distributed", table + "_local": "ReplicatedReplacingMergeTree"} {
				got := strs(t, conn, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", db, name)
				if !slices.Equal(got, []string{engine}) {
					t.Errorf("shard %d replica %d: %s is %q, want %s", n.Shard, n.Replica, name, got, engine)
				}
				if got := strs(t, conn, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, name); !slices.Equal(got, cols) {
					t.Errorf("shard %d replica %d: %s columns = %q, want %q", n.Shard, n.Replica, name, got, cols)
				}
			}
		}
	}
}

// TestClusterWrites writes the clients of two tenants as load does (a
// batch insert into the clients table, as load's user), twice (a
// redelivered chunk), and checks that each tenant's records are on both
// replicas of the shard cityHash64(tenant) maps to and nowhere else, and
// that FINAL reads each record once. With one replica of each shard
// killed, a read is still right (through a connection whose first address
// is a killed node's) and a write still lands; the killed replicas catch
// up once they start again.
func TestClusterWrites(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	db := c.Config.Database
	// Two tenants on different shards, as the servers hash them.
	shardOf := func(tenant string) int { return shardOf(t, c, tenant) }
	tenants := []string{"writes-a"}
	for i := 0; len(tenants) < 2; i++ {
		if next := fmt.Sprintf("writes-%d", i); shardOf(next) != shardOf(tenants[0]) {
			tenants = append(tenants, next)
		}
	}
	write := func(conn driver.Conn, tenant, importID string, version uint64, n int) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", db, schemas.Clients.Table, strings.Join(warehouse.DatasetColumns(schemas.Clients), ", ")))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			row := []any{tenant}
			for _, f := range schemas.Clients.Fields {
				switch {
				case f.Kind == schemas.Bool:
					row = append(row, uint8(1))
				case f.Kind == schemas.DateTime:
					row = append(row, time.Unix(1_700_000_000, 0))
				case f.Column == "id":
					row = append(row, fmt.Sprintf("%s-%04d", importID, i))
				default:
					row = append(row, fmt.Sprintf("%s-%d@%s.example", f.Column, i, tenant))
				}
			}
			row = append(row, uint64(i), importID, uint32(i+1), version, time.Now())
			if err := batch.Append(row...); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("insert %s: %v", tenant, err)
		}
	}
	count := func(conn driver.Conn, table, tenant string) int {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+table+" FINAL WHERE tenant = ?", tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	// The writers' inserts wait for the shards; every user's IN subqueries
	// over Distributed tables run once (deploy/clickhouse/cluster).
	for _, conn := range []driver.Conn{c.Load, c.Notify, c.Conn} {
		got := strs(t, conn, `SELECT concat(name, '=', value) FROM system.settings
			WHERE name IN ('insert_distributed_sync', 'distributed_product_mode') ORDER BY name`)
		if want := []string{"distributed_product_mode=global", "insert_distributed_sync=1"}; !slices.Equal(got, want) {
			t.Errorf("a writer's settings: %q, want %q", got, want)
		}
	}
	want := map[string]int{}
	for range 2 {
		for i, tenant := range tenants {
			want[tenant] = 100 + i
			write(c.Load, tenant, fmt.Sprintf("imp-%d", i), 10, want[tenant])
		}
	}
	for _, tenant := range tenants {
		if got := count(c.Notify, "clients", tenant); got != want[tenant] {
			t.Errorf("%s: %d records with FINAL, want %d", tenant, got, want[tenant])
		}
	}
	conns := make([]driver.Conn, len(c.Nodes))
	for i, n := range c.Nodes {
		conns[i] = nodeConn(t, c, n, c.Config.Migrate)
	}
	// Each node's local table holds the whole of its shard's tenant, and
	// nothing of the other's (a replica copies its shard's parts in the
	// background, hence the wait).
	located := func() error {
		for i, n := range c.Nodes {
			for _, tenant := range tenants {
				w := 0
				if shardOf(tenant) == n.Shard {
					w = want[tenant]
				}
				if got := count(conns[i], "clients_local", tenant); got != w {
					return fmt.Errorf("shard %d replica %d holds %d records of %s (shard %d), want %d", n.Shard, n.Replica, got, tenant, shardOf(tenant), w)
				}
			}
		}
		return nil
	}
	waitLocated := func(when string) {
		t.Helper()
		var last error
		err := parts.WaitFor(ctx, time.Minute, func() (bool, error) { last = located(); return last == nil, nil })
		if err != nil {
			t.Fatalf("%s: %v (%v)", when, last, err)
		}
	}
	waitLocated("written")

	// One replica of each shard down: reads and writes go to the other.
	var down []*parts.ClusterNode
	for _, n := range c.Nodes {
		if n.Replica == 2 {
			n.Kill()
			down = append(down, n)
		}
	}
	restart := func() {
		for _, n := range down {
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		down = nil
	}
	defer restart()
	cfg := c.Config
	cfg.Addr = down[0].Addr + "," + c.Nodes[0].Addr
	reader, err := warehouse.Open(ctx, cfg, c.Config.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for _, tenant := range tenants {
		if got := count(reader, "clients", tenant); got != want[tenant] {
			t.Errorf("a replica of each shard down: %s has %d records, want %d", tenant, got, want[tenant])
		}
	}
	for i, tenant := range tenants {
		want[tenant] += 10
		write(c.Load, tenant, fmt.Sprintf("imp-%d-more", i), 20, 10)
	}
	for _, tenant := range tenants {
		if got := count(reader, "clients", tenant); got != want[tenant] {
			t.Errorf("written with a replica of each shard down: %s has %d records, want %d", tenant, got, want[tenant])
		}
	}
	restart()
	waitLocated("the killed replicas started again")
}

// TestClusterDeactivate runs a sync's deactivation on the cluster, as
// notify's user (only inserts, their IN subqueries over Distributed
// tables): the users its keys leave out are blocked, once however often it
// runs.
func TestClusterDeactivate(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	exec := execOn(t, c.Conn)
	exec(`INSERT INTO sluice.users (tenant, login, email, status, row_hash, import_id, version)
		SELECT 'deact', 'ann', 'ann@deact.example', 'active', 11, 'deact-0', 1
		UNION ALL SELECT 'deact', 'bob', 'bob@deact.example', 'active', 12, 'deact-0', 1
		UNION ALL SELECT 'deact', 'cat', 'cat@deact.example', 'active', 13, 'deact-0', 1
		UNION ALL SELECT 'deact-other', 'dan', 'dan@other.example', 'active', 14, 'deact-o', 1`)
	exec(`INSERT INTO sluice.import_keys (import_id, record_key, version) SELECT 'deact-1', 'ann', 10`)
	sync := &schemas.Import{ID: "deact-1", Tenant: "deact", Dataset: "users", Mode: schemas.ModeSync, Version: 10}
	want := "ann:active:deact-0 bob:blocked:deact-1 cat:blocked:deact-1 dan:active:deact-o"
	for run := range 2 {
		d, err := warehouse.Deactivate(ctx, c.Notify, "sluice", schemas.Users, sync, func(int, int) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		if d.Deactivated != 2 || (run == 0 && d.Would != 2) {
			t.Errorf("run %d: %+v, want 2 deactivated", run, d)
		}
		got := strings.Join(strs(t, c.Notify, `SELECT concat(login, ':', status, ':', import_id) FROM sluice.users FINAL
			WHERE tenant IN ('deact', 'deact-other') ORDER BY login`), " ")
		if got != want {
			t.Errorf("run %d: users %s, want %s", run, got, want)
		}
	}
}

// TestClusterExpire runs Expire on the cluster as the migration user: its
// deletes are mutations of the local tables ON CLUSTER, and every replica
// of a shard deletes the same rows (the old rejection, the staged records
// of an ended import, the keys of an ended sync), keeping the others.
func TestClusterExpire(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	exec := execOn(t, c.Conn)
	exec(`INSERT INTO sluice.import_rejections (import_id, row, tenant, dataset, columns, codes, messages, values, version, written_at)
		SELECT 'exp-old', 1, 'exp', 'clients', ['email'], ['format'], ['bad'], ['x@'], 1, now() - 2 * 86400
		UNION ALL SELECT 'exp-new', 1, 'exp', 'clients', ['email'], ['format'], ['bad'], ['y@'], 1, now() - 3600`)
	exec(`INSERT INTO sluice.imports (import_id, tenant, status, version)
		SELECT 'exp-ended', 'exp', 'completed', 5 UNION ALL SELECT 'exp-running', 'exp', 'processing', 2`)
	exec(`INSERT INTO sluice.clients_staged (tenant, email, import_id, version, loaded_at)
		SELECT 'exp', 'a@exp.example', 'exp-ended', 1, now() UNION ALL SELECT 'exp', 'b@exp.example', 'exp-running', 1, now()`)
	exec(`INSERT INTO sluice.import_keys (import_id, record_key, version)
		SELECT 'exp-ended', 'a@exp.example', 5 UNION ALL SELECT 'exp-running', 'b@exp.example', 2`)
	if err := warehouse.ExpireCluster(ctx, c.Conn, "sluice", c.Config.Cluster, schemas.Datasets, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// What is left, and its sharding key: a tenant, or an import for
	// import_keys.
	checks := []struct{ table, query, want, key string }{
		{warehouse.ImportRejections.Name, "SELECT import_id FROM sluice.%s WHERE import_id LIKE 'exp-%%' ORDER BY import_id", "exp-new", "exp"},
		{warehouse.StagedTable(schemas.Clients.Table), "SELECT email FROM sluice.%s WHERE tenant = 'exp' ORDER BY email", "b@exp.example", "exp"},
		{warehouse.ImportKeys.Name, "SELECT import_id FROM sluice.%s WHERE import_id LIKE 'exp-%%' ORDER BY import_id", "exp-running", "exp-running"},
	}
	wait := func(where string, conn driver.Conn, table, query, want string) {
		t.Helper()
		var last string
		// A mutation applies in the background.
		err := parts.WaitFor(ctx, time.Minute, func() (bool, error) {
			last = strings.Join(strs(t, conn, fmt.Sprintf(query, table)), " ")
			return last == want, nil
		})
		if err != nil {
			t.Errorf("%s: %s = %q, want %q (%v)", where, table, last, want, err)
		}
	}
	for _, check := range checks {
		wait("the cluster", c.Conn, check.table, check.query, check.want)
		// Each replica of the shard the rows are on, and nothing on the
		// other shard's.
		for _, n := range c.Nodes {
			want := ""
			if shardOf(t, c, check.key) == n.Shard {
				want = check.want
			}
			wait(fmt.Sprintf("shard %d replica %d", n.Shard, n.Replica), nodeConn(t, c, n, c.Config.Migrate), check.table+"_local", check.query, want)
		}
	}
}

// TestClusterRefusesRekey migrates a database on the cluster as the release
// that ordered clients by email made it, then as this one: a rekey is not
// done on a cluster, and the error says so.
func TestClusterRefusesRekey(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	// The migration user may use sluice's database only.
	admin, err := warehouse.Open(ctx, c.Config, platform.ClickHouseUser{Name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	byEmail := *schemas.Clients
	byEmail.Identity = ""
	before := maps.Clone(schemas.Datasets)
	before[schemas.Clients.Name] = &byEmail
	const db = "rekey"
	if err := warehouse.MigrateCluster(ctx, admin, db, c.Config.Cluster, before, time.Hour); err != nil {
		t.Fatalf("the old release: %v", err)
	}
	err = warehouse.MigrateCluster(ctx, admin, db, c.Config.Cluster, schemas.Datasets, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "clients_local is sorted by (tenant, email): a rekey is not done on cluster sluice") {
		t.Errorf("MigrateCluster to a new sorting key: %v, want the rekey refused", err)
	}
}
