package load

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/schemas"
)

// ClickHouse is the Warehouse on ClickHouse (18.16 and current releases).
type ClickHouse struct {
	Conn     driver.Conn
	Database string
}

// withKeys sends a batch's keys along with a query as the external table
// batch_keys(key String): no query text grows with the batch.
func withKeys(ctx context.Context, keys []string) (context.Context, error) {
	t, err := ext.NewTable("batch_keys", ext.Column("key", "String"))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := t.Append(k); err != nil {
			return nil, err
		}
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), nil
}

// Stored implements Warehouse.
func (c *ClickHouse) Stored(ctx context.Context, ds *schemas.Dataset, tenant string, keys []string, before uint64, withCells bool) (map[string]Stored, error) {
	stored := make(map[string]Stored, len(keys))
	if len(keys) == 0 {
		return stored, nil
	}
	key := ds.Fields[ds.KeyIndex()].Column
	// toString gives each column back in its canonical form (DateTime('UTC')
	// as 2006-01-02 15:04:05, UInt8 as 1/0).
	cols := []string{"argMax(row_hash, version)"}
	if withCells {
		for _, f := range ds.Fields {
			cols = append(cols, fmt.Sprintf("toString(argMax(%s, version))", f.Column))
		}
	}
	q := fmt.Sprintf(`SELECT %[1]s, %[4]s FROM %[2]s.%[3]s
		WHERE tenant = ? AND %[1]s IN (SELECT key FROM batch_keys) AND version < ? GROUP BY %[1]s`,
		key, c.Database, ds.Table, strings.Join(cols, ", "))
	kctx, err := withKeys(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("load: stored %s: %w", ds.Table, err)
	}
	rows, err := c.Conn.Query(kctx, q, tenant, before)
	if err != nil {
		return nil, fmt.Errorf("load: stored %s: %w", ds.Table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var s Stored
		dest := []any{&k, &s.Hash}
		if withCells {
			s.Cells = make([]string, len(ds.Fields))
			for i := range s.Cells {
				dest = append(dest, &s.Cells[i])
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load: stored %s: %w", ds.Table, err)
		}
		stored[k] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: stored %s: %w", ds.Table, err)
	}
	return stored, nil
}

// Audited implements Warehouse.
func (c *ClickHouse) Audited(ctx context.Context, importID string, chunks []int) (map[int]string, error) {
	nums := make([]string, len(chunks))
	for i, n := range chunks {
		nums[i] = strconv.Itoa(n)
	}
	rows, err := c.Conn.Query(ctx, fmt.Sprintf(
		"SELECT row, toString(outcome) FROM %s.import_rows FINAL WHERE import_id = ? AND chunk IN (%s)", c.Database, strings.Join(nums, ", ")),
		importID)
	if err != nil {
		return nil, fmt.Errorf("load: audited: %w", err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var n uint32
		var o string
		if err := rows.Scan(&n, &o); err != nil {
			return nil, fmt.Errorf("load: audited: %w", err)
		}
		out[int(n)] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: audited: %w", err)
	}
	return out, nil
}

// Write implements Warehouse: the records and the audit (at once, over two
// connections), then the chunk reports, each one insert. A failed insert may
// still have landed; the caller retries the whole write, which the tables'
// design makes safe.
func (c *ClickHouse) Write(ctx context.Context, w *Write) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.writeRecords(gctx, w) })
	g.Go(func() error { return c.writeAudit(gctx, w) })
	if err := g.Wait(); err != nil {
		return err
	}
	return c.writeChunks(ctx, w)
}

func (c *ClickHouse) writeRecords(ctx context.Context, w *Write) error {
	ds := w.Dataset
	n := 0
	for _, r := range w.Records {
		if r.Outcome != Unchanged {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	cols := []string{"tenant"}
	for _, f := range ds.Fields {
		cols = append(cols, f.Column)
	}
	cols = append(cols, "row_hash", "import_id", "row", "version", "loaded_at")
	batch, err := c.Conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", c.Database, ds.Table, strings.Join(cols, ", ")))
	if err != nil {
		return fmt.Errorf("load: insert %s: %w", ds.Table, err)
	}
	// Column by column: one slice per column, no value boxed per cell.
	tenant := make([]string, 0, n)
	fields := make([]any, len(ds.Fields))
	for i, f := range ds.Fields {
		switch f.Kind {
		case schemas.Bool:
			fields[i] = make([]uint8, 0, n)
		case schemas.DateTime:
			fields[i] = make([]time.Time, 0, n)
		default:
			fields[i] = make([]string, 0, n)
		}
	}
	hashes := make([]uint64, 0, n)
	importIDs := make([]string, 0, n)
	rowNums := make([]uint32, 0, n)
	versions := make([]uint64, 0, n)
	loaded := make([]time.Time, 0, n)
	now := time.Now().UTC().Truncate(time.Second)
	for _, r := range w.Records {
		if r.Outcome == Unchanged {
			continue
		}
		tenant = append(tenant, w.Import.Tenant)
		for i, f := range ds.Fields {
			v := r.Row.Cells[i]
			switch f.Kind {
			case schemas.Bool:
				b := uint8(0)
				if v == "1" {
					b = 1
				}
				fields[i] = append(fields[i].([]uint8), b)
			case schemas.DateTime:
				t, err := time.Parse(schemas.DateTimeLayout, v)
				if err != nil {
					return fmt.Errorf("load: row %d: %s is not canonical: %w", r.Row.N, f.Name, err)
				}
				fields[i] = append(fields[i].([]time.Time), t)
			default:
				fields[i] = append(fields[i].([]string), v)
			}
		}
		hashes = append(hashes, r.Hash)
		importIDs = append(importIDs, w.Import.ID)
		rowNums = append(rowNums, uint32(r.Row.N))
		versions = append(versions, w.Import.Version)
		loaded = append(loaded, now)
	}
	columns := append(append([]any{tenant}, fields...), hashes, importIDs, rowNums, versions, loaded)
	for i, col := range columns {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("load: insert %s: column %s: %w", ds.Table, cols[i], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("load: insert %s: %w", ds.Table, err)
	}
	return nil
}

func (c *ClickHouse) writeAudit(ctx context.Context, w *Write) error {
	batch, err := c.Conn.PrepareBatch(ctx, fmt.Sprintf(
		"INSERT INTO %s.import_rows (import_id, row, tenant, dataset, chunk, outcome, columns, codes, messages, values, version)", c.Database))
	if err != nil {
		return fmt.Errorf("load: insert import_rows: %w", err)
	}
	n := len(w.Records)
	for _, rejected := range w.Rejected {
		n += len(rejected)
	}
	var a audit
	a.grow(n)
	for _, r := range w.Records {
		a.add(r.Row.N, r.Chunk, r.Outcome, nil)
	}
	for chunk, rejected := range w.Rejected {
		for _, r := range rejected {
			a.add(r.N, chunk, Rejected, r.Violations)
		}
	}
	imp := w.Import
	columns := []any{repeat(imp.ID, n), a.rows, repeat(imp.Tenant, n), repeat(imp.Dataset, n), a.chunks, a.outcomes,
		a.cols, a.codes, a.msgs, a.vals, repeat(imp.Version, n)}
	for i, col := range columns {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("load: insert import_rows: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("load: insert import_rows: %w", err)
	}
	return nil
}

// audit holds the per-row audit column by column; violations are laid out
// as parallel arrays (18.16 cannot store Array(Tuple(...))).
type audit struct {
	rows, chunks            []uint32
	outcomes                []string
	cols, codes, msgs, vals [][]string
}

func (a *audit) grow(n int) {
	a.rows, a.chunks, a.outcomes = make([]uint32, 0, n), make([]uint32, 0, n), make([]string, 0, n)
	a.cols, a.codes, a.msgs, a.vals = make([][]string, 0, n), make([][]string, 0, n), make([][]string, 0, n), make([][]string, 0, n)
}

func (a *audit) add(row, chunk int, outcome string, vs []schemas.Violation) {
	a.rows = append(a.rows, uint32(row))
	a.chunks = append(a.chunks, uint32(chunk))
	a.outcomes = append(a.outcomes, outcome)
	cols, codes, msgs, vals := make([]string, len(vs)), make([]string, len(vs)), make([]string, len(vs)), make([]string, len(vs))
	for i, v := range vs {
		cols[i], codes[i], msgs[i], vals[i] = v.Column, v.Code, v.Message, v.Value
	}
	a.cols, a.codes, a.msgs, a.vals = append(a.cols, cols), append(a.codes, codes), append(a.msgs, msgs), append(a.vals, vals)
}

func repeat[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func (c *ClickHouse) writeChunks(ctx context.Context, w *Write) error {
	batch, err := c.Conn.PrepareBatch(ctx, fmt.Sprintf(
		"INSERT INTO %s.import_chunks (import_id, chunk, first_row, rows, created, updated, unchanged, rejected, loaded_at, version)", c.Database))
	if err != nil {
		return fmt.Errorf("load: insert import_chunks: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, r := range w.Chunks {
		k := r.Counts
		if err := batch.Append(w.Import.ID, uint32(r.Number), uint32(r.FirstRow), uint32(k.Rows),
			uint32(k.Created), uint32(k.Updated), uint32(k.Unchanged), uint32(k.Rejected), now, w.Import.Version); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("load: insert import_chunks: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("load: insert import_chunks: %w", err)
	}
	return nil
}
