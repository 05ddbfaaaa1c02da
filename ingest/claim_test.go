package ingest

import (
	"errors"
	"testing"
	"time"

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

	first, err := l.Claim(ref)
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if _, err := l.Claim(ref); !errors.Is(err, ErrClaimed) {
		t.Errorf("a second delivery while the owner is alive: got %v, want ErrClaimed", err)
	}

	now = now.Add(21 * time.Second) // the owner stopped heartbeating
	taken, err := l.Claim(ref)
	if err != nil {
		t.Fatalf("take-over of a lapsed claim: %v", err)
	}
	if taken.ImportID() != first.ImportID() || taken.Version() != first.Version() {
		t.Errorf("take-over: got import %s version %d, want %s %d", taken.ImportID(), taken.Version(), first.ImportID(), first.Version())
	}
	if err := l.Release(taken); err != nil {
		t.Fatal(err)
	}
	again, err := l.Claim(ref)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if err := l.Done(again); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if _, err := l.Claim(ref); !errors.Is(err, ErrClaimed) {
		t.Errorf("a delivery after the import is done: got %v, want ErrClaimed", err)
	}

	later := ObjectRef{Bucket: "imports", Key: "acme/clients/a.csv", Version: "seq2", Time: ref.Time.Add(time.Millisecond)}
	next, err := l.Claim(later)
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
		if _, err := old.Claim(ObjectRef{Bucket: "b", Key: "t/clients/f.csv", Version: string(rune('a' + i)), Time: now}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := old.Claim(ObjectRef{Bucket: "b", Key: "t/clients/f.csv", Version: "old", Time: now})
	if err != nil {
		t.Fatal(err)
	}
	fresh := newLedger(t, &now)
	after, err := fresh.Claim(ObjectRef{Bucket: "b", Key: "t/clients/f.csv", Version: "new", Time: now.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if after.Version() <= before.Version() {
		t.Errorf("version after a fresh ledger: %d, want above %d", after.Version(), before.Version())
	}
}
