package warehouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// A sync (schemas.ModeSync) deactivates the tenant's records its file leaves
// out. Load writes the key of every row of the file to import_keys, loaded
// or rejected (a rejected row's record is in the file too), before it
// reports the row's chunk; notify, once every chunk is reported, runs
// Deactivate. Its two tables hold personal data (keys are logins and
// emails): Expire deletes import_keys once the import has ended, and
// import_deactivations a TTL after it was written.
var (
	// ImportKeys are the keys of a sync's rows.
	ImportKeys = Table{Name: "import_keys", OrderBy: "(import_id, record_key)", Columns: []Column{
		{"import_id", "String"}, {"record_key", "String"}, {"version", "UInt64"},
	}, Filled: []Column{{WrittenAt, "DateTime('UTC') DEFAULT now()"}}}
	// ImportDeactivations is the audit of what each sync deactivated: a row
	// per record. It is not a file row: import_rows and the counts of file
	// rows do not include it.
	ImportDeactivations = Table{Name: "import_deactivations", OrderBy: "(import_id, record_key)", Columns: []Column{
		{"import_id", "String"}, {"tenant", "String"}, {"dataset", "String"}, {"record_key", "String"}, {"version", "UInt64"},
	}, Filled: []Column{{WrittenAt, "DateTime('UTC') DEFAULT now()"}}}
)

// Deactivation is what a sync did: Deactivated records, or none when the
// records it would deactivate (Would, of Active) were more than allowed.
type Deactivation struct {
	Deactivated, Would, Active int
	Refused                    bool
}

// Deactivate deactivates, as of the sync imp, the tenant's active records of
// ds whose keys are not in import_keys, if allow(would, active) lets it: it
// writes their keys to import_deactivations, then a new version of each
// record (the import's version) with ds.Deactivate's value, its row hash
// cleared so that a later row that reactivates it is an update.
//
// It is done once however often it runs: the first run that found records
// to deactivate audited them, and every later run only writes those
// records' new version again (the same rows, the same version). Records a
// later import wrote (a higher version) are neither counted nor changed.
// It only inserts: notify's user, which has no DDL, runs it.
func Deactivate(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, imp *schemas.Import, allow func(would, active int) bool) (Deactivation, error) {
	var d Deactivation
	audited, err := countOf(ctx, conn, fmt.Sprintf("SELECT count() FROM %s.%s FINAL WHERE import_id = ?", db, ImportDeactivations.Name), imp.ID)
	if err != nil {
		return d, err
	}
	if audited == 0 {
		state := currentState(db, ds)
		if d.Active, err = countOf(ctx, conn, "SELECT count() FROM ("+state+") WHERE active", imp.Tenant, imp.Version); err != nil {
			return d, err
		}
		absent := fmt.Sprintf("active AND record_key NOT IN (SELECT record_key FROM %s.%s FINAL WHERE import_id = ?)", db, ImportKeys.Name)
		if d.Would, err = countOf(ctx, conn, "SELECT count() FROM ("+state+") WHERE "+absent, imp.Tenant, imp.Version, imp.ID); err != nil {
			return d, err
		}
		if d.Would == 0 {
			return d, nil
		}
		if !allow(d.Would, d.Active) {
			d.Refused = true
			return d, nil
		}
		q := fmt.Sprintf("INSERT INTO %s.%s (%s) SELECT ?, ?, ?, record_key, ? FROM (%s) WHERE %s",
			db, ImportDeactivations.Name, join(ImportDeactivations.Names()), state, absent)
		if err := conn.Exec(ctx, q, imp.ID, imp.Tenant, imp.Dataset, imp.Version, imp.Tenant, imp.Version, imp.ID); err != nil {
			return d, fmt.Errorf("warehouse: audit the deactivations of %s: %w", imp.ID, err)
		}
	}
	if err := conn.Exec(ctx, deactivateRecords(db, ds), imp.ID, imp.Version, imp.Tenant, imp.Version, imp.ID); err != nil {
		return d, fmt.Errorf("warehouse: deactivate the records of %s: %w", imp.ID, err)
	}
	d.Deactivated, err = countOf(ctx, conn, fmt.Sprintf("SELECT count() FROM %s.%s FINAL WHERE import_id = ?", db, ImportDeactivations.Name), imp.ID)
	return d, err
}

// currentState selects each record of a tenant (?) as of a version (?), by
// its identity (a client's ID: its email may have changed): its key as of
// then (record_key) and whether it is active.
func currentState(db string, ds *schemas.Dataset) string {
	return fmt.Sprintf(`SELECT argMax(%s, version) AS record_key, argMax(toString(%s), version) != '%s' AS active
		FROM %s.%s WHERE tenant = ? AND version <= ? GROUP BY %s`,
		ds.Fields[ds.KeyIndex()].Column, ds.Deactivate.Field, ds.Deactivate.Value, db, ds.Table, ds.Fields[ds.IdentityIndex()].Column)
}

// deactivateRecords inserts, for an import (?, ? its version) the new
// version of each record of the tenant (?, as of ?) whose key as of then it
// audited as deactivated (?): the latest one, by identity, with
// ds.Deactivate's value.
func deactivateRecords(db string, ds *schemas.Dataset) string {
	key, identity := ds.Fields[ds.KeyIndex()].Column, ds.Fields[ds.IdentityIndex()].Column
	cols := []string{"tenant"}
	for _, f := range ds.Fields {
		switch {
		case f.Column == identity:
			cols = append(cols, identity)
		case f.Column == ds.Deactivate.Field && f.Kind == schemas.Bool:
			cols = append(cols, "toUInt8("+ds.Deactivate.Value+")")
		case f.Column == ds.Deactivate.Field:
			cols = append(cols, "'"+ds.Deactivate.Value+"'")
		default:
			cols = append(cols, fmt.Sprintf("argMax(%s, version)", f.Column))
		}
	}
	// datasetColumns: row_hash, import_id, row, version, loaded_at.
	cols = append(cols, "toUInt64(0)", "?", "toUInt32(0)", "toUInt64(?)", "now()")
	return fmt.Sprintf(`INSERT INTO %[1]s.%[2]s (%[3]s) SELECT %[4]s FROM %[1]s.%[2]s
		WHERE tenant = ? AND version <= ? GROUP BY tenant, %[5]s
		HAVING argMax(%[6]s, version) IN (SELECT record_key FROM %[1]s.%[7]s FINAL WHERE import_id = ?)`,
		db, ds.Table, join(DatasetColumns(ds)), strings.Join(cols, ", "), identity, key, ImportDeactivations.Name)
}

// Deactivated returns the keys of the records the import deactivated, in
// order, at most limit of them.
func Deactivated(ctx context.Context, conn driver.Conn, db, importID string, limit int) ([]string, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT record_key FROM %s.%s FINAL WHERE import_id = ? ORDER BY record_key LIMIT %d",
		db, ImportDeactivations.Name, limit), importID)
	if err != nil {
		return nil, fmt.Errorf("warehouse: deactivated by %s: %w", importID, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("warehouse: deactivated by %s: %w", importID, err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// countOf runs a count() query.
func countOf(ctx context.Context, conn driver.Conn, q string, args ...any) (int, error) {
	var n uint64
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("warehouse: %w", err)
	}
	return int(n), nil
}
