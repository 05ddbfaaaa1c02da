package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// runRouter runs a stage router with handler h on the raw rows until the
// returned stop is called.
func runRouter(t *testing.T, nc *nats.Conn, h message.NoPublishHandlerFunc) (stop func()) {
	t.Helper()
	return runStage(t, nc, "test", h)
}

func publishChunk(t *testing.T, nc *nats.Conn, id string) {
	t.Helper()
	pub, err := bus.NewPublisher(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &schemas.Chunk{Import: schemas.Import{ID: id, Tenant: "acme", Dataset: "clients"}, Number: 1}
	if err := bus.PublishChunk(pub, schemas.RawRowsSubject("acme", "clients"), schemas.MsgID(id, "test", 1), c); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerOutlivesItsSubscribers: a clean shutdown must not delete the
// durable consumer, or the next start replays the stream from the start.
func TestConsumerOutlivesItsSubscribers(t *testing.T) {
	_, nc := testkit.NATS(t)
	var handled atomic.Int32
	stop := runRouter(t, nc, func(msg *message.Message) error {
		if _, _, err := bus.DecodeChunk(msg); err != nil {
			return err
		}
		handled.Add(1)
		return nil
	})
	publishChunk(t, nc, "imp1")
	js, _ := nc.JetStream()
	acked := func() (bool, error) {
		info, err := js.ConsumerInfo(schemas.StreamRows, "test")
		return err == nil && handled.Load() == 1 && info.NumPending == 0 && info.NumAckPending == 0, err
	}
	if err := parts.WaitFor(context.Background(), 10*time.Second, acked); err != nil {
		t.Fatalf("handled and acked: %v (handled %d)", err, handled.Load())
	}
	stop()
	if _, err := js.ConsumerInfo(schemas.StreamRows, "test"); err != nil {
		t.Fatalf("consumer after shutdown: %v", err)
	}
	// A restart handles only what is new.
	handled.Store(0)
	stop = runRouter(t, nc, func(*message.Message) error { handled.Add(1); return nil })
	defer stop()
	publishChunk(t, nc, "imp2")
	if err := parts.WaitFor(context.Background(), 10*time.Second, func() (bool, error) { return handled.Load() >= 1, nil }); err != nil {
		t.Fatal("the new message was not handled after the restart")
	}
	time.Sleep(200 * time.Millisecond)
	if n := handled.Load(); n != 1 {
		t.Errorf("handled after restart: got %d, want 1 (no replay)", n)
	}
}

// TestFailingMessageGoesToPoison: a message whose handler fails with a
// permanent error lands on the stage's poison subject with the reason at
// once, without retries, and is acked.
func TestFailingMessageGoesToPoison(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, _ := nc.JetStream()
	poison, err := js.SubscribeSync(schemas.PoisonSubject("test"), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	stop := runRouter(t, nc, func(*message.Message) error {
		calls.Add(1)
		return errors.New("the chunk breaks the contract")
	})
	defer stop()
	publishChunk(t, nc, "imp1")
	m, err := poison.NextMsg(15 * time.Second)
	if err != nil {
		t.Fatalf("no poison message: %v", err)
	}
	if got := m.Header.Get(middleware.ReasonForPoisonedKey); got != "the chunk breaks the contract" {
		t.Errorf("poison reason: got %q", got)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("handler calls: got %d, want 1 (a permanent error is not retried)", got)
	}
	waitAcked(t, js)
}

// TestOutageIsWaitedOut: a message whose handler fails with a transient
// error (its part is away) is retried, then nak'd with a growing delay and
// delivered again, more times than MaxDeliver allows crashes, and is
// handled once the part is back: nothing reaches the poison subject.
func TestOutageIsWaitedOut(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, _ := nc.JetStream()
	poison, err := js.SubscribeSync(schemas.PoisonSubject("test"), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	const awayFor = 4 // deliveries; runRouter's MaxDeliver is 3
	var calls, deliveries, handled atomic.Int32
	stop := runRouter(t, nc, func(msg *message.Message) error {
		if calls.Add(1); bus.Delivered(msg) > int(deliveries.Load()) {
			deliveries.Store(int32(bus.Delivered(msg)))
		}
		if bus.Delivered(msg) <= awayFor {
			return platform.From(platform.PartClickHouse, fmt.Errorf("dial: %w", syscall.ECONNREFUSED))
		}
		handled.Add(1)
		return nil
	})
	defer stop()
	publishChunk(t, nc, "imp1")
	if err := parts.WaitFor(context.Background(), 60*time.Second, func() (bool, error) { return handled.Load() == 1, nil }); err != nil {
		t.Fatalf("not handled after the outage: %d calls over %d deliveries", calls.Load(), deliveries.Load())
	}
	if got, want := int(calls.Load()), awayFor*(1+bus.Retries.MaxRetries)+1; got != want {
		t.Errorf("handler calls = %d, want %d (each delivery retried in process)", got, want)
	}
	if m, err := poison.NextMsg(500 * time.Millisecond); err == nil {
		t.Errorf("poisoned during an outage: %s", m.Header.Get(middleware.ReasonForPoisonedKey))
	}
	waitAcked(t, js)
}

func waitAcked(t *testing.T, js nats.JetStreamContext) {
	t.Helper()
	err := parts.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
		info, err := js.ConsumerInfo(schemas.StreamRows, "test")
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0, err
	})
	if err != nil {
		t.Errorf("the message was not acked: %v", err)
	}
}

// TestInstancesShareTheConsumer: two instances of a stage share its durable
// consumer: each message is handled once, by one of them, and both work.
func TestInstancesShareTheConsumer(t *testing.T) {
	_, nc := testkit.NATS(t)
	var mu sync.Mutex
	handled := map[string][]int{} // message id -> instances that handled it
	slow := func(instance int) message.NoPublishHandlerFunc {
		return func(msg *message.Message) error {
			time.Sleep(20 * time.Millisecond) // let the other instance take some
			mu.Lock()
			defer mu.Unlock()
			handled[msg.UUID] = append(handled[msg.UUID], instance)
			return nil
		}
	}
	defer runRouter(t, nc, slow(1))()
	defer runRouter(t, nc, slow(2))()
	const n = 40
	for i := range n {
		publishChunk(t, nc, fmt.Sprintf("imp%d", i))
	}
	err := parts.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == n, nil
	})
	if err != nil {
		t.Fatalf("handled %d of %d messages", len(handled), n)
	}
	time.Sleep(300 * time.Millisecond) // nothing more may come
	mu.Lock()
	defer mu.Unlock()
	per := map[int]int{}
	for id, by := range handled {
		if len(by) != 1 {
			t.Errorf("message %s handled by %v, want once", id, by)
		}
		per[by[0]]++
	}
	if per[1] == 0 || per[2] == 0 {
		t.Errorf("messages per instance: %v, want both to work", per)
	}
}

// TestGetJSON: a stored value decodes; a missing key is the bucket's
// ErrKeyNotFound, which callers turn into their own "unknown"; a value
// that is not the JSON asked for names its key and bucket.
func TestGetJSON(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "getjson"})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct{ Name string }
	if _, err := kv.Put("good", []byte(`{"Name":"ada"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put("bad", []byte(`not json`)); err != nil {
		t.Fatal(err)
	}

	e, v, err := bus.GetJSON[rec](kv, "good")
	if err != nil || v.Name != "ada" || e.Revision() != 1 {
		t.Errorf("good: %+v, %v", v, err)
	}
	if _, _, err := bus.GetJSON[rec](kv, "missing"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Errorf("missing: %v, want ErrKeyNotFound", err)
	}
	_, _, err = bus.GetJSON[rec](kv, "bad")
	if err == nil || !strings.Contains(err.Error(), "bad in getjson") {
		t.Errorf("bad: %v, want a decode error naming the key and bucket", err)
	}
}
