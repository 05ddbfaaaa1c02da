package bus_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

func newRunner(t *testing.T, nc *nats.Conn, c bus.Consumer) error {
	t.Helper()
	m, err := platform.NewMetrics(prometheus.NewRegistry(), c.Name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bus.NewRunner(c.Name, nc, c, m, slog.New(slog.DiscardHandler), func(*message.Message) error { return nil })
	return err
}

// TestStageNeedsMigrate: a stage does not create its consumer (its user
// may not): it refuses to start, telling the operator to run sluice migrate,
// until EnsureConsumer has; then it binds, and the consumer delivers to the
// stage's own subject, not to an inbox every user may read.
func TestStageNeedsMigrate(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, _ := nc.JetStream()
	c := bus.Consumer{Name: "test", Stream: schemas.StreamRows, Subject: schemas.SubjectRawRows, Concurrency: 3, AckWait: 7 * time.Second}
	err := newRunner(t, nc, c)
	if !errors.Is(err, bus.ErrNoConsumer) || !strings.Contains(err.Error(), "run sluice migrate") {
		t.Fatalf("stage started with no consumer: got %v, want %v", err, bus.ErrNoConsumer)
	}
	if _, err := js.ConsumerInfo(c.Stream, c.Name); !errors.Is(err, nats.ErrConsumerNotFound) {
		t.Errorf("the stage created its consumer: %v", err)
	}
	if err := bus.EnsureConsumer(js, c); err != nil {
		t.Fatal(err)
	}
	if err := newRunner(t, nc, c); err != nil {
		t.Fatalf("stage after migrate: %v", err)
	}
	info, err := js.ConsumerInfo(c.Stream, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	got := info.Config
	if got.DeliverSubject != "sluice.deliver.test" || got.DeliverGroup != "test" || got.MaxDeliver != -1 ||
		got.MaxAckPending != 12 || got.AckWait != 7*time.Second || got.FilterSubject != schemas.SubjectRawRows {
		t.Errorf("consumer: deliver %s group %s, MaxDeliver %d, MaxAckPending %d, AckWait %v, filter %s",
			got.DeliverSubject, got.DeliverGroup, got.MaxDeliver, got.MaxAckPending, got.AckWait, got.FilterSubject)
	}
}

// TestMigrateMovesAnOldConsumer: a consumer of an older sluice delivers
// under _INBOX; a stage refuses to bind to it, and migrating moves it to the
// stage's deliver subject, keeping its place in the stream.
func TestMigrateMovesAnOldConsumer(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, _ := nc.JetStream()
	c := bus.Consumer{Name: "test", Stream: schemas.StreamRows, Subject: schemas.SubjectRawRows}
	if _, err := js.AddConsumer(c.Stream, &nats.ConsumerConfig{Durable: c.Name, DeliverSubject: "_INBOX.sluice.test", DeliverGroup: c.Name,
		FilterSubject: c.Subject, AckPolicy: nats.AckExplicitPolicy, MaxDeliver: -1}); err != nil {
		t.Fatal(err)
	}
	publishChunk(t, nc, "imp1")
	if err := newRunner(t, nc, c); err == nil || !strings.Contains(err.Error(), "run sluice migrate") {
		t.Fatalf("stage on an old consumer: got %v, want an error naming sluice migrate", err)
	}
	if err := bus.EnsureConsumer(js, c); err != nil {
		t.Fatal(err)
	}
	info, err := js.ConsumerInfo(c.Stream, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.DeliverSubject != schemas.DeliverSubject(c.Name) || info.NumPending != 1 {
		t.Errorf("migrated consumer: deliver %s, pending %d; want %s, 1", info.Config.DeliverSubject, info.NumPending, schemas.DeliverSubject(c.Name))
	}
	if err := newRunner(t, nc, c); err != nil {
		t.Errorf("stage after migrate: %v", err)
	}
}
