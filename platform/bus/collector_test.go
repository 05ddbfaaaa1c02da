package bus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestCollector: on a real JetStream server, the collector exports what the
// server says of a consumer (of six messages: one acked, four delivered and
// not acked, one of which was redelivered, and one waiting for room under
// MaxAckPending) and the DLQ's
// depth by kind; a consumer that does not exist is a collect error, with
// no series.
func TestCollector(t *testing.T) {
	_, nc := testkit.NATS(t)
	c := bus.Consumer{Name: "test", Stream: schemas.StreamRows, Subject: schemas.SubjectRawRows, Concurrency: 1}
	testkit.Consumer(t, nc, c) // MaxAckPending 4
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, err := js.Publish(schemas.RawRowsSubject("acme", "clients"), []byte("rows")); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := nc.QueueSubscribeSync(schemas.DeliverSubject(c.Name), c.Name)
	if err != nil {
		t.Fatal(err)
	}
	next := func() *nats.Msg {
		t.Helper()
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first, second := next(), next()
	next()
	next()
	if err := first.AckSync(); err != nil {
		t.Fatal(err)
	}
	next() // the fifth, in the room the ack left
	if err := second.Nak(); err != nil {
		t.Fatal(err)
	}
	next() // second's redelivery

	for subject, n := range map[string]int{schemas.DLQRowsSubject("acme", "clients"): 2, schemas.PoisonSubject(schemas.StageLoad): 1} {
		for range n {
			if _, err := js.Publish(subject, []byte("dead")); err != nil {
				t.Fatal(err)
			}
		}
	}
	missing := bus.Consumer{Name: "missing", Stream: schemas.StreamRows}
	col, err := bus.NewCollector(nc, []bus.Consumer{c, missing}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP sluice_jetstream_collect_errors_total JetStream API calls of a scrape that failed: their series are missing from that scrape.
# TYPE sluice_jetstream_collect_errors_total counter
sluice_jetstream_collect_errors_total 1
# HELP sluice_jetstream_consumer_ack_pending_messages Messages delivered to the consumer and not yet acked (num_ack_pending).
# TYPE sluice_jetstream_consumer_ack_pending_messages gauge
sluice_jetstream_consumer_ack_pending_messages{consumer="test",stream="ROWS"} 4
# HELP sluice_jetstream_consumer_pending_messages Messages of the consumer's stream not yet delivered to it (num_pending).
# TYPE sluice_jetstream_consumer_pending_messages gauge
sluice_jetstream_consumer_pending_messages{consumer="test",stream="ROWS"} 1
# HELP sluice_jetstream_consumer_redelivered_messages Messages delivered to the consumer more than once and not yet acked (num_redelivered).
# TYPE sluice_jetstream_consumer_redelivered_messages gauge
sluice_jetstream_consumer_redelivered_messages{consumer="test",stream="ROWS"} 1
# HELP sluice_jetstream_dlq_messages Messages the DLQ stream holds, by kind: rows (rejected rows) or poison (messages that failed their retries).
# TYPE sluice_jetstream_dlq_messages gauge
sluice_jetstream_dlq_messages{kind="poison"} 1
sluice_jetstream_dlq_messages{kind="rows"} 2
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}
