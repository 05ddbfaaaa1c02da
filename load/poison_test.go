package load_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestClickHouseDownGoesToPoison: with ClickHouse unreachable, a chunk is
// retried, then lands on sluice.dlq.poison.load with the reason, and no
// progress is reported for it.
func TestClickHouseDownGoesToPoison(t *testing.T) {
	_, nc := testkit.NATS(t)
	port, err := parts.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:" + strconv.Itoa(port)}, DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageLoad)
	if err != nil {
		t.Fatal(err)
	}
	st, err := load.New(load.Config{MaxWait: 20 * time.Millisecond}, nc, &load.ClickHouse{Conn: conn, Database: "sluice"}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-st.Running()

	js, _ := nc.JetStream()
	poison, err := js.SubscribeSync(schemas.PoisonSubject(schemas.StageLoad), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	c := &schemas.Chunk{Import: schemas.Import{ID: "imp1", Tenant: "acme", Dataset: "clients", Version: 1}, Number: 1, FirstRow: 2,
		Rows: []schemas.Row{{N: 2, Cells: []string{"", "Ann", "", "ann@acme.example", "", "", "1", "Personal", "2024-01-01 00:00:00"}}}}
	if err := bus.PublishChunk(st.Pub, schemas.ReadyRowsSubject("acme", "clients"), "imp1.transform.1", c); err != nil {
		t.Fatal(err)
	}
	msg, err := poison.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("no poison message: %v", err)
	}
	if reason := msg.Header.Get(middleware.ReasonForPoisonedKey); !strings.HasPrefix(reason, "load: ") || !strings.Contains(reason, "connection refused") {
		t.Errorf("poison reason: got %q, want load's error reaching ClickHouse", reason)
	}
	if _, err := js.GetLastMsg(schemas.StreamImports, schemas.ImportSubject(schemas.EventProgress, "imp1")); err == nil {
		t.Error("a progress event was published for a chunk that was not written")
	}
}
