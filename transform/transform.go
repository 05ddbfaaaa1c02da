// Package transform turns valid rows into records ready to load: every cell
// in its canonical form (trimmed, normalised: e-mails lower-cased, booleans
// 1/0, times in UTC, phone numbers in E.164) and every empty optional cell
// given its dataset's default; every cell the file left empty is marked
// (Row.SetEmpty), so that an existing record keeps its stored value there
// instead. Secrets (passwords), sealed since ingest, are opened here and
// replaced by their argon2id hash (platform.HashSecret): nothing after transform holds
// them in any reversible form. The rows of a layout are pivoted into the
// records they hold (a user's groups, a group's members).
//
// It owns applying the dataset's canonical forms and defaults (Records, a
// plain function tested without a broker), hashing secrets and pivoting
// layouts. The normalisers, defaults and pivots themselves are declared in
// schemas, beside the rules they follow; judging cells is validate's, and
// deciding whether a record is new, updated or unchanged is load's.
//
// Hashing is the stage's cost: one hash per core at a time in the process
// (each holds 19 MiB), and its consumer gives a chunk two minutes before it
// is sent again (ackWait).
//
// Rejected rows ride along untouched, so the chunk reaches load whole.
// Defaults and hashes are deterministic (they depend on the tenant, the
// record's key and the import), so a redelivered chunk yields the same
// records.
package transform

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// Records rewrites valid rows in place into their canonical form, and marks
// the cells the file left empty (Row.SetEmpty). A secret cell, sealed by
// ingest, is opened and replaced by its argon2id hash, on every core
// (platform.HashSecret bounds the hashes running at once; each costs tens of
// milliseconds). The rows of a layout that pivots (a user's groups, a
// group's members) are then turned into the records they hold, each with
// its row's number.
func Records(ds *schemas.Dataset, imp *schemas.Import, rows []schemas.Row, secrets *platform.Secrets) ([]schemas.Row, error) {
	ctx := imp.Context()
	var g errgroup.Group
	for r := range rows {
		canonical(&g, ds, imp, ctx, &rows[r], secrets)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return pivot(ds, rows), nil
}

// canonical rewrites one row's cells into their canonical form and marks
// those the file left empty. Its secret cells are hashed on g, so that the
// hashes of a chunk's rows run at once.
func canonical(g *errgroup.Group, ds *schemas.Dataset, imp *schemas.Import, ctx schemas.Context, row *schemas.Row, secrets *platform.Secrets) {
	ctx.Key = ds.CanonicalKey(row.Cells)
	for i := range ds.Fields {
		f := &ds.Fields[i]
		if strings.TrimSpace(row.Cells[i]) == "" {
			row.SetEmpty(i)
		}
		if f.Secret && row.Cells[i] != "" {
			sealed, salt := row.Cells[i], secrets.Salt(imp.Tenant, ctx.Key)
			g.Go(func() error {
				plain, err := secrets.Open(sealed)
				if err != nil {
					return fmt.Errorf("transform: row %d: %s: %w", row.N, f.Name, err)
				}
				row.Cells[i] = platform.HashSecret(plain, salt)
				return nil
			})
			continue
		}
		row.Cells[i] = f.Canonical(row.Cells[i], ctx)
	}
}

// pivot turns the rows of a layout that pivots into the records they hold,
// each with its row's number (and, for a layout whose values are judged
// each on its own, its value's place; the row's first record carries the
// values validate dropped); the rows of any other dataset are records
// already.
func pivot(ds *schemas.Dataset, rows []schemas.Row) []schemas.Row {
	if ds.Pivot == nil {
		return rows
	}
	var records []schemas.Row
	for _, row := range rows {
		first := len(records)
		for i, cells := range ds.Pivot(row.Cells) {
			if cells == nil {
				continue // an empty column, or a value validate dropped
			}
			r := schemas.Row{N: row.N, Cells: cells}
			if ds.EachItem {
				r.Item = i + 1
			}
			records = append(records, r)
		}
		if len(records) > first {
			records[first].Dropped = row.Dropped // once a row
		}
	}
	return records
}

// A chunk of passwords waits for the hashing slots (platform.HashSecret) behind
// those sent before it: the chunks a consumer is sent at once (by default 16
// of ingest.SecretChunkRows passwords: 800 hashes of tens of milliseconds
// each) take tens of seconds to hash on two cores, longer than AckWait, and
// a chunk sent again meanwhile would be hashed twice. So transform tells
// JetStream it is still working three times an AckWait, for as long as
// maxHandling; a transform that dies leaves its chunks for AckWait only.
const maxHandling = 10 * time.Minute

// Config is the transform stage's configuration.
type Config = bus.StageConfig

// Stage is the transform stage.
type Stage struct {
	*bus.Runner
	nc        *nats.Conn
	heartbeat time.Duration
	secrets   *platform.Secrets
	metrics   *platform.Metrics
}

// New builds the transform stage on the valid rows.
func New(cfg Config, nc *nats.Conn, secrets *platform.Secrets, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	c, err := Consumer(cfg)
	if err != nil {
		return nil, err
	}
	s := &Stage{nc: nc, heartbeat: c.AckWait / 3, secrets: secrets, metrics: m}
	if s.Runner, err = bus.NewRunner(schemas.StageTransform, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	return s, nil
}

// Consumer is transform's durable consumer on the valid rows as cfg
// configures it: `sluice migrate` creates it, New binds to it.
func Consumer(cfg Config) (bus.Consumer, error) {
	c, err := cfg.Consumer(schemas.DurableTransform, schemas.StreamRows, schemas.SubjectValidRows)
	c.HandlerTimeout = maxHandling
	return c, err
}

func (s *Stage) handle(msg *message.Message) error {
	c, ds, err := bus.DecodeChunk(msg)
	if err != nil {
		return err
	}
	defer bus.Working(s.nc, msg, s.heartbeat)()
	if c.Rows, err = Records(ds, &c.Import, c.Rows, s.secrets); err != nil {
		return err
	}
	if err := bus.PublishChunk(s.Pub, schemas.ReadyRowsSubject(c.Import.Tenant, c.Import.Dataset),
		schemas.MsgID(c.Import.ID, schemas.StageTransform, c.Number), c); err != nil {
		return err
	}
	s.metrics.Rows.WithLabelValues("transformed").Add(float64(len(c.Rows)))
	return nil
}
