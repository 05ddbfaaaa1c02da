package notify_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// runNotify runs notify as cfg says on a NATS and a ClickHouse of the
// test's own, its consumer made as sluice migrate makes it, with no tenant
// and no mail server: these tests look at what it records.
func runNotify(t *testing.T, cfg notify.Config) (*parts.ClickHouse, *nats.Conn, *notify.Stage, *notify.ClickHouse) {
	t.Helper()
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	_, nc := testkit.NATS(t)
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageNotify)
	if err != nil {
		t.Fatal(err)
	}
	store := &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"}
	cons, err := notify.Consumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons)
	st, err := notify.New(cfg, nc, store, notify.SMTP{Addr: "127.0.0.1:1", From: "sluice@test.example"},
		platform.Tenants{}, nil, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	return ch, nc, st, store
}

// TestWaitingBeforeIngested: after an outage, notify may handle an import's
// waiting and progress events before its ingested event. The import must
// not complete before every chunk ingest cut is reported (the fault suite
// saw one complete with 17 of 200 chunks, its chunk count read as 0).
func TestWaitingBeforeIngested(t *testing.T) {
	ch, _, st, store := runNotify(t, notify.Config{})
	ctx := t.Context()
	imp := schemas.Import{ID: "early", Tenant: "acme", Dataset: "clients", ReceivedAt: time.Now().UTC().Truncate(time.Second)}
	publish := func(ev schemas.ImportEvent, token string) {
		t.Helper()
		ev.Import = imp
		if err := bus.Publish(st.Pub, schemas.ImportSubject(ev.Type, imp.ID), schemas.MsgID(imp.ID, token, ev.Chunk), ev); err != nil {
			t.Fatal(err)
		}
	}
	report := func(chunk int) {
		t.Helper()
		batch, err := ch.Conn.PrepareBatch(ctx, warehouse.ImportChunks.Insert("sluice"))
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.Append(imp.ID, uint32(chunk), uint32(chunk*10), uint32(10), uint32(10), uint32(0), uint32(0), uint32(0), time.Now().UTC(), uint64(1),
			uint32(0), uint32(0), uint32(0), uint32(0), uint32(0)); err != nil {
			t.Fatal(err)
		}
		if err := batch.Send(); err != nil {
			t.Fatal(err)
		}
	}
	status := func() string {
		rec, _, err := store.Import(context.Background(), imp.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Status
	}
	publish(schemas.ImportEvent{Type: schemas.EventReceived}, schemas.TokenReceived)
	if err := parts.WaitFor(ctx, 10*time.Second, func() (bool, error) { return status() == schemas.StatusReceived, nil }); err != nil {
		t.Fatal(err)
	}
	report(1)
	publish(schemas.ImportEvent{Type: schemas.EventWaiting, Chunk: 1, At: time.Now().UTC(),
		Reason: &schemas.Violation{Code: schemas.CodeWaiting, Message: schemas.MsgWaiting("clickhouse")}}, schemas.TokenWaiting+"load")
	publish(schemas.ImportEvent{Type: schemas.EventProgress, Chunk: 1}, schemas.StageLoad)
	time.Sleep(2 * time.Second) // let notify handle both
	if got := status(); got != schemas.StatusReceived {
		t.Fatalf("status = %s before the ingested event, want %s", got, schemas.StatusReceived)
	}
	publish(schemas.ImportEvent{Type: schemas.EventIngested, Chunks: 2, Rows: 20}, schemas.TokenIngested)
	if err := parts.WaitFor(ctx, 10*time.Second, func() (bool, error) { return status() == schemas.StatusProcessing, nil }); err != nil {
		t.Fatalf("status = %s after the ingested event, want %s", status(), schemas.StatusProcessing)
	}
	report(2)
	publish(schemas.ImportEvent{Type: schemas.EventProgress, Chunk: 2}, schemas.StageLoad)
	if err := parts.WaitFor(ctx, 10*time.Second, func() (bool, error) { return schemas.FinalStatus(status()), nil }); err != nil {
		t.Fatalf("status = %s once every chunk is reported, want it ended", status())
	}
}

// TestFailureOfUnknownImport: every stage may announce that an import
// failed, but only ingest says what an import is. A failure of an import
// whose received event is still on its way fails it once received; one of
// an import never received (forged, with a tenant and an uploader of its
// choosing) records and mails nothing.
func TestFailureOfUnknownImport(t *testing.T) {
	// One worker: the received event waits behind the failure in its hands.
	_, nc, st, store := runNotify(t, notify.Config{Concurrency: 1})
	ctx := t.Context()
	failure := &schemas.Violation{Code: schemas.CodeFailed, Message: schemas.MsgFailed(schemas.StageLoad)}
	publish := func(ev schemas.ImportEvent, token string) {
		t.Helper()
		if err := bus.Publish(st.Pub, schemas.ImportSubject(ev.Type, ev.Import.ID), schemas.MsgID(ev.Import.ID, token, 0), ev); err != nil {
			t.Fatal(err)
		}
	}
	record := func(id string) (notify.ImportRecord, bool) {
		rec, ok, err := store.Import(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return rec, ok
	}

	forged := schemas.Import{ID: "forged", Tenant: "acme", Dataset: "clients", Uploader: "victim@elsewhere.example", FileName: "Call us now.csv"}
	publish(schemas.ImportEvent{Type: schemas.EventFailed, Import: forged, Reason: failure}, schemas.TokenFailed+"load")
	late := schemas.Import{ID: "late", Tenant: "acme", Dataset: "clients", ReceivedAt: time.Now().UTC().Truncate(time.Second)}
	publish(schemas.ImportEvent{Type: schemas.EventFailed, Import: late, Reason: failure}, schemas.TokenFailed+"load")
	time.Sleep(time.Second) // both failures in notify's hands, neither import known
	publish(schemas.ImportEvent{Type: schemas.EventReceived, Import: late}, schemas.TokenReceived)

	if err := parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
		rec, ok := record(late.ID)
		return ok && rec.Status == schemas.StatusFailed, nil
	}); err != nil {
		rec, _ := record(late.ID)
		t.Errorf("a failure that came before its import's received event: status %q, want %s", rec.Status, schemas.StatusFailed)
	}
	// Every delivery of the forged failure is answered once the consumer
	// has nothing pending.
	js, _ := nc.JetStream()
	if err := parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
		info, err := js.ConsumerInfo(schemas.StreamImports, schemas.DurableNotify)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0, nil
	}); err != nil {
		t.Fatalf("notify still holds events: %v", err)
	}
	if rec, ok := record(forged.ID); ok {
		t.Errorf("a failure of an import never received recorded it: %+v", rec)
	}
}
