package bus

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/schemas"
)

// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id. It must cover
// the longest retry of a publish (a stage's retries, then a redelivery after
// AckWait), so it is generous.
const DuplicateWindow = 30 * time.Minute

// ClaimsBucket is the KV bucket of the claim ledger: one key per object
// version ingest has taken.
const ClaimsBucket = "sluice_claims"

// MailedBucket is the KV bucket of the emails notify has sent: one key per
// import, created before its email is sent, so an import is mailed once.
const MailedBucket = "sluice_mailed"

// NaksBucket is the KV bucket of the naks of messages that wait out an
// outage: one key per delivery (see naks), gone a day after its last nak.
const NaksBucket = "sluice_naks"

// CancelledBucket is the KV bucket of cancelled files: one key per object
// key deleted from the bucket, holding when (see Cancellations).
const CancelledBucket = "sluice_cancelled"

// StartNATS starts an embedded NATS server with JetStream. port -1 picks a
// free port (tests); storeDir keeps the streams across restarts.
func StartNATS(port int, storeDir string) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoSigs:    true,
		// Chunks of a few thousand rows fit well under this.
		MaxPayload: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats: server not ready within 10s")
	}
	return ns, nil
}

// EnsureStreams creates or updates the streams and the claims bucket. It runs
// before anything publishes, MinIO included.
func EnsureStreams(js nats.JetStreamContext) error {
	streams := []nats.StreamConfig{
		{Name: schemas.StreamS3Events, Subjects: []string{schemas.SubjectS3Events}},
		// Rows are work: a chunk leaves the stream once the stage after it
		// has acked it (the stages' filters do not overlap), so the stream
		// holds the backlog, not every file ever imported. The DLQ keeps
		// the rejected rows.
		{Name: schemas.StreamRows, Subjects: []string{schemas.SubjectRowsAll}, Retention: nats.WorkQueuePolicy},
		{Name: schemas.StreamImports, Subjects: []string{schemas.SubjectImportsAll}},
		{Name: schemas.StreamDLQ, Subjects: []string{schemas.SubjectDLQAll}},
	}
	for _, sc := range streams {
		sc.Storage = nats.FileStorage
		sc.Duplicates = DuplicateWindow
		sc.MaxAge = 30 * 24 * time.Hour
		if _, err := js.StreamInfo(sc.Name); errors.Is(err, nats.ErrStreamNotFound) {
			_, err = js.AddStream(&sc)
			if err != nil {
				return fmt.Errorf("nats: add stream %s: %w", sc.Name, err)
			}
		} else if err != nil {
			return fmt.Errorf("nats: stream %s: %w", sc.Name, err)
		} else if _, err := js.UpdateStream(&sc); err != nil {
			return fmt.Errorf("nats: update stream %s: %w", sc.Name, err)
		}
	}
	for _, kv := range []nats.KeyValueConfig{
		{Bucket: ClaimsBucket}, {Bucket: MailedBucket}, {Bucket: CancelledBucket}, {Bucket: NaksBucket, TTL: 24 * time.Hour},
	} {
		bucket := kv.Bucket
		kv.Storage, kv.History = nats.FileStorage, 1
		if _, err := js.KeyValue(bucket); errors.Is(err, nats.ErrBucketNotFound) {
			if _, err := js.CreateKeyValue(&kv); err != nil {
				return fmt.Errorf("nats: create kv %s: %w", bucket, err)
			}
		} else if err != nil {
			return fmt.Errorf("nats: kv %s: %w", bucket, err)
		}
	}
	return nil
}

// Connect connects a stage to NATS, retrying while the server starts.
func Connect(url, name, user, password string) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("sluice-" + name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
	}
	if user != "" {
		opts = append(opts, nats.UserInfo(user, password))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect %s: %w", url, err)
	}
	return nc, nil
}
