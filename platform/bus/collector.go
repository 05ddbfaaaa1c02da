package bus

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/schemas"
)

// collectTimeout bounds each JetStream API call of a scrape, well under
// Prometheus's 10 s scrape timeout.
const collectTimeout = 2 * time.Second

// Collector exports, at scrape time, what the JetStream API says of the
// durable consumers a process reads from (pending, ack-pending and
// redelivered messages, labelled stream and consumer) and, when it owns the
// DLQ's depth, how many messages the DLQ stream holds, by kind (rows:
// rejected rows; poison: messages sent there after their retries).
//
// Each process exports its own consumers, with its own NATS user (which
// may look up its consumers: deploy/nats.conf), and only notify's exports
// the DLQ (its user alone may read the DLQ stream's info). The values are
// the server's, not the process's: every instance of a scaled-out stage
// exports the same ones, so dashboards and alerts take their max by
// (stream, consumer), never their sum.
type Collector struct {
	js        nats.JetStreamContext
	consumers []Consumer
	dlq       bool

	pending, ackPending, redelivered, dlqMessages, failed *prometheus.Desc

	mu       sync.Mutex
	failures float64
}

// NewCollector returns the collector of consumers, and of the DLQ's depth
// when dlq is set, on nc.
func NewCollector(nc *nats.Conn, consumers []Consumer, dlq bool) (*Collector, error) {
	js, err := nc.JetStream(nats.MaxWait(collectTimeout))
	if err != nil {
		return nil, err
	}
	labels := []string{"stream", "consumer"}
	return &Collector{
		js: js, consumers: consumers, dlq: dlq,
		pending: prometheus.NewDesc("sluice_jetstream_consumer_pending_messages",
			"Messages of the consumer's stream not yet delivered to it (num_pending).", labels, nil),
		ackPending: prometheus.NewDesc("sluice_jetstream_consumer_ack_pending_messages",
			"Messages delivered to the consumer and not yet acked (num_ack_pending).", labels, nil),
		redelivered: prometheus.NewDesc("sluice_jetstream_consumer_redelivered_messages",
			"Messages delivered to the consumer more than once and not yet acked (num_redelivered).", labels, nil),
		dlqMessages: prometheus.NewDesc("sluice_jetstream_dlq_messages",
			"Messages the DLQ stream holds, by kind: rows (rejected rows) or poison (messages that failed their retries).", []string{"kind"}, nil),
		failed: prometheus.NewDesc("sluice_jetstream_collect_errors_total",
			"JetStream API calls of a scrape that failed: their series are missing from that scrape.", nil, nil),
	}, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.ackPending, c.redelivered, c.failed} {
		ch <- d
	}
	if c.dlq {
		ch <- c.dlqMessages
	}
}

// Collect implements prometheus.Collector: one CONSUMER.INFO call per
// consumer, and one STREAM.INFO of the DLQ, whose poison subjects it
// counts apart.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	failed := 0
	for _, cons := range c.consumers {
		info, err := c.js.ConsumerInfo(cons.Stream, cons.Name)
		if err != nil {
			failed++
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), cons.Stream, cons.Name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), cons.Stream, cons.Name)
		ch <- prometheus.MustNewConstMetric(c.redelivered, prometheus.GaugeValue, float64(info.NumRedelivered), cons.Stream, cons.Name)
	}
	if c.dlq {
		info, err := c.js.StreamInfo(schemas.StreamDLQ, &nats.StreamInfoRequest{SubjectsFilter: schemas.PoisonSubject("*")})
		if err != nil {
			failed++
		} else {
			var poison uint64
			for _, n := range info.State.Subjects { // the poison subjects only
				poison += n
			}
			ch <- prometheus.MustNewConstMetric(c.dlqMessages, prometheus.GaugeValue, float64(info.State.Msgs-poison), "rows")
			ch <- prometheus.MustNewConstMetric(c.dlqMessages, prometheus.GaugeValue, float64(poison), "poison")
		}
	}
	c.mu.Lock()
	c.failures += float64(failed)
	total := c.failures
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, total)
}
