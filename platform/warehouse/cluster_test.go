package warehouse_test

import (
	"context"
	"fmt"
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
	if cluster.dir != "" {
		os.RemoveAll(cluster.dir)
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
// columns; and that migrating again (a restart) changes nothing, the rekey
// included.
func TestClusterMigrate(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	db := c.Config.Database
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
// stopped, a read is still right and a write still lands; the stopped
// replicas catch up once they start again.
func TestClusterWrites(t *testing.T) {
	c := clickHouseCluster(t)
	ctx := context.Background()
	db := c.Config.Database
	// Two tenants on different shards, as the servers hash them.
	shardOf := func(tenant string) int {
		var h uint64
		if err := c.Conn.QueryRow(ctx, "SELECT toUInt64(cityHash64(?) % 2)", tenant).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return int(h) + 1 // shards in remote_servers' order, of weight 1
	}
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

	// One replica of each shard down: reads (as the reader, whose
	// connection lists every node) and writes go to the other.
	var down []*parts.ClusterNode
	for _, n := range c.Nodes {
		if n.Replica == 2 {
			n.Stop()
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
	reader, err := warehouse.Open(ctx, c.Config, c.Config.Reader)
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
	waitLocated("the stopped replicas started again")
}
