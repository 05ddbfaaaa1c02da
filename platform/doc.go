// Package platform is sluice's shared plumbing, the one place for what every
// stage needs and none of them owns: configuration from the environment, the
// tenants file, the embedded NATS server, JetStream streams and KV buckets,
// Watermill publishers, subscribers and router defaults (retries, poison
// queue, delivery limits), the ClickHouse connection and its migrations,
// metrics and the health server, the S3 client, the sealing and salting of
// secrets between stages (Secrets), the record of files deleted while they
// were imported (Cancellations), the staging tables of imports that abort
// on error, and starting the real parts (MinIO, ClickHouse, Mailpit) for the
// demo and the tests.
//
// It owns no business rule: datasets, rules and messages live in schemas, and
// each stage's logic lives in its own module.
package platform
