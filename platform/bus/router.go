package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
)

// Retries is how a handler is retried inside one delivery when it fails
// with a transient error: about 1.5 s in all, well under any consumer's
// AckWait. A longer outage is waited out by naks (waitOutages).
var Retries = middleware.Retry{
	MaxRetries:      3,
	InitialInterval: 200 * time.Millisecond,
	MaxInterval:     time.Second,
	Multiplier:      2,
	ShouldRetry:     func(p middleware.RetryParams) bool { return platform.IsTransient(p.Err) },
}

// newRouter returns a Watermill router with sluice's middleware, outermost
// first: timing, the poison queue (sluice.dlq.poison.<stage>, with the
// reason, for permanent errors only), the delivery limit, the waiting out
// of outages, retries, and the recoverer (a panic is a permanent error). A
// message is acked only when its handler returns nil or it is safely in the
// poison queue; a transient error naks it with a growing delay.
func newRouter(stage string, pub message.Publisher, c Consumer, counts attempts, m *platform.Metrics, logger *slog.Logger) (*message.Router, error) {
	wl := Logger(logger)
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wl)
	if err != nil {
		return nil, fmt.Errorf("bus: router: %w", err)
	}
	poison, err := poisonQueue(pub, stage, m)
	if err != nil {
		return nil, err
	}
	for _, part := range platform.Parts { // series from the start, for alerts
		m.Waiting.WithLabelValues(string(part))
	}
	retry := Retries
	retry.Logger = wl
	r.AddMiddleware(
		timing(m),
		poison,
		MaxDeliveries(c.MaxDeliver, tracked{counts, logger}),
		waitOutages(pub, stage, c.Horizon, counts, m, logger),
		retry.Middleware,
		middleware.Recoverer,
	)
	return r, nil
}

// Runner is what every stage runs on: its handler on its durable consumer c,
// behind the middleware of newRouter, and a publisher for what it sends on.
// Stages embed it for Run and Running.
type Runner struct {
	// Pub publishes with Nats-Msg-Id (see NewPublisher).
	Pub    message.Publisher
	router *message.Router
}

// NewRunner builds the runner of a stage, bound to its durable consumer c,
// which `sluice migrate` created (EnsureConsumer); ErrNoConsumer when it
// has not.
func NewRunner(stage string, nc *nats.Conn, c Consumer, m *platform.Metrics, logger *slog.Logger, h message.NoPublishHandlerFunc) (*Runner, error) {
	c.setDefaults()
	wl := Logger(logger)
	pub, err := NewPublisher(nc, wl)
	if err != nil {
		return nil, err
	}
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	if err := checkConsumer(js, c, logger); err != nil {
		return nil, err
	}
	sub, err := newSubscriber(nc, c, wl)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(NaksBucket)
	if err != nil {
		return nil, fmt.Errorf("bus: %s: %w", NaksBucket, err)
	}
	r, err := newRouter(stage, pub, c, attempts{kv}, m, logger)
	if err != nil {
		return nil, err
	}
	r.AddConsumerHandler(stage, c.Subject, sub, h)
	return &Runner{Pub: pub, router: r}, nil
}

// Run handles messages until ctx ends.
func (r *Runner) Run(ctx context.Context) error { return r.router.Run(ctx) }

// Running is closed once the stage consumes.
func (r *Runner) Running() chan struct{} { return r.router.Running() }

// StageConfig configures a stage that has no settings of its own.
type StageConfig struct {
	// Concurrency is how many messages one instance handles at once.
	Concurrency int
	// MaxDeliver bounds the deliveries that end with no answer (0: the
	// default, 10).
	MaxDeliver int
	// Horizon is how long a message may wait out an outage (0: the
	// default, 24 h).
	Horizon time.Duration
	// AckWait is how long JetStream waits for an answer before it sends a
	// message again (0: the default, 30 s).
	AckWait time.Duration
}

// Validate reports a configuration a stage cannot run with.
func (c StageConfig) Validate() error {
	if c.Concurrency < 0 || c.MaxDeliver < 0 || c.Horizon < 0 || c.AckWait < 0 {
		return errors.New("stage: Concurrency, MaxDeliver, Horizon and AckWait must not be negative")
	}
	return nil
}

// Consumer returns the durable consumer of a stage configured by c, with 4
// messages at once unless c says otherwise.
func (c StageConfig) Consumer(name, stream, subject string) (Consumer, error) {
	if err := c.Validate(); err != nil {
		return Consumer{}, err
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	cons := Consumer{Name: name, Stream: stream, Subject: subject, MaxDeliver: c.MaxDeliver, Horizon: c.Horizon, AckWait: c.AckWait, Concurrency: c.Concurrency}
	cons.setDefaults()
	return cons, nil
}
