package warehouse

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// On a cluster (platform.ClickHouseConfig.Cluster, SLUICE_CLICKHOUSE_CLUSTER)
// each table's rows are stored in <table>_local, a
// ReplicatedReplacingMergeTree(version) on every node (its ZooKeeper path
// /clickhouse/tables/{shard}/<db>/<table>_local, its replica {replica}: the
// nodes' macros), made ON CLUSTER; <table> itself is a Distributed table over
// them, so that every reader and writer uses the name it uses on one server.
//
// The sharding key keeps together the rows that FINAL, uniqueness and the
// owner look-ups compare: every version of a row must be on one shard, or
// FINAL (which merges within a shard) would keep two. A table with a tenant
// column is sharded by cityHash64(tenant): a tenant's records (and an
// import's audit, whose tenant is the import's) live on one shard, so what
// load reads of a tenant is on the shard it writes to. import_rows,
// import_chunks and import_keys have no tenant: they are sharded by
// cityHash64(import_id), and every read of them names an import_id (an
// import's rows, chunks and keys are on one shard).
//
// Writers' connections wait for the shard (insert_distributed_sync, see
// Open): an insert that returns has reached a replica of each shard it
// touched, and the replicas copy it among themselves (internal_replication in
// the cluster's remote_servers). A read goes to one live replica of each
// shard, so it stays right with a replica down. Reads and inserts both go to
// the first live replica of each shard (load_balancing=in_order, in the
// cluster's users.d): copying is asynchronous, and a read from the other
// replica could miss what was just written (notify would not see an
// import's last chunk). IN subqueries over a
// Distributed table run once, on the server the query came to
// (distributed_product_mode=global).
//
// What is not an INSERT or a SELECT: migrations run ON CLUSTER (CREATE;
// ADD COLUMN, MODIFY COLUMN, MODIFY TTL and mutations on the local tables,
// each shard once; a distributed DDL waits for every node, so migrations
// and Expire need every node up). 18.16 refuses an ALTER ON CLUSTER of a
// table that is not replicated (the Distributed one) on a cluster whose
// shards are: a column change makes the Distributed table again, AS its
// local table (it holds no rows: the writes wait for the shards). A rekey (a new sorting key) is refused on a
// cluster that has the table already: a fresh cluster has the current keys,
// and copying a sharded table is an operator's job. Users and their rights
// are in each node's users.d (deploy/clickhouse).

// layout says where a database's tables are: on one server (cluster ""),
// or sharded and replicated over a cluster.
type layout struct{ db, cluster string }

// localSuffix names the table that stores a Distributed table's rows on
// each node.
const localSuffix = "_local"

// stored is the table that stores name's rows: name on one server,
// name_local on each node of a cluster.
func (l layout) stored(name string) string {
	if l.cluster == "" {
		return name
	}
	return name + localSuffix
}

// onCluster is the ON CLUSTER clause of a DDL statement, "" on one server.
func (l layout) onCluster() string {
	if l.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + l.cluster
}

// shardingKey is the expression that places t's rows on a shard (see
// above).
func shardingKey(t Table) string {
	if slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == "tenant" }) {
		return "cityHash64(tenant)"
	}
	return "cityHash64(import_id)"
}

// create returns the statements that create t: on a cluster, its local
// tables, then the Distributed table over them.
func (l layout) create(t Table) []string {
	if l.cluster == "" {
		return []string{t.create(l.db)}
	}
	local := t.Name + localSuffix
	cols := columnDefs(t.all())
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s%[3]s (%[4]s) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/%[1]s/%[2]s', '{replica}', version) ORDER BY %[5]s",
			l.db, local, l.onCluster(), cols, t.OrderBy),
		l.createDistributed(t),
	}
}

// createDistributed is the statement that creates t's Distributed table
// over its local tables, with their columns, on every node of the cluster.
func (l layout) createDistributed(t Table) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s%[3]s AS %[1]s.%[4]s ENGINE = Distributed(%[5]s, %[1]s, %[4]s, %[6]s)",
		l.db, t.Name, l.onCluster(), t.Name+localSuffix, l.cluster, shardingKey(t))
}

// alterColumns runs an ALTER of t's columns (ADD COLUMN, MODIFY COLUMN): on
// a cluster, on its local tables, then makes the Distributed table again
// with their columns (see above).
func (l layout) alterColumns(ctx context.Context, conn driver.Conn, t Table, clause string) error {
	if err := l.alterStored(ctx, conn, t.Name, clause); err != nil || l.cluster == "" {
		return err
	}
	if err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", l.db, t.Name, l.onCluster())); err != nil {
		return err
	}
	return conn.Exec(ctx, l.createDistributed(t))
}

// alterStored runs an ALTER of the table that stores table's rows (a
// mutation: DELETE, UPDATE; MODIFY TTL; a column's): on a cluster, its
// local tables, each shard once (its replicas follow).
func (l layout) alterStored(ctx context.Context, conn driver.Conn, table, clause string) error {
	return conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s%s %s", l.db, l.stored(table), l.onCluster(), clause))
}

// columnDefs lists columns with their types for a CREATE TABLE.
func columnDefs(cols []Column) string {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = c.Name + " " + c.Type
	}
	return strings.Join(defs, ", ")
}
