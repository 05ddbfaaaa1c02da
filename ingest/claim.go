package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// The claim ledger takes each object version once. A claim is a KV entry
// created atomically; the ingest that created it owns it and heartbeats it
// while it reads the file. Another delivery of the same event (MinIO may send
// one twice) finds the claim and
//   - acks and ignores it when the import is done or its owner is alive;
//   - takes it over when the owner stopped heartbeating (it crashed): the
//     owner's own event comes back after AckWait, later than the lease ends.
// Re-running an import is safe: its chunks carry the same Msg-Ids.

// ErrClaimed means another delivery owns or finished this object version.
var ErrClaimed = errors.New("object version already claimed")

const (
	stateRunning = "running"
	stateDone    = "done"
)

type claimRecord struct {
	ImportID  string    `json:"import_id"`
	Version   uint64    `json:"version"`
	State     string    `json:"state"`
	Heartbeat time.Time `json:"heartbeat"`
}

// Claim is a held claim.
type Claim struct {
	key      string
	rec      claimRecord
	revision uint64
}

// ImportID is the import's id, derived from the object version.
func (c *Claim) ImportID() string { return c.rec.ImportID }

// Version is the import's version: a later upload has a higher one.
func (c *Claim) Version() uint64 { return c.rec.Version }

// importVersion orders uploads: the upload's time in milliseconds, then the
// ledger's revision for uploads of the same millisecond. A revision alone
// starts again with a new claims bucket, and then new data would lose to old
// in ReplacingMergeTree; the upload time does not.
func importVersion(at time.Time, revision uint64) uint64 {
	return uint64(at.UnixMilli())<<20 | revision&(1<<20-1)
}

// Ledger is the claim ledger on a JetStream KV bucket.
type Ledger struct {
	kv    nats.KeyValue
	lease time.Duration
	now   func() time.Time
}

// NewLedger returns a ledger whose claims lapse after lease without a
// heartbeat. lease must be shorter than the consumer's AckWait.
func NewLedger(kv nats.KeyValue, lease time.Duration) *Ledger {
	return &Ledger{kv: kv, lease: lease, now: time.Now}
}

// claimKey identifies an object version in the ledger (KV keys allow only a
// few characters, so it is a hash).
func claimKey(ref ObjectRef) string {
	sum := sha256.Sum256([]byte(ref.Bucket + "\x00" + ref.Key + "\x00" + ref.Version))
	return hex.EncodeToString(sum[:])
}

// Claim takes the object version, or returns ErrClaimed.
func (l *Ledger) Claim(ref ObjectRef) (*Claim, error) {
	key := claimKey(ref)
	c := &Claim{key: key, rec: claimRecord{ImportID: key[:20], State: stateRunning, Heartbeat: l.now()}}
	if err := l.markSeen(ref); err != nil {
		return nil, err
	}
	rev, err := l.kv.Create(key, mustJSON(c.rec))
	if err == nil {
		c.revision = rev
		at := ref.Time
		if at.IsZero() {
			at = l.now()
		}
		c.rec.Version = importVersion(at, rev)
		return c, l.put(c)
	}
	if !errors.Is(err, nats.ErrKeyExists) {
		return nil, fmt.Errorf("ingest: claim: %w", err)
	}
	entry, err := l.kv.Get(key)
	if err != nil {
		return nil, fmt.Errorf("ingest: claim: %w", err)
	}
	if err := json.Unmarshal(entry.Value(), &c.rec); err != nil {
		return nil, fmt.Errorf("ingest: claim %s: %w", key, err)
	}
	if c.rec.State == stateDone || l.now().Sub(c.rec.Heartbeat) < l.lease {
		return nil, ErrClaimed
	}
	c.revision = entry.Revision()
	if err := l.Heartbeat(c); err != nil {
		if errors.Is(err, nats.ErrKeyRevisionMismatch) { // someone else took it over first
			return nil, ErrClaimed
		}
		return nil, err
	}
	return c, nil
}

// Heartbeat renews the claim's lease.
func (l *Ledger) Heartbeat(c *Claim) error {
	c.rec.Heartbeat = l.now()
	return l.put(c)
}

// Done marks the import as finished: later deliveries are ignored.
func (l *Ledger) Done(c *Claim) error {
	c.rec.State = stateDone
	return l.put(c)
}

func (l *Ledger) put(c *Claim) error {
	rev, err := l.kv.Update(c.key, mustJSON(c.rec), c.revision)
	if err != nil {
		return fmt.Errorf("ingest: claim %s: %w", c.key, err)
	}
	c.revision = rev
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs are encoded here
	}
	return b
}

// Release ends the claim's lease at once, so that a retry of a failed import
// can take it over without waiting.
func (l *Ledger) Release(c *Claim) error {
	c.rec.Heartbeat = time.Time{}
	return l.put(c)
}

// The bucket sync cannot name an object version as bucket events do (a
// listing has no sequencer), so every claimed object is also marked seen by
// its content: bucket, key and ETag.
func seenKey(bucket, key, etag string) string {
	sum := sha256.Sum256([]byte("seen\x00" + bucket + "\x00" + key + "\x00" + strings.Trim(etag, `"`)))
	return "seen." + hex.EncodeToString(sum[:])
}

func (l *Ledger) markSeen(ref ObjectRef) error {
	if ref.ETag == "" {
		return nil
	}
	if _, err := l.kv.Put(seenKey(ref.Bucket, ref.Key, ref.ETag), nil); err != nil {
		return fmt.Errorf("ingest: seen: %w", err)
	}
	return nil
}

// Seen reports whether an object with this content was ever claimed.
func (l *Ledger) Seen(bucket, key, etag string) (bool, error) {
	_, err := l.kv.Get(seenKey(bucket, key, etag))
	if errors.Is(err, nats.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ingest: seen: %w", err)
	}
	return true, nil
}
