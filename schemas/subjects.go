package schemas

import "strconv"

// Streams, and the subjects they hold. Names are stable: consumers are bound
// to them durably.
const (
	StreamS3Events = "S3_EVENTS"
	StreamRows     = "ROWS"
	StreamImports  = "IMPORTS"
	StreamDLQ      = "DLQ"
	// StreamSync holds the bucket sync's message schedule
	// (SubjectSyncSchedule) and the requests it fires (SubjectSyncRun).
	StreamSync = "SYNC"

	SubjectS3Events   = "sluice.s3.events"
	SubjectRowsAll    = "sluice.rows.>"
	SubjectImportsAll = "sluice.import.>"
	SubjectDLQAll     = "sluice.dlq.>"
	SubjectSyncAll    = "sluice.sync.>"

	SubjectRawRows   = "sluice.rows.raw.>"
	SubjectValidRows = "sluice.rows.valid.>"
	SubjectReadyRows = "sluice.rows.ready.>"
	SubjectDLQRows   = "sluice.dlq.rows.>"
	SubjectPoison    = "sluice.dlq.poison.>"
	SubjectReplayed  = "sluice.dlq.replayed.>"

	// SubjectSyncSchedule holds the one message schedule that asks for a
	// bucket sync (`sluice migrate` puts it); SubjectSyncRun is where
	// JetStream fires it, and where an ingest starting up asks for one.
	SubjectSyncSchedule = "sluice.sync.schedule"
	SubjectSyncRun      = "sluice.sync.run"
)

// Stage names: the <stage> of poison subjects, Msg-Ids, metrics and the NATS
// users in deploy/nats.conf.
const (
	StageIngest    = "ingest"
	StageValidate  = "validate"
	StageTransform = "transform"
	StageLoad      = "load"
	StageNotify    = "notify"
)

// Durable consumer names, one per stage, shared by its instances. A name
// never changes silently: a new name is a new consumer, which starts from
// the beginning of its stream.
const (
	DurableIngest    = "ingest"
	DurableValidate  = "validate"
	DurableTransform = "transform"
	DurableLoad      = "load"
	DurableNotify    = "notify"
	// DurableIngestSync is ingest's second consumer: the requests for a
	// bucket sync, one instance each.
	DurableIngestSync = "ingest_sync"
)

// DeliverSubject is where the durable consumer durable pushes its
// messages: a subject of its own, outside every stream and every inbox, so
// that deploy/nats.conf lets only its stage's user subscribe to it.
func DeliverSubject(durable string) string { return "sluice.deliver." + durable }

// Stages lists every stage in flow order.
var Stages = []string{StageIngest, StageValidate, StageTransform, StageLoad, StageNotify}

// RawRowsSubject is where ingest publishes a file's chunks.
func RawRowsSubject(tenant, dataset string) string {
	return "sluice.rows.raw." + tenant + "." + dataset
}

// ValidRowsSubject is where validate publishes checked chunks.
func ValidRowsSubject(tenant, dataset string) string {
	return "sluice.rows.valid." + tenant + "." + dataset
}

// ReadyRowsSubject is where transform publishes chunks ready to load.
func ReadyRowsSubject(tenant, dataset string) string {
	return "sluice.rows.ready." + tenant + "." + dataset
}

// DLQRowsSubject is where validate sends rejected rows.
func DLQRowsSubject(tenant, dataset string) string {
	return "sluice.dlq.rows." + tenant + "." + dataset
}

// PoisonSubject is where a stage sends a message that still fails after its
// retries, with the reason in its headers.
func PoisonSubject(stage string) string { return "sluice.dlq.poison." + stage }

// ReplayedSubject is where `sluice replay` records that it re-drove the
// poison message at sequence seq of the DLQ stream (see Replayed).
func ReplayedSubject(seq uint64) string { return "sluice.dlq.replayed." + strconv.FormatUint(seq, 10) }

// ImportSubject is where an import event is published.
func ImportSubject(event, importID string) string { return "sluice.import." + event + "." + importID }

// SubjectInviteAccept is where the web console asks notify to use an
// invitation (a user's one-time link to set a password): a NATS request,
// not a stream, answered by notify alone (notify.InviteRequests).
const SubjectInviteAccept = "sluice.invite.accept"
