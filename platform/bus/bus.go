package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// Metadata keys the subscriber adds to every message it hands a handler.
const (
	// MetaDelivered is how many times JetStream has delivered the message.
	MetaDelivered = "Sluice-Delivered"
	// metaReply is the JetStream ack subject, for in-progress acks.
	metaReply = "Sluice-Reply"
	// metaSequence names the delivery (see sequence), metaStored when
	// the stream stored the message (Unix nanoseconds).
	metaSequence = "Sluice-Sequence"
	metaStored   = "Sluice-Stored"
)

// Consumer describes the durable JetStream consumer a stage reads from. Every
// instance of a stage joins the same consumer, so a stage scales out by
// running more of them.
type Consumer struct {
	// Name is the durable consumer and its queue group. It never changes
	// silently: a new name is a new consumer that starts from the beginning.
	Name string
	// Stream holds Subject.
	Stream string
	// Subject is the filter subject.
	Subject string
	// AckWait is how long JetStream waits for an ack before redelivering.
	AckWait time.Duration
	// HandlerTimeout is how long this process waits for its handler before
	// giving the message up (to be redelivered). Handlers that send
	// in-progress acks may run longer than AckWait.
	HandlerTimeout time.Duration
	// MaxDeliver bounds the deliveries that end with no answer (a crash or
	// a timeout); the last one goes to the poison subject (see
	// MaxDeliveries). Deliveries nak'd for an outage do not count.
	MaxDeliver int
	// Horizon is how long a message may wait out an outage (a transient
	// error) before it goes to the poison subject.
	Horizon time.Duration
	// MaxBackoff is the longest delay of a nak for an outage: the delay
	// doubles from a second up to it.
	MaxBackoff time.Duration
	// Concurrency is how many messages this process handles at once.
	Concurrency int
}

func (c *Consumer) setDefaults() {
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = c.AckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 10
	}
	if c.Horizon == 0 {
		c.Horizon = 24 * time.Hour
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
}

// NewPublisher returns a JetStream publisher that waits for the stream's ack
// and sets Nats-Msg-Id to the message's UUID, so a retried publish of the same
// message is stored once.
func NewPublisher(nc *nats.Conn, logger watermill.LoggerAdapter) (*wmnats.Publisher, error) {
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true},
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("bus: publisher: %w", err)
	}
	return pub, nil
}

// newSubscriber returns a subscriber bound to the durable consumer c, which
// `sluice migrate` created (EnsureConsumer): a stage's user may not create
// consumers (deploy/nats.conf). Binding also keeps the subscription from
// owning the consumer: nats.go deletes a consumer its subscription created
// when that subscription ends, so a clean shutdown of one instance would
// remove the consumer under all the others.
func newSubscriber(nc *nats.Conn, c Consumer, logger watermill.LoggerAdapter) (*wmnats.Subscriber, error) {
	if c.MaxDeliver < 2 {
		return nil, fmt.Errorf("bus: consumer %s: MaxDeliver must be at least 2 (the last delivery goes to the poison queue)", c.Name)
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      deliveryUnmarshaler{},
		SubscribersCount: c.Concurrency,
		AckWaitTimeout:   c.HandlerTimeout,
		CloseTimeout:     30 * time.Second,
		QueueGroupPrefix: c.Name,
		NakDelay:         backoff{min: time.Second, max: c.MaxBackoff},
		JetStream: wmnats.JetStreamConfig{
			DurablePrefix:    c.Name,
			SubscribeOptions: []nats.SubOpt{nats.Bind(c.Stream, c.Name), nats.ManualAck()},
		},
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("bus: subscriber %s: %w", c.Name, err)
	}
	return sub, nil
}

// ErrNoConsumer is returned when a stage starts before `sluice migrate` has
// created its durable consumer.
var ErrNoConsumer = errors.New("consumer missing: run sluice migrate")

// consumerConfig is the JetStream configuration of the durable push consumer
// c: it delivers to its own subject (schemas.DeliverSubject), which only its
// stage's user may subscribe to, and to one queue group, which every
// instance of the stage joins.
func consumerConfig(c Consumer) *nats.ConsumerConfig {
	return &nats.ConsumerConfig{
		Durable:        c.Name,
		DeliverSubject: schemas.DeliverSubject(c.Name),
		DeliverGroup:   c.Name,
		FilterSubject:  c.Subject,
		DeliverPolicy:  nats.DeliverAllPolicy,
		AckPolicy:      nats.AckExplicitPolicy,
		AckWait:        c.AckWait,
		// Unlimited: naks for an outage are deliveries too. MaxDeliveries
		// bounds the others, and the horizon the wait.
		MaxDeliver:    -1,
		MaxAckPending: 4 * c.Concurrency,
	}
}

// EnsureConsumer creates the durable push consumer c, or brings an existing
// one to c's settings (deliver subject, AckWait, MaxAckPending). `sluice
// migrate` calls it for every stage, with the admin user; a stage only binds
// to its consumer (checkConsumer).
func EnsureConsumer(js nats.JetStreamContext, c Consumer) error {
	c.setDefaults()
	cfg := consumerConfig(c)
	_, err := js.ConsumerInfo(c.Stream, c.Name)
	switch {
	case errors.Is(err, nats.ErrConsumerNotFound):
		_, err = js.AddConsumer(c.Stream, cfg)
	case err == nil:
		_, err = js.UpdateConsumer(c.Stream, cfg)
	}
	if err != nil {
		return fmt.Errorf("nats: consumer %s on %s: %w", c.Name, c.Stream, err)
	}
	return nil
}

// checkConsumer looks up the durable consumer c before a stage binds to it:
// ErrNoConsumer when it is missing, an error when it delivers elsewhere
// than the stage listens (a consumer of an older sluice), and a warning
// when its AckWait or MaxAckPending are not what the stage's configuration
// asks for (`sluice migrate` ran with other settings).
func checkConsumer(js nats.JetStreamContext, c Consumer, logger *slog.Logger) error {
	info, err := js.ConsumerInfo(c.Stream, c.Name)
	if errors.Is(err, nats.ErrConsumerNotFound) {
		return fmt.Errorf("bus: %s on %s: %w", c.Name, c.Stream, ErrNoConsumer)
	}
	if err != nil {
		return fmt.Errorf("bus: consumer %s on %s: %w", c.Name, c.Stream, err)
	}
	want := consumerConfig(c)
	if info.Config.DeliverSubject != want.DeliverSubject || info.Config.DeliverGroup != want.DeliverGroup {
		return fmt.Errorf("bus: consumer %s on %s delivers to %s (group %s), want %s: run sluice migrate",
			c.Name, c.Stream, info.Config.DeliverSubject, info.Config.DeliverGroup, want.DeliverSubject)
	}
	if info.Config.AckWait != want.AckWait || info.Config.MaxAckPending != want.MaxAckPending {
		logger.Warn("bus: the consumer's settings differ from this stage's: run sluice migrate with the stage's settings",
			"consumer", c.Name, "ack_wait", info.Config.AckWait, "want_ack_wait", want.AckWait,
			"max_ack_pending", info.Config.MaxAckPending, "want_max_ack_pending", want.MaxAckPending)
	}
	return nil
}

// deliveryUnmarshaler reads a message as Watermill's NATS marshaler does and
// adds what a handler may need of JetStream: the delivery count and the ack
// subject (for in-progress acks).
type deliveryUnmarshaler struct{ wmnats.NATSMarshaler }

func (u deliveryUnmarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	if m.Header == nil {
		m.Header = nats.Header{} // MinIO publishes plain JSON, with no headers
	}
	msg, err := u.NATSMarshaler.Unmarshal(m)
	if err != nil {
		return nil, err
	}
	msg.Metadata.Set(metaReply, m.Reply)
	msg.Metadata.Set(MetaSubject, m.Subject) // what a replay republishes to
	if md, err := m.Metadata(); err == nil {
		msg.Metadata.Set(MetaDelivered, strconv.FormatUint(md.NumDelivered, 10))
		msg.Metadata.Set(metaSequence, fmt.Sprintf("%s.%s.%d", md.Stream, md.Consumer, md.Sequence.Stream))
		msg.Metadata.Set(metaStored, strconv.FormatInt(md.Timestamp.UnixNano(), 10))
		if msg.UUID == "" {
			msg.UUID = fmt.Sprintf("%s.%d", md.Stream, md.Sequence.Stream)
		}
	}
	return msg, nil
}

// sequence names msg's delivery to its consumer: stream, consumer and
// stream sequence ("" outside JetStream).
func sequence(msg *message.Message) string { return msg.Metadata.Get(metaSequence) }

// stored returns when JetStream stored msg (the zero time outside
// JetStream).
func stored(msg *message.Message) time.Time {
	n, err := strconv.ParseInt(msg.Metadata.Get(metaStored), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Delivered returns how many times JetStream has delivered msg (1 the first
// time).
func Delivered(msg *message.Message) int {
	n, _ := strconv.Atoi(msg.Metadata.Get(MetaDelivered))
	return n
}

// InProgress tells JetStream the handler of msg is still working, which
// restarts its AckWait.
func InProgress(nc *nats.Conn, msg *message.Message) error {
	reply := msg.Metadata.Get(metaReply)
	if reply == "" {
		return nil
	}
	return nc.Publish(reply, []byte("+WPI"))
}

// Working tells JetStream every interval that the handler of msg is still
// working (InProgress), until the returned stop is called: a handler that
// may outlive its consumer's AckWait keeps its message from being sent
// again meanwhile, while a crashed one's message comes back after AckWait.
func Working(nc *nats.Conn, msg *message.Message, every time.Duration) (stop func()) {
	return Every(every, func() { _ = InProgress(nc, msg) }) // a lost one only lets the message come back
}

// Every calls f every interval until the returned stop is called, which
// returns once f no longer runs.
func Every(interval time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// Messages are JSON, readable with any NATS tool, except chunks of rows,
// which are most of what flows: they are CBOR (RFC 8949), column by column,
// compressed with S2 (chunk.go), which decode many times faster than JSON
// and take a fraction of its size. The Content-Type header says which.
const (
	metaContentType = "Content-Type"
	contentChunk    = "application/vnd.sluice.chunk.v2+cbor+s2"
)

// Publish encodes v as JSON and publishes it on subject with the given
// Msg-Id.
func Publish(pub message.Publisher, subject, msgID string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bus: encode %s: %w", subject, err)
	}
	return publish(pub, subject, message.NewMessage(msgID, data))
}

func publish(pub message.Publisher, subject string, msg *message.Message) error {
	if err := pub.Publish(subject, msg); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// Decode decodes a JSON payload into v. A payload that does not decode is
// permanent: retrying it cannot help.
func Decode(msg *message.Message, v any) error {
	if err := json.Unmarshal(msg.Payload, v); err != nil {
		return platform.Permanent(fmt.Errorf("bus: decode message %s: %w", msg.UUID, err))
	}
	return nil
}

// GetJSON reads key's entry in a KV bucket and decodes its JSON value.
// The bucket's error comes back as it is, so that the caller can tell
// nats.ErrKeyNotFound from the others.
func GetJSON[T any](kv interface {
	Get(key string) (nats.KeyValueEntry, error)
}, key string) (nats.KeyValueEntry, T, error) {
	var v T
	e, err := kv.Get(key)
	if err != nil {
		return nil, v, err
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, v, fmt.Errorf("bus: decode %s in %s: %w", key, e.Bucket(), err)
	}
	return e, v, nil
}

// Logger adapts slog to Watermill, quiet below warnings.
func Logger(l *slog.Logger) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(l, map[slog.Level]slog.Level{
		slog.LevelInfo:  slog.LevelDebug,
		slog.LevelDebug: slog.LevelDebug - 4,
	})
}
