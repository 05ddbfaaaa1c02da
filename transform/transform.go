// Package transform turns valid rows into records ready to load: every cell
// in its canonical form (trimmed, normalised: e-mails lower-cased, booleans
// 1/0, times in UTC) and every empty optional cell given its dataset's
// default; every cell the file left empty is marked (Row.Empty), so that an
// existing record keeps its stored value there instead. It owns applying the dataset's normalisers and defaults (Records,
// a plain function); the normalisers and defaults themselves are declared in
// schemas, beside the rules they follow.
//
// Rejected rows ride along untouched, so the chunk reaches load whole.
// Defaults are deterministic (they depend on the tenant, the record's key
// and the import), so a redelivered chunk yields the same records.
package transform

import (
	"log/slog"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// Records rewrites valid rows in place into their canonical form, and marks
// the cells the file left empty (Row.Empty).
func Records(ds *schemas.Dataset, imp schemas.Import, rows []schemas.Row) {
	for r := range rows {
		row := &rows[r]
		dc := schemas.DefaultContext{Tenant: imp.Tenant, ReceivedAt: imp.ReceivedAt, Key: ds.CanonicalKey(row.Cells)}
		for i := range ds.Fields {
			f := &ds.Fields[i]
			if strings.TrimSpace(row.Cells[i]) == "" {
				row.Empty |= 1 << i
			}
			row.Cells[i] = f.Canonical(row.Cells[i], dc)
		}
	}
}

// Config is the transform stage's configuration.
type Config = platform.StageConfig

// Stage is the transform stage.
type Stage struct {
	*platform.Runner
	metrics *platform.Metrics
}

// New builds the transform stage on the valid rows.
func New(cfg Config, nc *nats.Conn, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	c, err := cfg.Consumer("transform", schemas.StreamRows, schemas.SubjectValidRows)
	if err != nil {
		return nil, err
	}
	s := &Stage{metrics: m}
	if s.Runner, err = platform.NewRunner(schemas.StageTransform, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stage) handle(msg *message.Message) error {
	c, ds, err := platform.DecodeChunk(msg)
	if err != nil {
		return err
	}
	Records(ds, c.Import, c.Rows)
	if err := platform.PublishChunk(s.Pub, schemas.ReadyRowsSubject(c.Import.Tenant, c.Import.Dataset),
		schemas.MsgID(c.Import.ID, schemas.StageTransform, c.Number), c); err != nil {
		return err
	}
	s.metrics.Rows.WithLabelValues("transformed").Add(float64(len(c.Rows)))
	return nil
}
