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
// shard, so it stays right with a replica down. IN subqueries over a
// Distributed table run once, on the server the query came to
// (distributed_product_mode=global).
//
// What is not an INSERT or a SELECT: migrations run ON CLUSTER (CREATE,
// ADD COLUMN and MODIFY COLUMN on both tables, MODIFY TTL and mutations on
// the local ones; a distributed DDL waits for every node, so migrations and
// Expire need every node up). A rekey (a new sorting key) is refused on a
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
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s%[3]s (%[4]s) ENGINE = Distributed(%[5]s, %[1]s, %[6]s, %[7]s)",
			l.db, t.Name, l.onCluster(), cols, l.cluster, local, shardingKey(t)),
	}
}

// alterColumns runs an ALTER of table's columns (ADD COLUMN, MODIFY
// COLUMN): on a cluster, on its local tables, then on the Distributed table,
// whose columns must be theirs.
func (l layout) alterColumns(ctx context.Context, conn driver.Conn, table, clause string) error {
	tables := []string{table}
	if l.cluster != "" {
		tables = []string{l.stored(table), table}
	}
	for _, t := range tables {
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s%s %s", l.db, t, l.onCluster(), clause)); err != nil {
			return err
		}
	}
	return nil
}

// alterStored runs an ALTER that changes table's stored rows or their
// storage (a mutation: DELETE, UPDATE; MODIFY TTL): on a cluster, on its
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
