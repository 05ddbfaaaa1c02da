// Package parts starts the real parts sluice runs on, for the demo, the
// bench and the tests only: ClickHouse (Debian's clickhouse-server, with a
// copy of its packaged config pointed at a data folder), MinIO (publishing
// bucket events to JetStream, with a queue_dir; on one drive, or
// erasure-coded over several: StartMinIODrives) and Mailpit, each as a child
// process on loopback; and, for the tests of a ClickHouse cluster, Debian's
// ZooKeeper and shards x replicas ClickHouse servers, each a ClickHouse as
// above with its own ports, folder and macros (NewClickHouseCluster).
// Production runs them as services of their own (docker-compose.yml), and
// no stage imports this package.
//
// scripts/parts.sh installs the binaries; a part that is missing or does not
// start is an error, never a skip.
package parts
