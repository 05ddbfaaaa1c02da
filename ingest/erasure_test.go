package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestMinIODriveWipedMidImport imports a clients file of some 11 MB,
// uploaded in parts of 5 MiB to MinIO erasure-coded over 4 drives, and
// wipes one drive once ingest has read 6 MiB of it: the import completes
// with every row, none poisoned.
func TestMinIODriveWipedMidImport(t *testing.T) {
	const rows = 120000
	ns, nc := testkit.NATS(t)
	cfg, drives := testkit.ErasureMinIO(t, ns.ClientURL())
	ctx := t.Context()
	client := platform.NewS3Client(cfg)
	cfg.AdminAccessKey, cfg.AdminSecretKey = cfg.AccessKey, cfg.SecretKey
	admin, err := tenantkeys.NewAdmin(cfg, filepath.Join(t.TempDir(), "tenants.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.Add(ctx, "acme", "imports@acme.example")
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
	store := &wipingStore{S3Store: ingest.S3Store{Client: client}, drive: drives[2], after: 6 << 20, wiped: make(chan error, 1)}
	st := newSyncStage(t, nc, ingest.Config{}, store, tenants, &syncBuffer{})
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
	select {
	case err := <-store.wiped:
		if err != nil {
			t.Error(err)
		}
	default:
		t.Error("ingest never read 6 MiB of the file: the drive was not wiped")
	}
	if pm, err := poison.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("poisoned: %s", pm.Data)
	}
}

// wipingStore is MinIO as ingest reads it, but that it wipes drive once
// some read of an object has reached after bytes.
type wipingStore struct {
	ingest.S3Store
	drive string
	after int
	once  sync.Once
	wiped chan error // WipeDrive's answer
}

func (s *wipingStore) Open(ctx context.Context, ref ingest.ObjectRef) (io.ReadCloser, error) {
	body, err := s.S3Store.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &wipingBody{ReadCloser: body, store: s}, nil
}

type wipingBody struct {
	io.ReadCloser
	store *wipingStore
	read  int
}

func (b *wipingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += n
	if b.read >= b.store.after {
		b.store.once.Do(func() { b.store.wiped <- testkit.WipeDrive(b.store.drive) })
	}
	return n, err
}
