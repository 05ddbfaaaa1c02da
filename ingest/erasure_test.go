package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestMinIODriveWipedMidImport imports a clients file of some 11 MB,
// uploaded in parts to MinIO erasure-coded over 4 drives, and wipes one
// drive once ingest has published its first chunk: the import completes
// with every row, none poisoned.
func TestMinIODriveWipedMidImport(t *testing.T) {
	const rows = 120000
	ns, nc := testkit.NATS(t)
	cfg, err := parts.MinIOConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	minio, err := parts.NewMinIODrives(dir, 4, ns.ClientURL(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Stop()
	ctx := t.Context()
	client := platform.NewS3Client(cfg)
	cfg.AdminAccessKey, cfg.AdminSecretKey = cfg.AccessKey, cfg.SecretKey
	admin, err := tenantkeys.NewAdmin(cfg, filepath.Join(dir, "tenants.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.Add(ctx, "acme", "imports@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageIngest)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tenants := platform.Tenants{"acme": {MaxRows: rows, MaxBytes: 64 << 20, Mode: schemas.ModeUpdate, OnError: schemas.OnErrorContinue,
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
	js, _ := nc.JetStream()
	poison, err := js.SubscribeSync(schemas.PoisonSubject(schemas.StageIngest), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	ingested, err := js.SubscribeSync(schemas.ImportSubject(schemas.EventIngested, "*"), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}

	var csv bytes.Buffer
	csv.WriteString("firstName,lastName,email\n")
	for i := range rows {
		fmt.Fprintf(&csv, "Annabelle-Marguerite-%06d,Fitzgerald-Montgomery-%06d,annabelle.marguerite.%06d@acme.example\n", i, i, i)
	}
	partner := cfg
	partner.AccessKey, partner.SecretKey = key.AccessKey, key.SecretKey
	testkit.PutParts(ctx, t, platform.NewS3Client(partner), cfg.Bucket, "acme/clients/big.csv", csv.Bytes(), 5<<20)

	raw := schemas.RawRowsSubject("acme", "clients")
	published := func() (bool, error) {
		_, err := js.GetLastMsg(schemas.StreamRows, raw)
		return err == nil, nil
	}
	if err := parts.WaitFor(ctx, 90*time.Second, published); err != nil {
		t.Fatalf("ingest published no chunk of %d bytes: %v", csv.Len(), err)
	}
	testkit.WipeDrive(t, parts.MinIODrives(dir, 4)[2])
	info, err := js.StreamInfo(schemas.StreamRows)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drive wiped with %d chunks of %d bytes published", info.State.Msgs, info.State.Bytes)

	msg, err := ingested.NextMsg(120 * time.Second)
	if err != nil {
		t.Fatalf("the import did not complete with a drive wiped: %v", err)
	}
	var ev schemas.ImportEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Rows != rows {
		t.Errorf("ingested %d rows, want %d", ev.Rows, rows)
	}
	if info.State.Msgs >= uint64(ev.Chunks) {
		t.Errorf("every one of the %d chunks was published before the drive was wiped", ev.Chunks)
	}
	if pm, err := poison.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("poisoned: %s", pm.Data)
	}
}
