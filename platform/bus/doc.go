// Package bus is sluice's NATS JetStream plumbing: the embedded server of
// `sluice up` and the tests, the streams, KV buckets and durable consumers
// the stages share (created or updated by `sluice migrate`; a stage only
// binds to its consumer), the connections (Connect, each with an inbox
// prefix of its own for deploy/nats.conf), and the Watermill router every
// stage runs on (Runner) with its middleware, outermost first:
// timing, the poison queue, the delivery limit, retries and the recoverer,
// one per file.
//
// It also owns how messages travel: events as JSON with a Nats-Msg-Id
// (Publish, Decode), KV entries as JSON (GetJSON), chunks of rows in their
// packed wire form (PublishChunk, DecodeChunk), in-progress acks and
// delivery counts; and the record of files deleted while they were imported
// (Cancellations); and what `sluice replay` reads and writes in the DLQ
// stream (DLQ, replay.go); and the SYNC stream with the bucket sync's
// JetStream message schedule (EnsureSchedule), which the server fires once
// however many instances consume it; and what /metrics says of the
// consumers and the DLQ, asked of JetStream at scrape time (Collector).
//
// It knows no stage: subjects and durable names come from schemas.
package bus
