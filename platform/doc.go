// Package platform is what every stage needs and none of them owns:
// configuration read once from the environment (Config), the tenants file
// (Tenants), the sealing and salting of secrets between stages (Secrets),
// a stage's metrics and the metrics and health server (Metrics, Serve), and
// the S3 client.
//
// Its subpackages hold the rest of the shared plumbing, by concern:
//
//   - bus: NATS JetStream: the embedded server, streams and KV buckets, the
//     durable consumers, the Watermill router every stage runs on and its
//     middleware (one per file), the chunk wire format, cancellations;
//   - warehouse: ClickHouse: the connection, migrations, the audit contract
//     load writes and notify reads, the staging tables;
//   - parts: the launcher of the real parts (ClickHouse, MinIO, Mailpit) for
//     the demo, the bench and the tests; no stage imports it;
//   - testkit: what tests need besides the parts (an embedded NATS per test,
//     Mailpit's messages).
//
// It owns no business rule: datasets, rules and messages live in schemas,
// and each stage's logic lives in its own module.
package platform
