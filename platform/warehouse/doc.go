// Package warehouse owns sluice's side of ClickHouse: the connection, the
// migrations (safe at every start, on 18.16 and current releases: additive
// columns, and a copy into a new table when a dataset's identity, its
// table's sorting key, changes), the audit
// contract that load writes and notify reads (the audit tables, their column
// lists, the outcome of a row, and how a rejection's violations are stored),
// the staging tables of imports that abort on error or preview (what they
// hold, and what of it a later upload changed), the expiry of personal
// data, held records included, writing a new version of a record outside
// any import (Revise: an invitation's user), and what a sync deactivates
// (Deactivate: the keys of its rows, the audit of its deactivations and the
// new versions of the records, by INSERT ... SELECT only, as notify's user
// may run it).
//
// It owns no dataset: the datasets' fields come from schemas, and what load
// and notify write and read is theirs. Every table is a
// ReplacingMergeTree(version), so a write may be repeated; readers use FINAL.
// On a ClickHouse cluster (MigrateCluster, ExpireCluster) the tables are
// replicated on every shard under <table>_local, and <table> is a
// Distributed table over them, sharded so that FINAL stays right: see
// cluster.go for the sharding keys and what a cluster refuses.
package warehouse
