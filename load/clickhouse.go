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

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/warehouse"
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
	// The whole column at once: appending row by row would box every key.
	if _, err := t.Block().Columns[0].Append(keys); err != nil {
		return nil, err
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), nil
}

// Stored implements Warehouse.
func (c *ClickHouse) Stored(ctx context.Context, ds *schemas.Dataset, tenant string, keys []string, before uint64, withCells bool) (map[string]Stored, error) {
	stored := make(map[string]Stored, len(keys))
	if len(keys) == 0 {
		return stored, nil
	}
	key := ds.Fields[ds.IdentityIndex()].Column
	// toString gives each column back in its canonical form (DateTime('UTC')
	// as 2006-01-02 15:04:05, UInt8 as 1/0).
	cols := []string{"argMax(row_hash, version)"}
	if ds.Removable() {
		cols = append(cols, "argMax("+schemas.Removed+", version)")
	}
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
		return nil, platform.Errorf(platform.PartClickHouse, "load: stored %s: %w", ds.Table, err)
	}
	rows, err := c.Conn.Query(kctx, q, tenant, before)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: stored %s: %w", ds.Table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var s Stored
		dest := []any{&k, &s.Hash}
		var removed uint8
		if ds.Removable() {
			dest = append(dest, &removed)
		}
		if withCells {
			s.Cells = make([]string, len(ds.Fields))
			for i := range s.Cells {
				dest = append(dest, &s.Cells[i])
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "load: stored %s: %w", ds.Table, err)
		}
		s.Removed = removed == 1
		stored[k] = s
	}
	if err := rows.Err(); err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: stored %s: %w", ds.Table, err)
	}
	return stored, nil
}

// Existing implements Warehouse.
func (c *ClickHouse) Existing(ctx context.Context, ref *schemas.Ref, tenant string, values []string) (map[string]bool, error) {
	table := ref.Table
	kctx, err := withKeys(ctx, values)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: existing %s: %w", table, err)
	}
	q := fmt.Sprintf("SELECT DISTINCT %[1]s FROM %[2]s.%[3]s WHERE tenant = ? AND %[1]s IN (SELECT key FROM batch_keys)", ref.Column, c.Database, table)
	args := []any{tenant}
	if ds, ok := schemas.Removing(table); ok {
		q, args = live(c.Database, ds, ref.Column, "%[2]s IN (SELECT key FROM batch_keys)"), []any{tenant, tenant}
		if ref.Type != "" {
			q, args = q+" AND (t = '' OR t = ?)", append(args, ref.Type)
		}
		q += " AND v IN (SELECT key FROM batch_keys)"
	}
	rows, err := c.Conn.Query(kctx, q, args...)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: existing %s: %w", table, err)
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "load: existing %s: %w", table, err)
		}
		found[v] = true
	}
	return found, rows.Err()
}

// live is the query of the distinct values v of column in the latest
// versions of the tenant's records of a removable dataset, removed records
// left out; t is their type where the dataset has one (schemas.GroupType),
// for the caller to add a condition on. which is the condition that picks
// the records (%[1]s stands for the key column, %[2]s for column); the
// query takes the tenant twice, then which's arguments.
func live(db string, ds *schemas.Dataset, column, which string) string {
	key := ds.Fields[ds.KeyIndex()].Column
	typ := "''"
	if ds.Index(schemas.GroupType) >= 0 {
		typ = "argMax(" + schemas.GroupType + ", version)"
	}
	return fmt.Sprintf(`SELECT DISTINCT v FROM (
			SELECT argMax(%[2]s, version) AS v, argMax(%[5]s, version) AS gone, `+typ+` AS t FROM %[3]s.%[4]s
			WHERE tenant = ? AND %[1]s IN (SELECT %[1]s FROM %[3]s.%[4]s WHERE tenant = ? AND `+which+`)
			GROUP BY %[1]s
		) WHERE gone = 0`, key, column, db, ds.Table, schemas.Removed)
}

// GroupsOf implements Warehouse.
func (c *ClickHouse) GroupsOf(ctx context.Context, tenant, email string) ([]string, error) {
	rows, err := c.Conn.Query(ctx, live(c.Database, schemas.Memberships, "group_name", "email = ?")+" ORDER BY v", tenant, tenant, email)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: groups of %s: %w", email, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "load: groups of %s: %w", email, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Members implements Warehouse.
func (c *ClickHouse) Members(ctx context.Context, tenant string, groups []string, before uint64) (map[string][]string, error) {
	kctx, err := withKeys(ctx, groups)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: members: %w", err)
	}
	rows, err := c.Conn.Query(kctx, fmt.Sprintf(`SELECT g, e FROM (
			SELECT argMax(group_name, version) AS g, argMax(email, version) AS e, argMax(%[3]s, version) AS gone
			FROM %[1]s.%[2]s WHERE tenant = ? AND version < ? AND group_name IN (SELECT key FROM batch_keys)
			GROUP BY member
		) WHERE gone = 0 ORDER BY g, e`, c.Database, schemas.Memberships.Table, schemas.Removed), tenant, before)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: members: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var g, e string
		if err := rows.Scan(&g, &e); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "load: members: %w", err)
		}
		out[g] = append(out[g], e)
	}
	return out, rows.Err()
}

// Owners implements Warehouse, in two steps: the records that ever had one
// of the values (a scan of the column, the tenant's rows only), then, by
// their identity (the table's sorting key, so only their rows are read),
// those whose latest version up to upTo still has it. Most writes find no
// record in the first step and need no second. One query that nests the
// first in the second reads every row of the tenant on 18.16, several times
// slower on a large table (clients, load's hot path).
func (c *ClickHouse) Owners(ctx context.Context, ds *schemas.Dataset, field int, tenant string, values []string, upTo uint64) (map[string]string, error) {
	key, col := ds.Fields[ds.IdentityIndex()].Column, ds.Fields[field].Column
	fail := func(err error) error {
		return platform.Errorf(platform.PartClickHouse, "load: owners %s: %w", col, err)
	}
	owners := map[string]string{}
	if len(values) == 0 {
		return owners, nil
	}
	kctx, err := withKeys(ctx, values)
	if err != nil {
		return nil, fail(err)
	}
	var ids []string
	err = c.scan(kctx, func(r driver.Rows) error {
		var id string
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	}, fmt.Sprintf("SELECT DISTINCT %[1]s FROM %[3]s.%[4]s WHERE tenant = ? AND %[2]s IN (SELECT key FROM batch_keys) AND version <= ?",
		key, col, c.Database, ds.Table), tenant, upTo)
	if err != nil {
		return nil, fail(err)
	}
	if len(ids) == 0 {
		return owners, nil
	}
	wanted := make(map[string]bool, len(values))
	for _, v := range values {
		wanted[v] = true
	}
	ictx, err := withKeys(ctx, ids)
	if err != nil {
		return nil, fail(err)
	}
	err = c.scan(ictx, func(r driver.Rows) error {
		var id, v string
		err := r.Scan(&id, &v)
		if wanted[v] {
			owners[v] = id
		}
		return err
	}, fmt.Sprintf("SELECT %[1]s, argMax(%[2]s, version) FROM %[3]s.%[4]s WHERE tenant = ? AND %[1]s IN (SELECT key FROM batch_keys) AND version <= ? GROUP BY %[1]s",
		key, col, c.Database, ds.Table), tenant, upTo)
	if err != nil {
		return nil, fail(err)
	}
	return owners, nil
}

// scan runs a query and hands each row to each.
func (c *ClickHouse) scan(ctx context.Context, each func(driver.Rows) error, q string, args ...any) error {
	rows, err := c.Conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Audited implements Warehouse.
func (c *ClickHouse) Audited(ctx context.Context, importID string, chunks []int) (map[int]Audit, error) {
	nums := make([]string, len(chunks))
	for i, n := range chunks {
		nums[i] = strconv.Itoa(n)
	}
	rows, err := c.Conn.Query(ctx, fmt.Sprintf(
		"SELECT row, toString(outcome) FROM %s."+warehouse.ImportRows.Name+" FINAL WHERE import_id = ? AND chunk IN (%s)", c.Database, strings.Join(nums, ", ")),
		importID)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: audited: %w", err)
	}
	defer rows.Close()
	out := map[int]Audit{}
	var rejected []string
	for rows.Next() {
		var n uint32
		var o string
		if err := rows.Scan(&n, &o); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "load: audited: %w", err)
		}
		out[int(n)] = Audit{Outcome: o}
		if o == warehouse.Rejected {
			rejected = append(rejected, strconv.Itoa(int(n)))
		}
	}
	if err := rows.Err(); err != nil || len(rejected) == 0 {
		return out, err
	}
	why, err := c.Conn.Query(ctx, fmt.Sprintf("%s WHERE import_id = ? AND row IN (%s)",
		warehouse.SelectRejections(c.Database), strings.Join(rejected, ", ")), importID)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: audited: %w", err)
	}
	err = warehouse.ScanRejections(why, func(r schemas.Rejected) error {
		a := out[r.N]
		a.Violations = r.Violations
		out[r.N] = a
		return nil
	})
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "load: audited: %w", err)
	}
	return out, nil
}

// Write implements Warehouse: the records (the dataset's and the others it
// makes), the outcomes and the rejections (at once, over several
// connections), then the chunk reports, each one insert.
// A failed insert may still have landed; the caller retries the whole write,
// which the tables' design makes safe.
func (c *ClickHouse) Write(ctx context.Context, w *Write) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.writeRecords(gctx, &w.Import, w.Dataset, w.Records) })
	for ds, records := range w.Also {
		g.Go(func() error { return c.writeRecords(gctx, &w.Import, ds, records) })
	}
	g.Go(func() error { return c.writeOutcomes(gctx, w) })
	g.Go(func() error { return c.writeRejections(gctx, w) })
	if w.Import.Mode == schemas.ModeSync {
		g.Go(func() error { return c.writeKeys(gctx, w) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.writeChunks(ctx, w)
}

// writeRecords upserts the records of ds that are new or changed.
func (c *ClickHouse) writeRecords(ctx context.Context, imp *schemas.Import, ds *schemas.Dataset, records []Record) error {
	var changed []*Record
	for i := range records {
		if records[i].Outcome != warehouse.Unchanged {
			changed = append(changed, &records[i])
		}
	}
	if len(changed) == 0 {
		return nil
	}
	table := ds.Table
	if imp.Stages() {
		table = warehouse.StagedTable(table) // until notify loads them
	}
	cols := newRecordColumns(ds, imp, min(blockRows, len(changed)))
	return c.insert(ctx, table, warehouse.DatasetColumns(ds), len(changed), func(lo, hi int) ([]any, error) {
		return cols.fill(ds, changed[lo:hi])
	})
}

// recordColumns are the columns of a block of records, one typed slice per
// column, filled in place and reused block after block: an append through
// an interface would box a new slice header per cell.
type recordColumns struct {
	fields       []any // []uint8, []time.Time or []string, by field kind
	hashes       []uint64
	rows         []uint32
	tenants, ids []string
	versions     []uint64
	times        []time.Time
}

func newRecordColumns(ds *schemas.Dataset, imp *schemas.Import, m int) *recordColumns {
	c := &recordColumns{
		fields: make([]any, len(ds.Fields)), hashes: make([]uint64, m), rows: make([]uint32, m),
		tenants: repeat(imp.Tenant, m), ids: repeat(imp.ID, m), versions: repeat(imp.Version, m),
		times: repeat(time.Now().UTC().Truncate(time.Second), m),
	}
	for i, f := range ds.Fields {
		switch f.Kind {
		case schemas.Bool:
			c.fields[i] = make([]uint8, m)
		case schemas.DateTime:
			c.fields[i] = make([]time.Time, m)
		default:
			c.fields[i] = make([]string, m)
		}
	}
	return c
}

// fill returns the columns of block, in warehouse.DatasetColumns's order.
func (c *recordColumns) fill(ds *schemas.Dataset, block []*Record) ([]any, error) {
	n := len(block)
	out := make([]any, 0, len(ds.Fields)+6)
	out = append(out, c.tenants[:n])
	for i, f := range ds.Fields {
		switch col := c.fields[i].(type) {
		case []uint8:
			for k, r := range block {
				col[k] = 0
				if r.Row.Cells[i] == "1" {
					col[k] = 1
				}
			}
			out = append(out, col[:n])
		case []time.Time:
			for k, r := range block {
				t, err := parseDateTime(r.Row.Cells[i])
				if err != nil {
					return nil, platform.Errorf(platform.PartClickHouse, "load: row %d: %s is not canonical: %w", r.Row.N, f.Name, err)
				}
				col[k] = t
			}
			out = append(out, col[:n])
		case []string:
			for k, r := range block {
				col[k] = r.Row.Cells[i]
			}
			out = append(out, col[:n])
		}
	}
	for k, r := range block {
		c.hashes[k], c.rows[k] = r.Hash, uint32(r.Row.N)
	}
	return append(out, c.hashes[:n], c.ids[:n], c.rows[:n], c.versions[:n], c.times[:n]), nil
}

// parseDateTime parses a canonical DateTime cell (schemas.DateTimeLayout,
// UTC). It reads the digits itself, which is many times cheaper than
// time.Parse on every cell, and leaves only what is not plainly canonical to
// time.Parse, for its error.
func parseDateTime(v string) (time.Time, error) {
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	if len(v) == len(schemas.DateTimeLayout) && v[4] == '-' && v[7] == '-' && v[10] == ' ' && v[13] == ':' && v[16] == ':' {
		y, mo, d, h, mi, s := num(v[0:4]), num(v[5:7]), num(v[8:10]), num(v[11:13]), num(v[14:16]), num(v[17:19])
		t := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
		// time.Date normalises what is out of range (February 30th is
		// March 1st): such a value is not canonical.
		ty, tmo, td := t.Date()
		th, tmi, ts := t.Clock()
		if y >= 0 && ty == y && int(tmo) == mo && td == d && th == h && tmi == mi && ts == s {
			return t, nil
		}
	}
	return time.Parse(schemas.DateTimeLayout, v)
}

// writeOutcomes writes every row's outcome to import_rows.
func (c *ClickHouse) writeOutcomes(ctx context.Context, w *Write) error {
	n := len(w.Rows)
	for _, rejected := range w.Rejected {
		n += len(rejected)
	}
	rows, chunks, outcomes := make([]uint32, 0, n), make([]uint32, 0, n), make([]string, 0, n)
	for _, r := range w.Rows {
		rows, chunks, outcomes = append(rows, uint32(r.N)), append(chunks, uint32(r.Chunk)), append(outcomes, r.Outcome)
	}
	for chunk, rejected := range w.Rejected {
		for _, r := range rejected {
			rows, chunks, outcomes = append(rows, uint32(r.N)), append(chunks, uint32(chunk)), append(outcomes, warehouse.Rejected)
		}
	}
	m := min(blockRows, n)
	ids, versions := repeat(w.Import.ID, m), repeat(w.Import.Version, m)
	return c.insert(ctx, warehouse.ImportRows.Name, warehouse.ImportRows.Names(), n, func(lo, hi int) ([]any, error) {
		return []any{ids[:hi-lo], rows[lo:hi], chunks[lo:hi], outcomes[lo:hi], versions[:hi-lo]}, nil
	})
}

// writeRejections writes why each rejected row was rejected, and each
// partial row's rejected values, to import_rejections.
func (c *ClickHouse) writeRejections(ctx context.Context, w *Write) error {
	var rows []uint32
	var cols, codes, msgs, vals [][]string
	for _, byChunk := range []map[int][]schemas.Rejected{w.Rejected, w.Partial} {
		for _, rejected := range byChunk {
			for _, r := range rejected {
				rc, rk, rm, rv := warehouse.RejectionArrays(r.Violations)
				rows, cols, codes, msgs, vals = append(rows, uint32(r.N)), append(cols, rc), append(codes, rk), append(msgs, rm), append(vals, rv)
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	n, imp := len(rows), w.Import
	m := min(blockRows, n)
	ids, tenants, datasets, versions := repeat(imp.ID, m), repeat(imp.Tenant, m), repeat(imp.Dataset, m), repeat(imp.Version, m)
	return c.insert(ctx, warehouse.ImportRejections.Name, warehouse.ImportRejections.Names(), n, func(lo, hi int) ([]any, error) {
		k := hi - lo
		return []any{ids[:k], rows[lo:hi], tenants[:k], datasets[:k], cols[lo:hi], codes[lo:hi], msgs[lo:hi], vals[lo:hi], versions[:k]}, nil
	})
}

// writeKeys writes the key of every row of a sync to import_keys: the
// records', whatever their outcome, and those of the rejected rows (those
// whose keys could be read).
func (c *ClickHouse) writeKeys(ctx context.Context, w *Write) error {
	key := w.Dataset.KeyIndex()
	keys := make([]string, 0, len(w.Records))
	for _, r := range w.Records {
		keys = append(keys, r.Row.Cells[key])
	}
	for _, rejected := range w.Rejected {
		for _, r := range rejected {
			keys = append(keys, r.Keys...)
		}
	}
	n := len(keys)
	if n == 0 {
		return nil
	}
	m := min(blockRows, n)
	ids, versions := repeat(w.Import.ID, m), repeat(w.Import.Version, m)
	return c.insert(ctx, warehouse.ImportKeys.Name, warehouse.ImportKeys.Names(), n, func(lo, hi int) ([]any, error) {
		return []any{ids[:hi-lo], keys[lo:hi], versions[:hi-lo]}, nil
	})
}

// blockRows is the most rows an insert sends in one block. ClickHouse
// gathers the blocks of one insert into one part (min_insert_block_size_rows,
// a million by default), so a write of any size is still one part, while
// load's column buffers stay the size of a block (clickhouse-go grows them a
// quarter at a time, and reuses them from block to block).
const blockRows = 8192

// insert writes n rows into table's columns cols in one insert, block by
// block: block returns the columns of rows lo to hi.
func (c *ClickHouse) insert(ctx context.Context, table string, cols []string, n int, block func(lo, hi int) ([]any, error)) error {
	batch, err := c.Conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", c.Database, table, strings.Join(cols, ", ")))
	if err != nil {
		return platform.Errorf(platform.PartClickHouse, "load: insert %s: %w", table, err)
	}
	for lo := 0; lo < n; lo += blockRows {
		columns, err := block(lo, min(lo+blockRows, n))
		if err == nil {
			for i, col := range columns {
				if err = batch.Column(i).Append(col); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = batch.Flush()
		}
		if err != nil {
			_ = batch.Abort()
			return platform.Errorf(platform.PartClickHouse, "load: insert %s: %w", table, err)
		}
	}
	if err := batch.Send(); err != nil {
		return platform.Errorf(platform.PartClickHouse, "load: insert %s: %w", table, err)
	}
	return nil
}

func repeat[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// writeChunks writes the chunks' reports, by which notify counts them.
func (c *ClickHouse) writeChunks(ctx context.Context, w *Write) error {
	n := len(w.Chunks)
	nums, firsts := make([]uint32, n), make([]uint32, n)
	rows, created, updated, unchanged, rejected := make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
	removed, renamed, removedMembers, removedGroups, partial := make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
	for i, r := range w.Chunks {
		k := r.Counts
		nums[i], firsts[i] = uint32(r.Number), uint32(r.FirstRow)
		rows[i], created[i], updated[i], unchanged[i], rejected[i] = uint32(k.Rows), uint32(k.Created), uint32(k.Updated), uint32(k.Unchanged), uint32(k.Rejected)
		removed[i], renamed[i], removedMembers[i], removedGroups[i] = uint32(k.Removed), uint32(k.Renamed), uint32(k.RemovedMemberships), uint32(k.RemovedGroups)
		partial[i] = uint32(k.Partial)
	}
	ids, times, versions := repeat(w.Import.ID, n), repeat(time.Now().UTC().Truncate(time.Second), n), repeat(w.Import.Version, n)
	return c.insert(ctx, warehouse.ImportChunks.Name, warehouse.ImportChunks.Names(), n, func(lo, hi int) ([]any, error) {
		return []any{ids[lo:hi], nums[lo:hi], firsts[lo:hi], rows[lo:hi], created[lo:hi], updated[lo:hi], unchanged[lo:hi], rejected[lo:hi], times[lo:hi], versions[lo:hi],
			removed[lo:hi], renamed[lo:hi], removedMembers[lo:hi], removedGroups[lo:hi], partial[lo:hi]}, nil
	})
}
