package bus

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
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

// NaksBucket is the KV bucket of what became of the deliveries of messages
// that came back: one key per delivery (see attempts), gone a day after its
// last change.
const NaksBucket = "sluice_naks"

// CancelledBucket is the KV bucket of cancelled files: one key per object
// key deleted from the bucket, holding when (see Cancellations).
const CancelledBucket = "sluice_cancelled"

// InvitesBucket is the KV bucket of the invitations by which users created
// without a password set one (notify): one key per invitation, the SHA-256
// of its token (the token itself is only in the mail), holding whose it is,
// when it lapses and whether it was used. It holds personal data (a login),
// so its entries live the personal data TTL.
const InvitesBucket = "sluice_invites"

// AccountsBucket is the KV bucket of the web console's accounts (package
// console): one key per login, holding its tenant (none for an operator),
// role and argon2id password hash; kept until removed.
const AccountsBucket = "sluice_console_accounts"

// SessionsBucket is the KV bucket of the web console's sign-ins: one key per
// session, the SHA-256 of its cookie (the cookie itself is only in the
// browser), holding whose it is and its CSRF token. A session lasts
// SessionTTL from its sign-in, when the bucket drops it.
const SessionsBucket = "sluice_console_sessions"

// SessionTTL is how long a console session lasts.
const SessionTTL = 12 * time.Hour

// StartNATS starts an embedded NATS server with JetStream. port -1 picks a
// free port (tests); storeDir keeps the streams across restarts.
func StartNATS(port int, storeDir string) (*server.Server, error) {
	return StartServer(ServerOptions(port, storeDir))
}

// ServerOptions are the options of sluice's embedded NATS server on
// loopback: JetStream in storeDir, on port (-1: a free one). A cluster's
// node (platform/testkit) adds its name and routes to them.
func ServerOptions(port int, storeDir string) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoSigs:    true,
		// Chunks of a few thousand rows fit well under this.
		MaxPayload: 8 << 20,
	}
}

// StartServer starts a NATS server with opts and waits until it accepts
// connections.
func StartServer(opts *server.Options) (*server.Server, error) {
	ns, err := server.NewServer(opts)
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

// EnsureStreams creates the streams and the KV buckets that are missing,
// with replicas copies of each (1 on a single server, 3 on a cluster). It
// runs before anything publishes, MinIO included: `sluice migrate` runs it
// with the admin user, before the stages start.
//
// A stream that exists keeps what an operator set: it only gains what
// sluice cannot run without (its subjects, a duplicate window that covers
// the longest retry) and, when replicas asks for more copies than it has,
// those. Nothing is ever lowered, but for the age of personal data
// (personalDataTTL; 0: platform.DefaultPersonalDataTTL): every stream holds
// some (rows, uploaders' addresses, object keys), so none keeps a message
// longer, and the DLQ, which keeps rejected rows and poison messages for
// partners to fix, keeps them exactly that long. A TTL must outlast the
// stages' horizons (24 h), or a message waiting out an outage may expire.
func EnsureStreams(js nats.JetStreamContext, replicas int, personalDataTTL time.Duration) error {
	replicas = max(replicas, 1)
	personalDataTTL = cmp.Or(personalDataTTL, platform.DefaultPersonalDataTTL)
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
		sc.MaxAge = personalDataTTL
		sc.Replicas = replicas
		info, err := js.StreamInfo(sc.Name)
		switch {
		case errors.Is(err, nats.ErrStreamNotFound):
			if _, err := js.AddStream(&sc); err != nil {
				return fmt.Errorf("nats: add stream %s: %w", sc.Name, err)
			}
		case err != nil:
			return fmt.Errorf("nats: stream %s: %w", sc.Name, err)
		default:
			have, changed := raise(info.Config, sc)
			if have.MaxAge == 0 || have.MaxAge > personalDataTTL || sc.Name == schemas.StreamDLQ && have.MaxAge != sc.MaxAge {
				have.MaxAge, changed = sc.MaxAge, true
			}
			if changed {
				if _, err := js.UpdateStream(&have); err != nil {
					return fmt.Errorf("nats: update stream %s: %w", sc.Name, err)
				}
			}
		}
	}
	for _, kv := range []nats.KeyValueConfig{
		{Bucket: ClaimsBucket}, {Bucket: MailedBucket}, {Bucket: CancelledBucket}, {Bucket: NaksBucket, TTL: 24 * time.Hour},
		{Bucket: InvitesBucket, TTL: personalDataTTL},
		{Bucket: AccountsBucket}, {Bucket: SessionsBucket, TTL: SessionTTL},
	} {
		bucket := kv.Bucket
		kv.Storage, kv.History, kv.Replicas = nats.FileStorage, 1, replicas
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

// raise returns have with what want needs and have lacks: want's subjects,
// a duplicate window at least want's, at least want's replicas; and
// whether that changed anything.
func raise(have, want nats.StreamConfig) (nats.StreamConfig, bool) {
	changed := false
	for _, s := range want.Subjects {
		if !slices.Contains(have.Subjects, s) {
			have.Subjects, changed = append(have.Subjects, s), true
		}
	}
	if have.Duplicates < want.Duplicates {
		have.Duplicates, changed = want.Duplicates, true
	}
	if have.Replicas < want.Replicas {
		have.Replicas, changed = want.Replicas, true
	}
	return have, changed
}

// InboxPrefix is the prefix of the reply subjects (JetStream API answers,
// publish acks) of the connection called name: a stage's own, so that
// deploy/nats.conf lets each user subscribe only to its replies, never to
// another's ("_INBOX.>").
func InboxPrefix(name string) string { return "_INBOX_" + name }

// Connect connects a stage (or the command called name) to NATS, retrying
// while the server starts. Its replies come under InboxPrefix(name). url
// may list several servers, separated by commas (SLUICE_NATS_URL, a
// cluster's nodes): nats.go tries them in random order, learns the other
// nodes the cluster advertises, and reconnects to any of them, forever,
// when its node goes away.
func Connect(url, name, user, password string) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("sluice-" + name),
		nats.CustomInboxPrefix(InboxPrefix(name)),
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
