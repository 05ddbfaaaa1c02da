package warehouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// StagedTable is where the records of an import that aborts on error, or
// of a preview, wait (load writes them there, decided) until every row of
// it is known good, or an operator continues or confirms it; then
// CommitStaged copies them into table. Expire deletes them once the import
// has ended: a delete is DDL on 18.16, which the stages may not run.
func StagedTable(table string) string { return table + "_staged" }

// CommitStaged copies an import's staged records into the dataset's table.
// Copying twice is harmless: the copies have the same version.
func CommitStaged(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, importID string) error {
	list := join(DatasetColumns(ds))
	q := fmt.Sprintf("INSERT INTO %[1]s.%[2]s (%[3]s) SELECT %[3]s FROM %[1]s.%[4]s FINAL WHERE import_id = ?", db, ds.Table, list, StagedTable(ds.Table))
	if err := conn.Exec(ctx, q, importID); err != nil {
		return fmt.Errorf("warehouse: commit %s of %s: %w", ds.Table, importID, err)
	}
	return nil
}

// StagedChanged counts an import's staged records of the dataset's table
// whose identity (key, or a client's ID) a later upload has written since (a
// record of the tenant's with a higher version): the import's decisions
// about them are out of date.
func StagedChanged(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, imp *schemas.Import) (int, error) {
	var n uint64
	key := ds.Fields[ds.IdentityIndex()].Column
	q := fmt.Sprintf("SELECT count() FROM %[1]s.%[2]s FINAL WHERE import_id = ? AND %[3]s IN (SELECT %[3]s FROM %[1]s.%[4]s WHERE tenant = ? AND version > ?)",
		db, StagedTable(ds.Table), key, ds.Table)
	if err := conn.QueryRow(ctx, q, imp.ID, imp.Tenant, imp.Version).Scan(&n); err != nil {
		return 0, fmt.Errorf("warehouse: changed %s since %s: %w", ds.Table, imp.ID, err)
	}
	return int(n), nil
}

// StagedRecords counts an import's staged records of the dataset's table.
func StagedRecords(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, importID string) (int, error) {
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM %s.%s FINAL WHERE import_id = ?", db, StagedTable(ds.Table))
	if err := conn.QueryRow(ctx, q, importID).Scan(&n); err != nil {
		return 0, fmt.Errorf("warehouse: staged %s of %s: %w", ds.Table, importID, err)
	}
	return int(n), nil
}
