package notify_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestWaitingBeforeIngested: after an outage, notify may handle an import's
// waiting and progress events before its ingested event. The import must
// not complete before every chunk ingest cut is reported (the fault suite
// saw one complete with 17 of 200 chunks, its chunk count read as 0).
func TestWaitingBeforeIngested(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	_, nc := testkit.NATS(t)
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageNotify)
	if err != nil {
		t.Fatal(err)
	}
	store := &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"}
	cons, err := notify.Consumer(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons) // as sluice migrate does
	st, err := notify.New(notify.Config{}, nc, store, notify.SMTP{Addr: "127.0.0.1:1", From: "sluice@test.example"},
		platform.Tenants{}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
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
		if err := batch.Append(imp.ID, uint32(chunk), uint32(chunk*10), uint32(10), uint32(10), uint32(0), uint32(0), uint32(0), time.Now().UTC(), uint64(1)); err != nil {
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
