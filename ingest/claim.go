package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
)

// The claim ledger takes each upload once. A claim is a KV entry created
// atomically; the ingest that created it owns it and heartbeats it while it
// reads the file. Another delivery of the same event (MinIO may send one
// twice) finds the claim and
//   - acks and ignores it when the import is done or its owner is alive;
//   - takes it over when the owner stopped heartbeating (it crashed): the
//     owner's own event comes back after AckWait, later than the lease ends;
//   - takes it over when the claim was never confirmed (its owner failed
//     between creating it and writing its version, so it read nothing), or
//     when it holds it itself (an earlier attempt of the same event failed
//     and could not release it): no event is acked for a file nobody reads.
// Re-running an import is safe: its chunks carry the same Msg-Ids.
//
// One upload has two names: the version a bucket event gives (version id or
// sequencer), and what the bucket sync lists (key, ETag and modification
// time). The first claim of an upload writes an upload key naming its claim,
// so an event and the sync that find the same upload, in either order, meet
// on one claim (see Ledger.claimKey).

// ErrClaimed means another delivery owns or finished this upload.
var ErrClaimed = errors.New("object version already claimed")

const (
	stateRunning = "running"
	stateDone    = "done"
)

type claimRecord struct {
	ImportID string `json:"import_id"`
	// Version is 0 until the claim is confirmed (see Ledger.Claim).
	Version   uint64    `json:"version"`
	State     string    `json:"state"`
	Heartbeat time.Time `json:"heartbeat"`
	// Holder is who holds the claim: a bucket event (one stored message),
	// or an instance's bucket sync.
	Holder string `json:"holder,omitempty"`
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

// ClaimStore is what the ledger needs of its KV bucket (a nats.KeyValue).
type ClaimStore interface {
	Get(key string) (nats.KeyValueEntry, error)
	Put(key string, value []byte) (uint64, error)
	Create(key string, value []byte) (uint64, error)
	Update(key string, value []byte, last uint64) (uint64, error)
	Delete(key string, opts ...nats.DeleteOpt) error
}

// Ledger is the claim ledger on a JetStream KV bucket.
type Ledger struct {
	kv    ClaimStore
	lease time.Duration
	now   func() time.Time
}

// NewLedger returns a ledger whose claims lapse after lease without a
// heartbeat. lease must be shorter than the consumer's AckWait.
func NewLedger(kv ClaimStore, lease time.Duration) *Ledger {
	return &Ledger{kv: kv, lease: lease, now: time.Now}
}

// versionKey identifies an object version in the ledger (KV keys allow only
// a few characters, so it is a hash).
func versionKey(ref ObjectRef) string {
	sum := sha256.Sum256([]byte(ref.Bucket + "\x00" + ref.Key + "\x00" + ref.Version))
	return hex.EncodeToString(sum[:])
}

// uploadKey names an upload by what both a bucket event and a listing
// know of it: bucket, key, ETag and modification time. ok is false when the
// event does not say when the object was modified (see ObjectRef.Modified).
func uploadKey(ref ObjectRef) (key string, ok bool) {
	if ref.ETag == "" || ref.Modified.IsZero() {
		return "", false
	}
	sum := sha256.Sum256([]byte("upload\x00" + ref.Bucket + "\x00" + ref.Key + "\x00" + strings.Trim(ref.ETag, `"`) +
		"\x00" + strconv.FormatInt(ref.Modified.UnixMilli(), 10)))
	return "upload." + hex.EncodeToString(sum[:]), true
}

// claimKey is the key of the upload's claim: the one its first claimant
// named in the upload key, else the version's own.
func (l *Ledger) claimKey(ref ObjectRef) (string, error) {
	key := versionKey(ref)
	u, ok := uploadKey(ref)
	if !ok {
		return key, nil
	}
	_, err := l.kv.Create(u, []byte(key))
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, nats.ErrKeyExists) {
		return "", fmt.Errorf("ingest: claim upload: %w", err)
	}
	e, err := l.kv.Get(u)
	if err != nil {
		return "", fmt.Errorf("ingest: claim upload: %w", err)
	}
	return string(e.Value()), nil
}

// Claim takes the upload for holder, or returns ErrClaimed.
func (l *Ledger) Claim(ref ObjectRef, holder string) (*Claim, error) {
	key, err := l.claimKey(ref)
	if err != nil {
		return nil, err
	}
	if err := l.markSeen(ref); err != nil {
		return nil, err
	}
	at := ref.Time
	if at.IsZero() {
		at = l.now()
	}
	c := &Claim{key: key, rec: claimRecord{ImportID: key[:20], State: stateRunning, Heartbeat: l.now(), Holder: holder}}
	rev, err := l.kv.Create(key, mustJSON(c.rec))
	if err == nil {
		// The version needs the revision: a second write confirms the claim.
		c.revision = rev
		c.rec.Version = importVersion(at, rev)
		if err := l.put(c); err != nil {
			if errors.Is(err, nats.ErrKeyRevisionMismatch) { // someone else took it over first
				return nil, ErrClaimed
			}
			// Give the claim up, so that the retry takes it afresh; if
			// that fails too, the retry takes the unconfirmed claim over.
			if derr := l.kv.Delete(key, nats.LastRevision(rev)); derr != nil {
				err = errors.Join(err, fmt.Errorf("ingest: release claim %s: %w", key, derr))
			}
			return nil, err
		}
		return c, nil
	}
	if !errors.Is(err, nats.ErrKeyExists) {
		return nil, fmt.Errorf("ingest: claim: %w", err)
	}
	entry, rec, err := bus.GetJSON[claimRecord](l.kv, key)
	if err != nil {
		return nil, fmt.Errorf("ingest: claim: %w", err)
	}
	c.rec = rec
	if !l.takeable(c.rec, holder) {
		return nil, ErrClaimed
	}
	c.revision = entry.Revision()
	c.rec.Holder = holder
	if c.rec.Version == 0 {
		c.rec.Version = importVersion(at, c.revision)
	}
	if err := l.Heartbeat(c); err != nil {
		if errors.Is(err, nats.ErrKeyRevisionMismatch) { // someone else took it over first
			return nil, ErrClaimed
		}
		return nil, err
	}
	return c, nil
}

// takeable says whether holder may take a claim over: one that is not done
// and whose owner stopped heartbeating, never confirmed it, or is holder.
func (l *Ledger) takeable(rec claimRecord, holder string) bool {
	switch {
	case rec.State == stateDone:
		return false
	case rec.Version == 0, holder != "" && rec.Holder == holder:
		return true
	}
	return l.now().Sub(rec.Heartbeat) >= l.lease
}

// Taken reports whether the upload ref names was claimed and its import is
// done or under way, as Claim would find it: the bucket sync leaves such an
// upload alone, and takes over any other. An upload claimed with no upload
// key (before the ledger wrote them, or from an event that did not say when
// its object was modified) is known by its content alone (Seen).
func (l *Ledger) Taken(ref ObjectRef) (bool, error) {
	u, ok := uploadKey(ref)
	if !ok {
		return l.Seen(ref.Bucket, ref.Key, ref.ETag)
	}
	e, err := l.kv.Get(u)
	if errors.Is(err, nats.ErrKeyNotFound) {
		return l.Seen(ref.Bucket, ref.Key, ref.ETag)
	}
	if err != nil {
		return false, fmt.Errorf("ingest: claimed: %w", err)
	}
	_, rec, err := bus.GetJSON[claimRecord](l.kv, string(e.Value()))
	if errors.Is(err, nats.ErrKeyNotFound) { // released before it was confirmed
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ingest: claimed: %w", err)
	}
	return !l.takeable(rec, ""), nil
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

// An upload whose modification time is not known (an event whose sequencer
// is not a time: AWS's) has no upload key: it is marked seen by its content
// (bucket, key and ETag) instead, as every upload was before upload keys,
// and the bucket sync leaves alone any content seen (Taken).
func seenKey(bucket, key, etag string) string {
	sum := sha256.Sum256([]byte("seen\x00" + bucket + "\x00" + key + "\x00" + strings.Trim(etag, `"`)))
	return "seen." + hex.EncodeToString(sum[:])
}

func (l *Ledger) markSeen(ref ObjectRef) error {
	if _, ok := uploadKey(ref); ok || ref.ETag == "" {
		return nil
	}
	if _, err := l.kv.Put(seenKey(ref.Bucket, ref.Key, ref.ETag), nil); err != nil {
		return fmt.Errorf("ingest: seen: %w", err)
	}
	return nil
}

// Seen reports whether an object with this content was claimed without an
// upload key.
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
