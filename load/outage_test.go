package load_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// chunkOf is a one-row clients chunk of import id, with created as its
// created cell.
func chunkOf(id, email, created string) *schemas.Chunk {
	return &schemas.Chunk{Import: schemas.Import{ID: id, Tenant: "acme", Dataset: "clients", Version: 1}, Number: 1, FirstRow: 2,
		Rows: []schemas.Row{{N: 2, Cells: []string{"", "Ann", "", email, "", "", "1", "Personal", created}}}}
}

// TestClickHouseOutage runs load on a real ClickHouse that is stopped, then
// started again. A chunk that arrives during the outage waits (a transient
// error): it is never poisoned, and it is loaded once ClickHouse is back. A
// chunk that breaks the contract (a cell transform should have made
// canonical) is a permanent error: it goes to the poison subject at once,
// with the reason, and no progress is reported for it.
func TestClickHouseOutage(t *testing.T) {
	dir := t.TempDir()
	ch, stop, err := parts.NewClickHouse(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop() }()
	_, nc := testkit.NATS(t)
	reg := prometheus.NewRegistry()
	m, err := platform.NewMetrics(reg, schemas.StageLoad)
	if err != nil {
		t.Fatal(err)
	}
	cfg := load.Config{MaxWait: 20 * time.Millisecond, WriteTimeout: 5 * time.Second}
	cons, err := load.Consumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons) // as sluice migrate does
	st, err := load.New(cfg, nc,
		&load.ClickHouse{Conn: ch.Load, Database: "sluice"}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	ctx := t.Context()
	js, _ := nc.JetStream()
	poison, err := js.SubscribeSync(schemas.PoisonSubject(schemas.StageLoad), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	progress := func(id string) bool {
		_, err := js.GetLastMsg(schemas.StreamImports, schemas.ImportSubject(schemas.EventProgress, id))
		return err == nil
	}

	t.Run("permanent", func(t *testing.T) {
		if err := bus.PublishChunk(st.Pub, schemas.ReadyRowsSubject("acme", "clients"), "bad.transform.1",
			chunkOf("bad", "bad@acme.example", "not a time")); err != nil {
			t.Fatal(err)
		}
		msg, err := poison.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("no poison message: %v", err)
		}
		if reason := msg.Header.Get(middleware.ReasonForPoisonedKey); !strings.Contains(reason, "is not canonical") {
			t.Errorf("poison reason = %q, want the contract's breach", reason)
		}
		if progress("bad") {
			t.Error("a progress event was published for a chunk that was not written")
		}
	})

	t.Run("transient", func(t *testing.T) {
		ch.Part.Stop()
		if err := bus.PublishChunk(st.Pub, schemas.ReadyRowsSubject("acme", "clients"), "away.transform.1",
			chunkOf("away", "away@acme.example", "2024-01-01 00:00:00")); err != nil {
			t.Fatal(err)
		}
		err := parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
			return testutil.ToFloat64(m.Waiting.WithLabelValues(string(platform.PartClickHouse))) >= 2, nil
		})
		if err != nil {
			t.Fatalf("the chunk was not put back to wait for ClickHouse twice: %v", err)
		}
		if msg, err := poison.NextMsg(100 * time.Millisecond); err == nil {
			t.Fatalf("poisoned during the outage: %s", msg.Header.Get(middleware.ReasonForPoisonedKey))
		}
		if err := ch.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if err := parts.WaitFor(ctx, 90*time.Second, func() (bool, error) { return progress("away"), nil }); err != nil {
			t.Fatalf("the chunk was not loaded once ClickHouse was back: %v", err)
		}
		var n uint64
		if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.clients FINAL WHERE email = 'away@acme.example'").Scan(&n); err != nil || n != 1 {
			t.Errorf("rows of the chunk in clients = %d (%v), want 1", n, err)
		}
		if msg, err := poison.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("poisoned: %s", msg.Header.Get(middleware.ReasonForPoisonedKey))
		}
	})
}
