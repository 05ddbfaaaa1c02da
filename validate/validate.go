// Package validate judges every row of every chunk against its dataset's
// rules and splits the chunk: valid rows go on (sluice.rows.valid.*) with the
// rejected ones listed beside them, so the chunk keeps its identity and load
// reports it whole; rejected rows also go to the dead-letter stream
// (sluice.dlq.rows.*) with their reasons.
//
// The rules themselves are declared in schemas; this package owns applying
// them (Judge), which is a plain function, tested without a broker. A row
// that breaks several rules is rejected once, with every reason.
package validate

import (
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// Judge splits rows into the valid ones and the rejected ones, with every
// violation of each rejected row in field order.
func Judge(ds *schemas.Dataset, rows []schemas.Row) (valid []schemas.Row, rejected []schemas.Rejected) {
	key := ds.KeyIndex()
	for _, row := range rows {
		var vs []schemas.Violation
		if row.Problem != nil {
			vs = append(vs, *row.Problem)
		} else {
			for i := range ds.Fields {
				f := &ds.Fields[i]
				if v, ok := f.Check(row.Cells[i]); !ok {
					vs = append(vs, v)
				} else if i == key && row.DuplicateOf > 0 {
					vs = append(vs, schemas.Violation{
						Column: f.Name, Code: schemas.CodeDuplicate, Value: f.Show(row.Cells[i]),
						Message: fmt.Sprintf("%s (row %d has the same %s)", schemas.MsgDuplicate, row.DuplicateOf, f.Name),
					})
				}
			}
		}
		if len(vs) > 0 {
			rejected = append(rejected, schemas.Rejected{N: row.N, Violations: vs})
			continue
		}
		valid = append(valid, row)
	}
	return valid, rejected
}

// Config is the validate stage's configuration.
type Config = platform.StageConfig

// Stage is the validate stage.
type Stage struct {
	*platform.Runner
	metrics *platform.Metrics
}

// New builds the validate stage on the raw rows.
func New(cfg Config, nc *nats.Conn, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	c, err := cfg.Consumer("validate", schemas.StreamRows, schemas.SubjectRawRows)
	if err != nil {
		return nil, err
	}
	s := &Stage{metrics: m}
	if s.Runner, err = platform.NewRunner(schemas.StageValidate, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stage) handle(msg *message.Message) error {
	c, ds, err := platform.DecodeChunk(msg)
	if err != nil {
		return err
	}
	valid, rejected := Judge(ds, c.Rows)
	if len(rejected) > 0 {
		if err := platform.Publish(s.Pub, schemas.DLQRowsSubject(c.Import.Tenant, c.Import.Dataset),
			schemas.MsgID(c.Import.ID, "validate-dlq", c.Number),
			schemas.DLQRows{Import: c.Import, Chunk: c.Number, Rejected: rejected}); err != nil {
			return err
		}
	}
	c.Rows, c.Rejected = valid, append(c.Rejected, rejected...)
	if err := platform.PublishChunk(s.Pub, schemas.ValidRowsSubject(c.Import.Tenant, c.Import.Dataset),
		schemas.MsgID(c.Import.ID, schemas.StageValidate, c.Number), c); err != nil {
		return err
	}
	s.metrics.Rows.WithLabelValues("valid").Add(float64(len(valid)))
	s.metrics.Rows.WithLabelValues("rejected").Add(float64(len(rejected)))
	return nil
}
