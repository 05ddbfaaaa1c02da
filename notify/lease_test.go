package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
)

// TestTakeLease: on the real mailed bucket, one worker at a time holds the
// lease of a mail (a summary's or an invitation's); a lease whose worker
// died lapses and is taken over, once; a mail sent is never sent again.
// This is what keeps an invitation from being lost when notify dies
// between taking its lease and sending it.
func TestTakeLease(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(js, 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(bus.MailedBucket)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	take := func(key string, at time.Time) (MailAction, uint64) {
		t.Helper()
		action, rev, err := takeLease(kv, key, at)
		if err != nil {
			t.Fatalf("takeLease(%s): %v", key, err)
		}
		return action, rev
	}

	if action, rev := take("invitation.a", now); action != MailSend || rev == 0 {
		t.Fatalf("first take: %v at %d, want send", action, rev)
	}
	if action, _ := take("invitation.a", now.Add(time.Second)); action != MailLeave {
		t.Errorf("a live lease: %v, want leave", action)
	}
	// The worker died with the lease: once it lapses, one taker has it.
	later := now.Add(mailLease + time.Second)
	action, rev := take("invitation.a", later)
	if action != MailTakeOver {
		t.Fatalf("a lapsed lease: %v, want take over", action)
	}
	if action, _ := take("invitation.a", later); action != MailLeave {
		t.Errorf("taken over just now: %v, want leave", action)
	}
	if err := markSent(kv, "invitation.a", rev); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{later, later.Add(time.Hour)} {
		if action, _ := take("invitation.a", at); action != MailInviteOnly {
			t.Errorf("sent: %v, want nothing more to send", action)
		}
	}

	// A stale lease written by hand, as a worker that died leaves it.
	stale, _ := json.Marshal(MailState{At: now.Add(-time.Hour)})
	if _, err := kv.Put("invitation.b", stale); err != nil {
		t.Fatal(err)
	}
	if action, _ := take("invitation.b", now); action != MailTakeOver {
		t.Errorf("a dead worker's lease: %v, want take over", action)
	}
}
