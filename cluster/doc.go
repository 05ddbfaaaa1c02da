// Package cluster holds the end-to-end test of sluice on a cluster, on
// loopback (make test-cluster; its test file builds with the cluster tag,
// so that make test leaves it out): a 3-node NATS JetStream cluster, a
// ClickHouse cluster of 2 shards x 2 replicas with ZooKeeper, MinIO over 4
// drives and two processes of every stage (bench/harness's Pipeline), with
// a node of each killed during an import.
package cluster
