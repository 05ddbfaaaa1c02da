// Package transform turns valid rows into records ready to load: every cell
// in its canonical form (trimmed, normalised: e-mails lower-cased, booleans
// 1/0, times in UTC) and every empty optional cell given its dataset's
// default (marked as such: load keeps an existing record's value there
// instead). It owns applying the dataset's normalisers and defaults (Records,
// a plain function); the normalisers and defaults themselves are declared in
// schemas, beside the rules they follow.
//
// Rejected rows ride along untouched, so the chunk reaches load whole.
// Defaults are deterministic (they depend on the tenant, the record's key
// and the import), so a redelivered chunk yields the same records.
package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// Records rewrites valid rows in place into their canonical form, and marks
// the cells that hold a default (Row.Defaulted).
func Records(ds *schemas.Dataset, imp schemas.Import, rows []schemas.Row) {
	for r := range rows {
		row := &rows[r]
		dc := schemas.DefaultContext{Tenant: imp.Tenant, ReceivedAt: imp.ReceivedAt, Key: ds.CanonicalKey(row.Cells)}
		for i := range ds.Fields {
			f := &ds.Fields[i]
			if f.Default != nil && strings.TrimSpace(row.Cells[i]) == "" {
				row.Defaulted |= 1 << i
			}
			row.Cells[i] = f.Canonical(row.Cells[i], dc)
		}
	}
}

// Config is the transform stage's configuration.
type Config struct {
	Concurrency int
	MaxDeliver  int
}

// Validate reports a configuration the stage cannot run with.
func (c Config) Validate() error {
	if c.Concurrency < 0 || c.MaxDeliver < 0 {
		return errors.New("transform: Concurrency and MaxDeliver must not be negative")
	}
	return nil
}

// Stage is the transform stage.
type Stage struct {
	pub     message.Publisher
	metrics *platform.Metrics
	router  *message.Router
}

// New builds the transform stage on the valid rows.
func New(cfg Config, nc *nats.Conn, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	wl := platform.Logger(logger)
	pub, err := platform.NewPublisher(nc, wl)
	if err != nil {
		return nil, err
	}
	s := &Stage{pub: pub, metrics: m}
	s.router, err = platform.StageRouter(schemas.StageTransform, nc, pub, platform.Consumer{
		Name: "transform", Stream: schemas.StreamRows, Subject: schemas.SubjectValidRows, MaxDeliver: cfg.MaxDeliver, Concurrency: cfg.Concurrency,
	}, m, wl, s.handle)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Run transforms chunks until ctx ends.
func (s *Stage) Run(ctx context.Context) error { return s.router.Run(ctx) }

// Running is closed once the stage consumes.
func (s *Stage) Running() chan struct{} { return s.router.Running() }

func (s *Stage) handle(msg *message.Message) error {
	var c schemas.Chunk
	if err := platform.Decode(msg, &c); err != nil {
		return err
	}
	ds, ok := schemas.Lookup(c.Import.Dataset)
	if !ok {
		return fmt.Errorf("transform: chunk of unknown dataset %q", c.Import.Dataset)
	}
	Records(ds, c.Import, c.Rows)
	if err := platform.PublishChunk(s.pub, schemas.ReadyRowsSubject(c.Import.Tenant, c.Import.Dataset),
		schemas.MsgID(c.Import.ID, schemas.StageTransform, c.Number), &c); err != nil {
		return err
	}
	s.metrics.Rows.WithLabelValues("transformed").Add(float64(len(c.Rows)))
	return nil
}
