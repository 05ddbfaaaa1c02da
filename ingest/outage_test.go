package ingest_test

import (
	"bytes"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestMinIOOutage runs ingest on a real MinIO that is stopped after a file
// was uploaded, then started again. The bucket event waits while the object
// cannot be read (a transient error): it is never poisoned, and the file is
// imported once MinIO is back. A bucket event that does not decode is a
// permanent error: it goes to the poison subject at once.
func TestMinIOOutage(t *testing.T) {
	ns, nc := testkit.NATS(t)
	cfg, err := parts.MinIOConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	minio, err := parts.NewMinIO(dir, ns.ClientURL(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			minio.Stop()
		}
	}()
	ctx := t.Context()
	client := platform.NewS3Client(cfg)
	// The partner uploads with its own key (platform/tenantkeys).
	cfg.AdminAccessKey, cfg.AdminSecretKey = cfg.AccessKey, cfg.SecretKey
	admin, err := tenantkeys.NewAdmin(cfg, filepath.Join(dir, "tenants.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.Add(ctx, "acme", "imports@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	partner := cfg
	partner.AccessKey, partner.SecretKey = key.AccessKey, key.SecretKey
	csv := "firstName,email\nAnn,ann@acme.example\n"
	if _, err := platform.NewS3Client(partner).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String("acme/clients/away.csv"),
		Body: bytes.NewReader([]byte(csv))}); err != nil {
		t.Fatal(err)
	}
	js, _ := nc.JetStream()
	if err := parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
		last, err := js.GetLastMsg(schemas.StreamS3Events, schemas.SubjectS3Events)
		return err == nil && strings.Contains(string(last.Data), "away.csv"), nil
	}); err != nil {
		t.Fatalf("MinIO sent no bucket event: %v", err)
	}
	minio.Stop()
	stopped = true

	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageIngest)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tenants := platform.Tenants{"acme": {MaxRows: 10, MaxBytes: 1 << 20, Mode: schemas.ModeUpdate, OnError: schemas.OnErrorContinue,
		Region: "RU", Password: &schemas.DefaultPasswordPolicy, AccessKeys: []string{key.AccessKey}}}
	cons, err := ingest.Consumer(ingest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons) // as sluice migrate does
	st, err := ingest.New(ingest.Config{}, nc, ingest.S3Store{Client: client}, tenants, secrets, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	poison, err := js.SubscribeSync(schemas.PoisonSubject(schemas.StageIngest), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	ingested, err := js.SubscribeSync(schemas.ImportSubject(schemas.EventIngested, "*"), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}

	err = parts.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		return testutil.ToFloat64(m.Waiting.WithLabelValues(string(platform.PartS3))) >= 1, nil
	})
	if err != nil {
		if pm, perr := poison.NextMsg(time.Second); perr == nil {
			t.Logf("poisoned: %s", pm.Header.Get(middleware.ReasonForPoisonedKey))
		}
		t.Fatalf("the bucket event was not put back to wait for MinIO: %v", err)
	}
	if msg, err := poison.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("poisoned during the outage: %s", msg.Header.Get(middleware.ReasonForPoisonedKey))
	}
	u, _ := url.Parse(cfg.Endpoint)
	port, _ := strconv.Atoi(u.Port())
	if minio, err = parts.StartMinIO(ctx, dir, port, strings.TrimPrefix(ns.ClientURL(), "nats://"), cfg); err != nil {
		t.Fatal(err)
	}
	stopped = false
	msg, err := ingested.NextMsg(90 * time.Second)
	if err != nil {
		t.Fatalf("not imported once MinIO was back: %v", err)
	}
	if !strings.Contains(string(msg.Data), `"rows":1`) {
		t.Errorf("ingested event = %s, want 1 row", msg.Data)
	}

	if err := st.Pub.Publish(schemas.SubjectS3Events, message.NewMessage("garbled", []byte("{not json"))); err != nil {
		t.Fatal(err)
	}
	if _, err := poison.NextMsg(10 * time.Second); err != nil {
		t.Errorf("no poison message for a bucket event that does not decode: %v", err)
	}
}
