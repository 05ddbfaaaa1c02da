package bus_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestEnsureStreamsKeepsWhatAnOperatorSet: starting a stage again leaves
// what an operator changed on a stream (a shorter retention, a message
// limit, a subject of theirs), and lowers nothing; it only brings back a
// duplicate window that covers sluice's retries.
func TestEnsureStreamsKeepsWhatAnOperatorSet(t *testing.T) {
	_, nc := testkit.NATS(t) // EnsureStreams ran once
	js, _ := nc.JetStream()
	info, err := js.StreamInfo(schemas.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 || info.Config.Duplicates != bus.DuplicateWindow {
		t.Fatalf("new stream: replicas %d, duplicates %v", info.Config.Replicas, info.Config.Duplicates)
	}
	cfg := info.Config
	cfg.MaxAge, cfg.MaxMsgs = 7*24*time.Hour, 1000000
	cfg.Subjects = append(cfg.Subjects, "ops.dlq.>")
	cfg.Duplicates = time.Minute
	if _, err := js.UpdateStream(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(js, 1); err != nil {
		t.Fatal(err)
	}
	got, err := js.StreamInfo(schemas.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Config
	if c.MaxAge != 7*24*time.Hour || c.MaxMsgs != 1000000 || !slices.Contains(c.Subjects, "ops.dlq.>") {
		t.Errorf("the operator's settings were undone: max age %v, max msgs %d, subjects %v", c.MaxAge, c.MaxMsgs, c.Subjects)
	}
	if c.Duplicates != bus.DuplicateWindow {
		t.Errorf("duplicate window = %v, want %v (sluice's retries need it)", c.Duplicates, bus.DuplicateWindow)
	}
	for _, name := range []string{bus.ClaimsBucket, bus.MailedBucket, bus.CancelledBucket, bus.NaksBucket} {
		if _, err := js.KeyValue(name); err != nil {
			t.Errorf("KV bucket %s: %v", name, err)
		}
	}
}
