package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// migrateSync puts the sync schedule cfg sets on the SYNC stream and
// creates ingest's consumers, as `sluice migrate` does.
func migrateSync(t *testing.T, nc *nats.Conn, cfg ingest.Config) {
	t.Helper()
	schedule, err := ingest.SyncSchedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureSchedule(t.Context(), nc, 1, schedule); err != nil {
		t.Fatal(err)
	}
	cons, err := ingest.Consumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons)
	testkit.Consumer(t, nc, ingest.SyncConsumer(cfg))
}

// syncBuffer is a log both instances' loggers write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// syncParts starts NATS and MinIO and writes a tenants file with acme.
func syncParts(t *testing.T) (*nats.Conn, platform.S3Config, platform.TenantSource) {
	t.Helper()
	ns, nc := testkit.NATS(t)
	cfg, err := parts.MinIOConfig()
	if err != nil {
		t.Fatal(err)
	}
	minio, err := parts.NewMinIO(t.TempDir(), ns.ClientURL(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(minio.Stop)
	tenants, err := platform.OpenTenants(testkit.WriteTenants(t, platform.Tenants{"acme": {Contact: "imports@acme.example"}}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return nc, cfg, tenants
}

func newSyncStage(t *testing.T, nc *nats.Conn, cfg ingest.Config, store ingest.ObjectStore, tenants platform.TenantSource, logs *syncBuffer) *ingest.Stage {
	t.Helper()
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageIngest)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ingest.New(cfg, nc, store, tenants, secrets, m, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSyncSchedule(t *testing.T) {
	for _, tc := range []struct {
		name, at, zone string
		want           bus.Schedule
		wantErr        bool
	}{
		{name: "default", want: bus.Schedule{Cron: "0 0 2 * * *", TimeZone: "UTC"}},
		{name: "time of day in a zone", at: "23:45", zone: "Europe/Moscow", want: bus.Schedule{Cron: "0 45 23 * * *", TimeZone: "Europe/Moscow"}},
		{name: "cron", at: "0 30 1 * * 1-5", want: bus.Schedule{Cron: "0 30 1 * * 1-5", TimeZone: "UTC"}},
		{name: "every takes no zone", at: "@every 6h", want: bus.Schedule{Cron: "@every 6h"}},
		{name: "five fields", at: "30 1 * * *", wantErr: true},
		{name: "unknown zone", at: "02:00", zone: "Mars/Olympus", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ingest.SyncSchedule(ingest.Config{SyncAt: tc.at, SyncTimeZone: tc.zone})
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("SyncSchedule(%q, %q) = %+v, %v; want %+v, error %v", tc.at, tc.zone, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestSyncFiresOnceAcrossInstances runs two ingest instances on one NATS
// with a schedule that fires a few seconds later: the instances starting
// together run one start-up sync between them, and the schedule's firing
// one sync, not one per instance.
func TestSyncFiresOnceAcrossInstances(t *testing.T) {
	nc, s3cfg, tenants := syncParts(t)
	fire := time.Now().UTC().Add(10 * time.Second).Truncate(time.Second)
	cfg := ingest.Config{Bucket: s3cfg.Bucket, SyncGrace: time.Millisecond,
		SyncAt: fmt.Sprintf("%d %d %d * * *", fire.Second(), fire.Minute(), fire.Hour())}
	migrateSync(t, nc, cfg)
	store := ingest.S3Store{Client: platform.NewS3Client(s3cfg)}
	var logs [2]syncBuffer
	for i := range logs {
		testkit.Run(t, newSyncStage(t, nc, cfg, store, tenants, &logs[i]))
	}
	runs := func(by string) int {
		n := 0
		for i := range logs {
			n += strings.Count(logs[i].String(), `msg="ingest: bucket sync done" by=`+by+" ")
		}
		return n
	}
	err := parts.WaitFor(t.Context(), 20*time.Second, func() (bool, error) { return runs(bus.SyncAtStartUp) > 0, nil })
	if err != nil {
		t.Fatalf("no start-up sync: %v\n%s\n%s", err, logs[0].String(), logs[1].String())
	}
	err = parts.WaitFor(t.Context(), time.Until(fire)+20*time.Second, func() (bool, error) { return runs(bus.SyncBySchedule) > 0, nil })
	if err != nil {
		t.Fatalf("the schedule never fired: %v\n%s\n%s", err, logs[0].String(), logs[1].String())
	}
	time.Sleep(3 * time.Second) // a second run, if any, would show by now
	if s, f := runs(bus.SyncAtStartUp), runs(bus.SyncBySchedule); s != 1 || f != 1 {
		t.Errorf("%d start-up syncs and %d scheduled ones, want 1 and 1\n%s\n%s", s, f, logs[0].String(), logs[1].String())
	}
}

// vanishing is the real bucket, but the object called gone is deleted
// between the listing that shows it and its reading, as a partner's
// delete may race a sync.
type vanishing struct {
	ingest.S3Store
	gone string
}

func (v vanishing) List(ctx context.Context, bucket string, each func(ingest.ObjectRef) error) error {
	return v.S3Store.List(ctx, bucket, func(ref ingest.ObjectRef) error {
		if ref.Key == v.gone {
			if _, err := v.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(ref.Key)}); err != nil {
				return err
			}
		}
		return each(ref)
	})
}

// TestSyncGoesOnAfterAFailingObject: an object the sync cannot read (gone
// once listed) fails alone; the objects listed after it are imported.
func TestSyncGoesOnAfterAFailingObject(t *testing.T) {
	nc, s3cfg, tenants := syncParts(t)
	cfg := ingest.Config{Bucket: s3cfg.Bucket, SyncGrace: time.Millisecond}
	migrateSync(t, nc, cfg)
	client := platform.NewS3Client(s3cfg)
	keys := []string{"acme/clients/a.csv", "acme/clients/b.csv", "acme/clients/c.csv"}
	for _, key := range keys {
		if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(s3cfg.Bucket), Key: aws.String(key),
			Body: strings.NewReader("firstName,email\nAnn,ann@acme.example\n")}); err != nil {
			t.Fatal(err)
		}
	}
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	received, err := js.SubscribeSync(schemas.ImportSubject(schemas.EventReceived, "*"), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	// Not run: the bucket's events wait, so the sync finds every object.
	st := newSyncStage(t, nc, cfg, vanishing{ingest.S3Store{Client: client}, keys[1]}, tenants, &logs)
	time.Sleep(10 * time.Millisecond) // older than the grace
	imported, failed, err := st.Sync(t.Context())
	if err != nil || imported != 2 || failed != 1 {
		t.Fatalf("Sync = %d imported, %d failed, %v; want 2, 1, none\n%s", imported, failed, err, logs.String())
	}
	if !strings.Contains(logs.String(), "could not import an object") || !strings.Contains(logs.String(), keys[1]) {
		t.Errorf("the failing object is not logged:\n%s", logs.String())
	}
	got := map[string]bool{}
	for range 2 {
		msg, err := received.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("received %v of 2 imports: %v", got, err)
		}
		for _, key := range keys {
			if strings.Contains(string(msg.Data), key) {
				got[key] = true
			}
		}
	}
	if !got[keys[0]] || !got[keys[2]] {
		t.Errorf("imported %v, want %s and %s", got, keys[0], keys[2])
	}
	if msg, err := received.NextMsg(time.Second); err == nil {
		t.Errorf("a third import: %s", msg.Data)
	}
}
