package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// Revise writes a new version of the tenant's record of ds whose identity
// (its key, or a client's ID: Dataset.IdentityIndex) is key,
// outside any import (a user's invitation accepted or lapsed). change is
// given the latest version's cells (canonical, in field order) and changes
// them in place, or returns false to leave the record as it is. Revise
// reports whether it wrote one; a record that does not exist is not
// written.
//
// The new version is a copy of the latest (same import and row) with the
// changed cells, their hash, and a version later than both the latest's
// and that of any upload made before now (an import's version is its upload
// time in milliseconds, shifted 20 bits): a file uploaded later still wins.
// It is an insert, never a mutation, which 18.16 counts as DDL.
func Revise(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, tenant, key string, change func(cells []string) bool) (bool, error) {
	keyCol := ds.Fields[ds.IdentityIndex()].Column
	cols := make([]string, len(ds.Fields))
	for i, f := range ds.Fields {
		cols[i] = "toString(" + f.Column + ")"
	}
	row := conn.QueryRow(ctx, fmt.Sprintf("SELECT version, %s FROM %s.%s WHERE tenant = ? AND %s = ? ORDER BY version DESC LIMIT 1",
		strings.Join(cols, ", "), db, ds.Table, keyCol), tenant, key)
	var version uint64
	cells := make([]string, len(ds.Fields))
	dest := []any{&version}
	for i := range cells {
		dest = append(dest, &cells[i])
	}
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("warehouse: revise %s: %w", ds.Table, err)
	}
	before := append([]string(nil), cells...)
	if !change(cells) {
		return false, nil
	}
	// The insert's columns are the select's by position: changed cells are
	// bound as literals (aliased apart: ClickHouse would let an alias named
	// after a column stand for it in WHERE), the others copied.
	sel := []string{"tenant"}
	var args []any
	for i, f := range ds.Fields {
		if cells[i] == before[i] {
			sel = append(sel, f.Column)
			continue
		}
		if f.Kind != schemas.String {
			return false, fmt.Errorf("warehouse: revise %s: only text fields may change, not %s", ds.Table, f.Name)
		}
		sel = append(sel, fmt.Sprintf("? AS new_%d", i))
		args = append(args, cells[i])
	}
	next := max(version+1, uint64(time.Now().UnixMilli())<<20)
	sel = append(sel, "? AS new_hash", "import_id", "row", "? AS new_version", "now() AS new_loaded_at")
	args = append(args, schemas.RowHash(cells), next, tenant, key, version)
	q := fmt.Sprintf("INSERT INTO %[1]s.%[2]s (%[3]s) SELECT %[4]s FROM %[1]s.%[2]s WHERE tenant = ? AND %[5]s = ? AND version = ? LIMIT 1",
		db, ds.Table, join(DatasetColumns(ds)), strings.Join(sel, ", "), keyCol)
	if err := conn.Exec(ctx, q, args...); err != nil {
		return false, fmt.Errorf("warehouse: revise %s: %w", ds.Table, err)
	}
	return true, nil
}
