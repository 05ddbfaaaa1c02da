package bus_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestEnsureStreamsKeepsWhatAnOperatorSet: migrating again leaves what an
// operator changed on a stream (a shorter retention, a message
// limit, a subject of theirs), and lowers nothing; it only brings back a
// duplicate window that covers sluice's retries.
func TestEnsureStreamsKeepsWhatAnOperatorSet(t *testing.T) {
	_, nc := testkit.NATS(t) // EnsureStreams ran once
	js, _ := nc.JetStream()
	info, err := js.StreamInfo(schemas.StreamImports)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 || info.Config.Duplicates != bus.DuplicateWindow {
		t.Fatalf("new stream: replicas %d, duplicates %v", info.Config.Replicas, info.Config.Duplicates)
	}
	cfg := info.Config
	cfg.MaxAge, cfg.MaxMsgs = 7*24*time.Hour, 1000000
	cfg.Subjects = append(cfg.Subjects, "ops.imports.>")
	cfg.Duplicates = time.Minute
	if _, err := js.UpdateStream(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(js, 1, 0); err != nil {
		t.Fatal(err)
	}
	got, err := js.StreamInfo(schemas.StreamImports)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Config
	if c.MaxAge != 7*24*time.Hour || c.MaxMsgs != 1000000 || !slices.Contains(c.Subjects, "ops.imports.>") {
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

// TestDLQExpiresPersonalData: the DLQ keeps its rejected rows and poison
// messages for the personal data TTL (30 days unless configured), and
// migrating brings its MaxAge back to the configured one, down or up.
func TestDLQExpiresPersonalData(t *testing.T) {
	_, nc := testkit.NATS(t) // EnsureStreams with the default
	js, _ := nc.JetStream()
	maxAge := func() time.Duration {
		t.Helper()
		info, err := js.StreamInfo(schemas.StreamDLQ)
		if err != nil {
			t.Fatal(err)
		}
		return info.Config.MaxAge
	}
	if got := maxAge(); got != platform.DefaultPersonalDataTTL {
		t.Errorf("new DLQ: MaxAge %v, want %v", got, platform.DefaultPersonalDataTTL)
	}
	const ttl = 48 * time.Hour
	if err := bus.EnsureStreams(js, 1, ttl); err != nil {
		t.Fatal(err)
	}
	if got := maxAge(); got != ttl {
		t.Errorf("DLQ after migrating with a %v TTL: MaxAge %v", ttl, got)
	}
	info, _ := js.StreamInfo(schemas.StreamDLQ)
	cfg := info.Config
	cfg.MaxAge = 0 // kept for ever
	if _, err := js.UpdateStream(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(js, 1, ttl); err != nil {
		t.Fatal(err)
	}
	if got := maxAge(); got != ttl {
		t.Errorf("DLQ kept for ever, migrated again: MaxAge %v, want %v", got, ttl)
	}
	// A shorter TTL bounds every stream: each holds personal data.
	const short = 36 * time.Hour
	if err := bus.EnsureStreams(js, 1, short); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{schemas.StreamS3Events, schemas.StreamRows, schemas.StreamImports, schemas.StreamDLQ} {
		info, err := js.StreamInfo(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Config.MaxAge; got != short {
			t.Errorf("%s after migrating with a %v TTL: MaxAge %v", name, short, got)
		}
	}
}
