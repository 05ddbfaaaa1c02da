// Package validate judges every row of every chunk against its dataset's
// rules and splits the chunk: valid rows go on (sluice.rows.valid.*) with the
// rejected ones listed beside them, so the chunk keeps its identity and load
// reports it whole, even when no row of it is valid; rejected rows also go to
// the dead-letter stream (sluice.dlq.rows.*) with their reasons.
//
// It owns applying the rules (Judge, a plain function tested without a
// broker): each cell by its field's rules, a secret opened only to be
// checked, the rows ingest found repeating an earlier row's key, identity
// (a client's ID) or Unique value, and, in update mode, a row that fills
// nothing but its key. A row
// that breaks several rules is rejected once, with every reason; a row the
// reader found malformed (a stray quote, too many cells), with that reason
// alone.
//
// It does not own the rules or their messages (schemas), finding malformed or
// repeated rows in a file (ingest), nor what needs the stored records: a
// record that exists in create mode, a value another record has, a group,
// account or user to mirror that must exist, a required cell of a new record
// in update mode (load). It changes no cell (canonical forms are
// transform's), but one: in a row whose values are judged each on its own
// (Dataset.EachItem: a group's members), it empties the bad values and
// lists them in Row.Dropped; the row goes on with its good ones (it is
// partial), or, if none is left or another cell is bad, is rejected with
// every reason.
// In a sync it gives each rejected row its key, so that load records it as
// in the file and its record is not deactivated (a sync is update mode
// otherwise).
package validate

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// Judge splits rows into the valid ones and the rejected ones, with every
// violation of each rejected row in field order. open gives the plain value
// of a secret cell (sealed by ingest); it is checked, never kept.
//
// An empty required cell is judged here in create mode only (or in a row
// that pivots into records, which updates none partly): in update mode it may
// belong to an existing record, which keeps its stored value, so load judges
// it once it knows. A row that fills nothing but its key has nothing to
// update.
func Judge(ds *schemas.Dataset, imp *schemas.Import, rows []schemas.Row, open func(string) (string, error)) (valid []schemas.Row, rejected []schemas.Rejected, err error) {
	j := judge{ds: ds, imp: imp, ctx: imp.Context(), key: ds.KeyIndex(), open: open}
	for i := range rows {
		row := &rows[i]
		var vs []schemas.Violation
		if vs, err = j.row(row); err != nil {
			return nil, nil, err
		}
		if len(vs) > 0 {
			r := schemas.Rejected{N: row.N, Violations: vs}
			if imp.Mode == schemas.ModeSync {
				r.Keys = ds.RecordKeys(row.Cells) // its records are in the file
			}
			rejected = append(rejected, r)
			continue
		}
		valid = append(valid, *row)
	}
	return valid, rejected, nil
}

// judge holds what judging the rows of one chunk needs besides the rows.
type judge struct {
	ds   *schemas.Dataset
	imp  *schemas.Import
	ctx  schemas.Context
	key  int
	open func(string) (string, error)
}

// row returns every violation of a row. A row the reader found malformed
// (Row.Problem) has that problem only: its cells are not the fields they
// would be judged as.
func (j *judge) row(row *schemas.Row) ([]schemas.Violation, error) {
	if row.Problem != nil {
		return []schemas.Violation{*row.Problem}, nil
	}
	vs, broken, filled, err := j.cells(row)
	if err != nil {
		return nil, err
	}
	vs = append(vs, j.duplicates(row, broken)...)
	if len(row.Dropped) > 0 && len(vs) == len(row.Dropped) && j.anyLeft(row) {
		return nil, nil // partial: its good values load, the bad are row.Dropped
	}
	// A row that pivots (a layout) is judged by its required cells: a file
	// of group names alone fills nothing else.
	if !filled && j.imp.Updates() && j.ds.Pivot == nil && len(vs) == 0 {
		vs = append(vs, schemas.Violation{Column: j.ds.Key, Code: schemas.CodeNothingToUpdate, Message: schemas.MsgNothingToUpdate(j.ds.Key),
			Value: j.ds.Fields[j.key].Show(row.Cells[j.key])})
	}
	return vs, nil
}

// cells judges each cell of a row by its field's rules. broken has bit i set
// when field i breaks one; filled says whether the row fills any field
// besides its key.
func (j *judge) cells(row *schemas.Row) (vs []schemas.Violation, broken uint64, filled bool, err error) {
	for i := range j.ds.Fields {
		f := &j.ds.Fields[i]
		cell := row.Cells[i]
		if f.Secret {
			if cell, err = j.open(cell); err != nil {
				return nil, 0, false, fmt.Errorf("validate: row %d: %s: %w", row.N, f.Name, err)
			}
		}
		if i != j.key && strings.TrimSpace(cell) != "" {
			filled = true
		}
		// A row that pivots into records (a layout) is never a partial
		// update of one: it needs its required cells.
		required := f.Required && (i == j.key || j.imp.Mode == schemas.ModeCreate || j.ds.Pivot != nil)
		if f.Repeated && j.ds.EachItem {
			if dropped := j.drop(row, i); len(dropped) > 0 {
				vs = append(vs, dropped...)
				broken |= 1 << i
				continue
			}
		}
		if v, ok := f.Check(cell, j.ctx, required); !ok {
			vs = append(vs, v)
			broken |= 1 << i
		}
	}
	return vs, broken, filled, nil
}

// drop judges each value of Repeated field i of an EachItem row on its
// own: it empties the bad ones in the cell (their column keeps its place)
// and returns their violations, each naming its column, which it also
// records in row.Dropped.
func (j *judge) drop(row *schemas.Row, i int) []schemas.Violation {
	f := &j.ds.Fields[i]
	items := strings.Split(row.Cells[i], schemas.ListSep)
	for k, item := range items {
		if strings.TrimSpace(item) == "" {
			continue
		}
		if v, ok := f.Check(item, j.ctx, false); !ok {
			v.Column = j.ds.ItemColumn(k + 1)
			row.Dropped = append(row.Dropped, v)
			items[k] = ""
		}
	}
	if row.Dropped != nil {
		row.Cells[i] = strings.Join(items, schemas.ListSep)
	}
	return row.Dropped
}

// anyLeft reports whether an EachItem row has a value of its Repeated
// field left once the bad ones are dropped.
func (j *judge) anyLeft(row *schemas.Row) bool {
	for i, f := range j.ds.Fields {
		if !f.Repeated {
			continue
		}
		for item := range strings.SplitSeq(row.Cells[i], schemas.ListSep) {
			if strings.TrimSpace(item) != "" {
				return true
			}
		}
	}
	return false
}

// duplicates returns a violation for each key, identity or Unique value of the row
// that an earlier row of the file has. A field that broke a rule (broken)
// is not reported as a duplicate too: its rule says what to fix.
func (j *judge) duplicates(row *schemas.Row, broken uint64) []schemas.Violation {
	var vs []schemas.Violation
	for _, d := range row.Duplicates {
		if broken&(1<<d.Field) != 0 {
			continue
		}
		f := &j.ds.Fields[d.Field]
		msg := schemas.MsgDuplicateOf(f.Name, d.Of)
		switch {
		case d.Field == j.key && j.ds.RepeatedKey != nil:
			msg = j.ds.RepeatedKey(d.Of)
		case d.Field != j.key && d.Field == j.ds.IdentityIndex():
			msg = schemas.MsgSameRecord(d.Of, f.Name, row.Cells[d.Field])
		}
		vs = append(vs, schemas.Violation{Column: f.Name, Code: schemas.CodeDuplicate, Value: f.Show(row.Cells[d.Field]), Message: msg})
	}
	return vs
}

// Config is the validate stage's configuration.
type Config = bus.StageConfig

// Stage is the validate stage.
type Stage struct {
	*bus.Runner
	secrets *platform.Secrets
	metrics *platform.Metrics
}

// New builds the validate stage on the raw rows.
func New(cfg Config, nc *nats.Conn, secrets *platform.Secrets, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	c, err := Consumer(cfg)
	if err != nil {
		return nil, err
	}
	s := &Stage{secrets: secrets, metrics: m}
	if s.Runner, err = bus.NewRunner(schemas.StageValidate, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	return s, nil
}

// Consumer is validate's durable consumer on the raw rows as cfg configures
// it: `sluice migrate` creates it, New binds to it.
func Consumer(cfg Config) (bus.Consumer, error) {
	return cfg.Consumer(schemas.DurableValidate, schemas.StreamRows, schemas.SubjectRawRows)
}

func (s *Stage) handle(msg *message.Message) error {
	c, ds, err := bus.DecodeChunk(msg)
	if err != nil {
		return err
	}
	valid, rejected, err := Judge(ds, &c.Import, c.Rows, s.secrets.Open)
	if err != nil {
		return err
	}
	if len(rejected) > 0 {
		if err := bus.PublishDeadLetters(s.Pub, s.metrics, schemas.TokenValidateDLQ, c.Import, c.Number, rejected); err != nil {
			return err
		}
	}
	c.Rows, c.Rejected = valid, append(c.Rejected, rejected...)
	if err := bus.PublishChunk(s.Pub, schemas.ValidRowsSubject(c.Import.Tenant, c.Import.Dataset),
		schemas.MsgID(c.Import.ID, schemas.StageValidate, c.Number), c); err != nil {
		return err
	}
	s.metrics.Rows.WithLabelValues("valid").Add(float64(len(valid)))
	s.metrics.Rows.WithLabelValues("rejected").Add(float64(len(rejected)))
	return nil
}
