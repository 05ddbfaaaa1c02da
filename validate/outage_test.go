package validate_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// TestNATSRestart runs validate on a real NATS server that is stopped, then
// started again on the same store: validate reconnects to its consumer and
// validates what comes after, and nothing is poisoned. A chunk of a dataset
// sluice does not know is a permanent error: it goes to the poison subject
// at once.
func TestNATSRestart(t *testing.T) {
	store := t.TempDir()
	ns, err := bus.StartNATS(-1, store)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown() }()
	_, portText, _ := net.SplitHostPort(ns.Addr().String())
	port, _ := strconv.Atoi(portText)
	nc, err := bus.Connect(ns.ClientURL(), schemas.StageValidate, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if err := bus.EnsureStreams(js, 1, 0); err != nil {
		t.Fatal(err)
	}
	st, _ := runValidate(t, nc)
	ctx := t.Context()

	ns.Shutdown()
	ns.WaitForShutdown()
	if err := parts.WaitFor(ctx, 5*time.Second, func() (bool, error) { return !nc.IsConnected(), nil }); err != nil {
		t.Fatal("validate still connected with NATS stopped")
	}
	if ns, err = bus.StartNATS(port, store); err != nil {
		t.Fatal(err)
	}
	if err := parts.WaitFor(ctx, 20*time.Second, func() (bool, error) { return nc.IsConnected(), nil }); err != nil {
		t.Fatal("validate did not reconnect")
	}
	poison, err := js.SubscribeSync(schemas.PoisonSubject(schemas.StageValidate), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	chunk := func(id, dataset string) *schemas.Chunk {
		return &schemas.Chunk{Import: schemas.Import{ID: id, Tenant: "acme", Dataset: dataset, Version: 1}, Number: 1, FirstRow: 2,
			Rows: []schemas.Row{{N: 2, Cells: []string{"", "Ann", "", "ann@acme.example", "", "", "1", "Personal", "2024-01-01"}}}}
	}
	if err := bus.PublishChunk(st.Pub, schemas.RawRowsSubject("acme", "clients"), "after.ingest.1", chunk("after", "clients")); err != nil {
		t.Fatal(err)
	}
	err = parts.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		_, err := js.GetLastMsg(schemas.StreamRows, schemas.ValidRowsSubject("acme", "clients"))
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the chunk sent after the restart was not validated: %v", err)
	}
	if err := bus.PublishChunk(st.Pub, schemas.RawRowsSubject("acme", "nope"), "nope.ingest.1", chunk("nope", "nope")); err != nil {
		t.Fatal(err)
	}
	msg, err := poison.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no poison message for a chunk of an unknown dataset: %v", err)
	}
	if reason := msg.Header.Get(middleware.ReasonForPoisonedKey); reason == "" {
		t.Error("poisoned with no reason")
	}
	if msg, err := poison.NextMsg(time.Second); err == nil {
		t.Errorf("a second message poisoned: %s", msg.Header.Get(middleware.ReasonForPoisonedKey))
	}
}
