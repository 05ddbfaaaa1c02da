package operate

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// TestCancelIsTheFilesDeletion: the event Cancel publishes is, to ingest,
// the deletion of the import's file; recorded as ingest records a deletion,
// it cancels that import, and an earlier upload of the key, but never a
// later one. Sent twice, it is stored once.
func TestCancelIsTheFilesDeletion(t *testing.T) {
	ns, err := bus.StartNATS(-1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(js, 1, 0); err != nil {
		t.Fatal(err)
	}
	uploaded := time.Date(2026, 11, 29, 20, 0, 0, 123e6, time.UTC)
	version := func(at time.Time) uint64 { return uint64(at.UnixMilli())<<20 | 7 }
	imp := schemas.Import{ID: "imp-1", Bucket: "imports", Key: "acme/clients/my file+1.csv", Version: version(uploaded)}
	p := Publisher{URL: ns.ClientURL()}
	for range 2 {
		if err := p.Cancel(imp); err != nil {
			t.Fatal(err)
		}
	}
	info, err := js.StreamInfo(schemas.StreamS3Events)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("S3_EVENTS after two cancels: %v %+v, want one message", err, info.State)
	}
	m, err := js.GetLastMsg(schemas.StreamS3Events, schemas.SubjectS3Events)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := ingest.ParseEvent(m.Data)
	if err != nil || len(refs) != 1 {
		t.Fatalf("ParseEvent(%s): %+v %v, want one object", m.Data, refs, err)
	}
	ref := refs[0]
	if !ref.Removed || ref.Bucket != imp.Bucket || ref.Key != imp.Key || !ref.Time.Equal(uploaded) {
		t.Fatalf("cancel event read as %+v, want the deletion of %s/%s at %v", ref, imp.Bucket, imp.Key, uploaded)
	}
	kv, err := js.KeyValue(bus.CancelledBucket)
	if err != nil {
		t.Fatal(err)
	}
	cancels := bus.Cancellations{KV: kv}
	if err := cancels.Cancel(ref.Bucket, ref.Key, ref.Time); err != nil { // what ingest does with it
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"this upload", uploaded, true},
		{"an earlier upload", uploaded.Add(-time.Minute), true},
		{"a later upload", uploaded.Add(time.Millisecond), false},
	} {
		other := imp
		other.Version = version(c.at)
		if got, err := cancels.Cancelled(&other); err != nil || got != c.want {
			t.Errorf("%s cancelled: %v %v, want %v", c.name, got, err, c.want)
		}
	}
}
