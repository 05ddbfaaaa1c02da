package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
)

func newLedger(t *testing.T, now *time.Time) *Ledger {
	t.Helper()
	_, nc := testkit.NATS(t)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(bus.ClaimsBucket)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(kv, 20*time.Second)
	l.now = func() time.Time { return *now }
	return l
}

func TestLedger(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l := newLedger(t, &now)
	ref := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "seq1", Time: now}

	first, err := l.Claim(ref, "event 1")
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if _, err := l.Claim(ref, "event 2"); !errors.Is(err, ErrClaimed) {
		t.Errorf("a second delivery while the owner is alive: got %v, want ErrClaimed", err)
	}

	now = now.Add(21 * time.Second) // the owner stopped heartbeating
	taken, err := l.Claim(ref, "event 2")
	if err != nil {
		t.Fatalf("take-over of a lapsed claim: %v", err)
	}
	if taken.ImportID() != first.ImportID() || taken.Version() != first.Version() {
		t.Errorf("take-over: got import %s version %d, want %s %d", taken.ImportID(), taken.Version(), first.ImportID(), first.Version())
	}
	if err := l.Release(taken); err != nil {
		t.Fatal(err)
	}
	again, err := l.Claim(ref, "event 1")
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if err := l.Done(again); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if _, err := l.Claim(ref, "event 3"); !errors.Is(err, ErrClaimed) {
		t.Errorf("a delivery after the import is done: got %v, want ErrClaimed", err)
	}

	later := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "seq2", Time: ref.Time.Add(time.Millisecond)}
	next, err := l.Claim(later, "event 4")
	if err != nil {
		t.Fatal(err)
	}
	if next.ImportID() == first.ImportID() || next.Version() <= first.Version() {
		t.Errorf("a new PUT of the key: got import %s version %d, want a new import with a version above %d", next.ImportID(), next.Version(), first.Version())
	}
}

// TestVersionOutlivesTheLedger: a ledger started afresh (a new NATS) must
// still give a later upload a higher version, or its records would lose to
// older ones in ReplacingMergeTree.
func TestVersionOutlivesTheLedger(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := newLedger(t, &now)
	for i := range 50 { // an old ledger with a high revision
		if _, err := old.Claim(ObjectRef{Bucket: "b", Key: "t/clients/f.csv", Version: string(rune('a' + i)), Time: now}, "event"); err != nil {
			t.Fatal(err)
		}
	}
	before, err := old.Claim(ObjectRef{Bucket: "b", Key: "t/clients/f.csv", Version: "old", Time: now}, "event")
	if err != nil {
		t.Fatal(err)
	}
	fresh := newLedger(t, &now)
	after, err := fresh.Claim(ObjectRef{Bucket: "b", Key: "t/clients/f.csv", Version: "new", Time: now.Add(time.Second)}, "event")
	if err != nil {
		t.Fatal(err)
	}
	if after.Version() <= before.Version() {
		t.Errorf("version after a fresh ledger: %d, want above %d", after.Version(), before.Version())
	}
}

// brokenKV is the claims bucket with writes that fail, as they do when
// NATS is briefly unreachable.
type brokenKV struct {
	ClaimStore
	updates, deletes int // how many of the next calls fail
}

var errBroken = errors.New("nats: connection closed")

func (b *brokenKV) Update(key string, value []byte, last uint64) (uint64, error) {
	if b.updates > 0 {
		b.updates--
		return 0, errBroken
	}
	return b.ClaimStore.Update(key, value, last)
}

func (b *brokenKV) Delete(key string, opts ...nats.DeleteOpt) error {
	if b.deletes > 0 {
		b.deletes--
		return errBroken
	}
	return b.ClaimStore.Delete(key, opts...)
}

func breakLedger(l *Ledger) *brokenKV {
	b := &brokenKV{ClaimStore: l.kv}
	l.kv = b
	return b
}

// TestClaimWhoseConfirmationFailed: the write that confirms a claim right
// after its create fails. The claim is released, or, if that fails too, the
// retry takes it over: it is never taken for someone else's, which would
// ack the event of a file nobody reads.
func TestClaimWhoseConfirmationFailed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kv    brokenKV
		retry string // who claims next
	}{
		{"released", brokenKV{updates: 1}, "event 1"},
		{"release failed too, the retry takes it over", brokenKV{updates: 1, deletes: 1}, "event 1"},
		{"release failed too, another copy of the event takes it over", brokenKV{updates: 1, deletes: 1}, "event 2"},
		{"release failed too, the sync takes it over", brokenKV{updates: 1, deletes: 1}, "sync a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			l := newLedger(t, &now)
			b := breakLedger(l)
			b.updates, b.deletes = tc.kv.updates, tc.kv.deletes
			ref := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "seq1", ETag: "e1", Time: now, Modified: now}
			if _, err := l.Claim(ref, "event 1"); err == nil || errors.Is(err, ErrClaimed) {
				t.Fatalf("claim whose confirmation failed: got %v, want the failure", err)
			}
			if taken, err := l.Taken(ref); err != nil || taken {
				t.Errorf("Taken: got %v, %v; want false: the sync must not leave it", taken, err)
			}
			now = now.Add(time.Second) // the retry comes at once, well within the lease
			c, err := l.Claim(ref, tc.retry)
			if err != nil {
				t.Fatalf("the retry's claim: got %v, want the claim", err)
			}
			if c.Version() == 0 {
				t.Error("the retry's claim has no version")
			}
			if _, err := l.Claim(ref, "event 3"); !errors.Is(err, ErrClaimed) {
				t.Errorf("another delivery while the retry holds it: got %v, want ErrClaimed", err)
			}
		})
	}
}

// TestClaimWhoseReleaseFailed: an import failed and its release failed too
// (the claim still looks alive): the same event's retry takes its own claim
// back; another copy of the event leaves it alone until the lease lapses.
func TestClaimWhoseReleaseFailed(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l := newLedger(t, &now)
	ref := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "seq1", ETag: "e1", Time: now, Modified: now}
	c, err := l.Claim(ref, "event 1")
	if err != nil {
		t.Fatal(err)
	}
	b := breakLedger(l)
	b.updates = 1
	if err := l.Release(c); err == nil {
		t.Fatal("release: want the failure")
	}
	now = now.Add(time.Second)
	if _, err := l.Claim(ref, "event 2"); !errors.Is(err, ErrClaimed) {
		t.Errorf("another copy of the event: got %v, want ErrClaimed", err)
	}
	again, err := l.Claim(ref, "event 1")
	if err != nil {
		t.Fatalf("the event's retry: got %v, want its claim back", err)
	}
	if again.ImportID() != c.ImportID() || again.Version() != c.Version() {
		t.Errorf("the retry's import: got %s %d, want %s %d", again.ImportID(), again.Version(), c.ImportID(), c.Version())
	}
	if err := l.Done(again); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Claim(ref, "event 1"); !errors.Is(err, ErrClaimed) {
		t.Errorf("the event once its import is done: got %v, want ErrClaimed", err)
	}
}

// TestEventsAndTheSyncMeetOnOneClaim: a bucket event and the bucket sync
// name an upload differently (a sequencer, a listing's ETag and time); in
// either order, and however late the event, the upload is imported once,
// and a new upload of the same content is a new import.
func TestEventsAndTheSyncMeetOnOneClaim(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	modified := now.Add(-time.Second).Truncate(time.Millisecond)
	event := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "187A8C3F1E2D4B5C", ETag: "e1", Time: now, Modified: modified}
	listed := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "etag:e1", ETag: "\"e1\"", Time: modified, Modified: modified}

	claimAndFinish := func(t *testing.T, l *Ledger, ref ObjectRef, holder string) *Claim {
		t.Helper()
		c, err := l.Claim(ref, holder)
		if err != nil {
			t.Fatalf("claim by %s: %v", holder, err)
		}
		if err := l.Done(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("a late or replayed event for an imported version", func(t *testing.T) {
		l := newLedger(t, &now)
		claimAndFinish(t, l, event, "event 1")
		if _, err := l.Claim(event, "event 2"); !errors.Is(err, ErrClaimed) {
			t.Errorf("replayed event: got %v, want ErrClaimed", err)
		}
	})
	t.Run("an event for what the sync imported", func(t *testing.T) {
		l := newLedger(t, &now)
		claimAndFinish(t, l, listed, "sync a")
		if _, err := l.Claim(event, "event 1"); !errors.Is(err, ErrClaimed) {
			t.Errorf("late event: got %v, want ErrClaimed", err)
		}
	})
	t.Run("the sync after the event", func(t *testing.T) {
		l := newLedger(t, &now)
		claimAndFinish(t, l, event, "event 1")
		if taken, err := l.Taken(listed); err != nil || !taken {
			t.Errorf("Taken: got %v, %v; want true", taken, err)
		}
		if _, err := l.Claim(listed, "sync a"); !errors.Is(err, ErrClaimed) {
			t.Errorf("sync: got %v, want ErrClaimed", err)
		}
	})
	t.Run("an event while the sync imports", func(t *testing.T) {
		l := newLedger(t, &now)
		if _, err := l.Claim(listed, "sync a"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Claim(event, "event 1"); !errors.Is(err, ErrClaimed) {
			t.Errorf("event: got %v, want ErrClaimed", err)
		}
	})
	t.Run("the sync takes over an import that stopped", func(t *testing.T) {
		now := now
		l := newLedger(t, &now)
		c, err := l.Claim(event, "event 1")
		if err != nil {
			t.Fatal(err)
		}
		if taken, err := l.Taken(listed); err != nil || !taken {
			t.Errorf("Taken while the import runs: got %v, %v; want true", taken, err)
		}
		now = now.Add(time.Minute) // its owner crashed, and its event never came back
		if taken, err := l.Taken(listed); err != nil || taken {
			t.Errorf("Taken once its lease lapsed: got %v, %v; want false", taken, err)
		}
		s, err := l.Claim(listed, "sync a")
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		if s.ImportID() != c.ImportID() || s.Version() != c.Version() {
			t.Errorf("sync's import: got %s %d, want the event's %s %d", s.ImportID(), s.Version(), c.ImportID(), c.Version())
		}
	})
	t.Run("a new upload of the same content", func(t *testing.T) {
		l := newLedger(t, &now)
		first := claimAndFinish(t, l, event, "event 1")
		again := event
		again.Version, again.Modified, again.Time = "187A8C4F00000000", modified.Add(time.Minute), now.Add(time.Minute)
		if taken, err := l.Taken(ObjectRef{Bucket: again.Bucket, Key: again.Key, ETag: again.ETag, Modified: again.Modified}); err != nil || taken {
			t.Errorf("Taken: got %v, %v; want false: its event may be lost", taken, err)
		}
		c, err := l.Claim(again, "event 2")
		if err != nil {
			t.Fatalf("new upload: %v", err)
		}
		if c.ImportID() == first.ImportID() {
			t.Error("a new upload of the same content must be a new import")
		}
	})
	t.Run("an event that does not say when its object was modified", func(t *testing.T) {
		l := newLedger(t, &now)
		aws := event
		aws.Modified, aws.Version = time.Time{}, "0055AED6DCD90281E5"
		claimAndFinish(t, l, aws, "event 1")
		if taken, err := l.Taken(listed); err != nil || !taken {
			t.Errorf("Taken: got %v, %v; want true (by its content)", taken, err)
		}
	})
}
