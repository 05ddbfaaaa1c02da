package warehouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// datasetColumns are the columns of a dataset's table after its fields:
// where each record came from, and what versions it.
var datasetColumns = []Column{
	{"row_hash", "UInt64"}, {"import_id", "String"}, {"row", "UInt32"}, {"version", "UInt64"}, {"loaded_at", "DateTime('UTC')"},
}

// DatasetColumns returns the column names of a dataset's table, in the order
// inserts list them: the tenant, the fields, then datasetColumns.
func DatasetColumns(ds *schemas.Dataset) []string {
	cols := []string{"tenant"}
	for _, f := range ds.Fields {
		cols = append(cols, f.Column)
	}
	for _, c := range datasetColumns {
		cols = append(cols, c.Name)
	}
	return cols
}

// columnType is the ClickHouse type of a field.
func columnType(k schemas.Kind) string {
	switch k {
	case schemas.Bool:
		return "UInt8"
	case schemas.DateTime:
		return "DateTime('UTC')"
	}
	return "String"
}

// Migrate creates the database and every table, and adds the columns a newer
// release declares (18.16 has no ADD COLUMN IF NOT EXISTS, so
// system.columns is read first); a dataset table whose identity changed
// (clients: ordered by ID, no longer by email) is copied into one ordered by
// the new identity (rekey); when import_rejections gains WrittenAt, its
// existing rows get the time of the upgrade (materialiseWrittenAt). On a
// server with table TTLs, the personal
// data of import_rejections expires after ttl (18.16 has none: Expire
// deletes it). It is safe to run again; it runs as the migration user, the
// one that may run DDL.
func Migrate(ctx context.Context, conn driver.Conn, db string, datasets map[string]*schemas.Dataset, ttl time.Duration) error {
	return MigrateCluster(ctx, conn, db, "", datasets, ttl)
}

// MigrateCluster is Migrate on the ClickHouse cluster named cluster: every
// table sharded and replicated over its nodes (see layout), made ON
// CLUSTER, which needs every node up. With cluster "" it is Migrate.
func MigrateCluster(ctx context.Context, conn driver.Conn, db, cluster string, datasets map[string]*schemas.Dataset, ttl time.Duration) error {
	l := layout{db: db, cluster: cluster}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db+l.onCluster()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, t := range AuditTables {
		if err := create(ctx, conn, l, t); err != nil {
			return err
		}
		added, err := addMissingColumns(ctx, conn, l, t, t.all())
		if err != nil {
			return err
		}
		if t.Name == ImportRejections.Name && slices.Contains(added, WrittenAt) {
			if err := materialiseWrittenAt(ctx, conn, l); err != nil {
				return err
			}
		}
	}
	if err := ensureType(ctx, conn, l, Imports, "status", statusType()); err != nil {
		return err
	}
	if err := ensureType(ctx, conn, l, ImportRows, "outcome", OutcomeType()); err != nil {
		return err
	}
	if err := setTTL(ctx, conn, l, ttl); err != nil {
		return err
	}
	for _, ds := range writtenTables(datasets) {
		cols := []Column{{"tenant", "String"}}
		for _, f := range ds.Fields {
			cols = append(cols, Column{f.Column, columnType(f.Kind)})
		}
		cols = append(cols, datasetColumns...)
		key := ds.Fields[ds.IdentityIndex()].Column
		for _, t := range []Table{
			{Name: ds.Table, Columns: cols, OrderBy: "(tenant, " + key + ")"},
			{Name: StagedTable(ds.Table), Columns: cols, OrderBy: "(import_id, " + key + ")"},
		} {
			if err := rekey(ctx, conn, l, t); err != nil {
				return err
			}
			if err := create(ctx, conn, l, t); err != nil {
				return err
			}
			if _, err := addMissingColumns(ctx, conn, l, t, t.Columns); err != nil {
				return err
			}
		}
	}
	return nil
}

// create creates t where l says, if it does not exist.
func create(ctx context.Context, conn driver.Conn, l layout, t Table) error {
	for _, q := range l.create(t) {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("migrate %s: %w", t.Name, err)
		}
	}
	return nil
}

// rekey gives an existing table the sorting key t declares, when a release
// changes a dataset's identity (clients: the ID, no longer the email). A
// MergeTree's sorting key cannot change in place, and 18.16 has no EXCHANGE
// TABLES, so the rows are copied into <table>_rekey, made with the new key,
// which then takes the table's name: RENAME <table> TO <table>_old,
// <table>_rekey TO <table>; then <table>_old is dropped. Run again after a
// crash, it finishes what was left: a copy half made is dropped and made
// again (the table still has its old key), a rename half done is completed
// (the copy was whole before it began), an old table left is dropped.
// ReplacingMergeTree collapses the copied rows by the new key, keeping each
// record's latest version. The stages must not write meanwhile: migrate
// runs before them (sluice migrate, sluice up). On a cluster there is
// nothing to copy when the table is new or has the key already; one with
// another key is refused (see layout).
func rekey(ctx context.Context, conn driver.Conn, l layout, t Table) error {
	db := l.db
	copied, old := t.Name+"_rekey", t.Name+"_old"
	fail := func(err error) error { return fmt.Errorf("migrate %s: new sorting key %s: %w", t.Name, t.OrderBy, err) }
	if l.cluster != "" {
		switch have, exists, err := sortingKey(ctx, conn, db, l.stored(t.Name)); {
		case err != nil:
			return fail(err)
		case exists && !sameKey(have, t.OrderBy):
			return fail(fmt.Errorf("%s is sorted by (%s): a rekey is not done on cluster %s; copy the table into one with the new key by hand", l.stored(t.Name), have, l.cluster))
		}
		return nil
	}
	have, exists, err := sortingKey(ctx, conn, db, t.Name)
	if err != nil {
		return fail(err)
	}
	switch _, half, err := sortingKey(ctx, conn, db, copied); {
	case err != nil:
		return fail(err)
	case !exists && !half:
		return nil // a new database: Migrate creates the table
	case !exists:
		if err := conn.Exec(ctx, fmt.Sprintf("RENAME TABLE %[1]s.%[2]s TO %[1]s.%[3]s", db, copied, t.Name)); err != nil {
			return fail(err)
		}
	case !sameKey(have, t.OrderBy):
		if err := dropTable(ctx, conn, db, copied); err != nil {
			return fail(err)
		}
		if err := conn.Exec(ctx, Table{Name: copied, Columns: t.Columns, OrderBy: t.OrderBy}.create(db)); err != nil {
			return fail(err)
		}
		cols, err := columnNames(ctx, conn, db, t.Name)
		if err != nil {
			return fail(err)
		}
		var both []string
		for _, c := range t.Columns {
			if slices.Contains(cols, c.Name) {
				both = append(both, c.Name)
			}
		}
		q := fmt.Sprintf("INSERT INTO %[1]s.%[2]s (%[4]s) SELECT %[4]s FROM %[1]s.%[3]s", db, copied, t.Name, join(both))
		if err := conn.Exec(ctx, q); err != nil {
			return fail(err)
		}
		q = fmt.Sprintf("RENAME TABLE %[1]s.%[2]s TO %[1]s.%[3]s, %[1]s.%[4]s TO %[1]s.%[2]s", db, t.Name, old, copied)
		if err := conn.Exec(ctx, q); err != nil {
			return fail(err)
		}
	}
	if err := dropTable(ctx, conn, db, old); err != nil {
		return fail(err)
	}
	return nil
}

// sortingKey returns a table's sorting key ("tenant, email"), if the table
// exists.
func sortingKey(ctx context.Context, conn driver.Conn, db, table string) (key string, exists bool, err error) {
	rows, err := conn.Query(ctx, "SELECT sorting_key FROM system.tables WHERE database = ? AND name = ?", db, table)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	for rows.Next() {
		exists = true
		if err := rows.Scan(&key); err != nil {
			return "", false, err
		}
	}
	return key, exists, rows.Err()
}

// sameKey reports whether a sorting key as system.tables says it
// ("tenant, id") is an ORDER BY expression ("(tenant, id)").
func sameKey(have, orderBy string) bool {
	strip := strings.NewReplacer("(", "", ")", "", " ", "")
	return strip.Replace(have) == strip.Replace(orderBy)
}

func dropTable(ctx context.Context, conn driver.Conn, db, table string) error {
	return conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", db, table))
}

// ensureType changes a column's type to want if it has another (an enum
// that gained values).
func ensureType(ctx context.Context, conn driver.Conn, l layout, t Table, column, want string) error {
	var have string
	if err := conn.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = ?", l.db, l.stored(t.Name), column).Scan(&have); err != nil {
		return fmt.Errorf("migrate %s.%s: %w", t.Name, column, err)
	}
	if have == want {
		return nil
	}
	if err := l.alterColumns(ctx, conn, t, fmt.Sprintf("MODIFY COLUMN %s %s", column, want)); err != nil {
		return fmt.Errorf("migrate %s.%s: %w", t.Name, column, err)
	}
	return nil
}

// addMissingColumns adds the columns of cols that table lacks, and returns
// their names.
func addMissingColumns(ctx context.Context, conn driver.Conn, l layout, t Table, cols []Column) ([]string, error) {
	table := t.Name
	have, err := columnNames(ctx, conn, l.db, l.stored(table))
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", table, err)
	}
	var added []string
	for _, col := range cols {
		if slices.Contains(have, col.Name) {
			continue
		}
		if err := l.alterColumns(ctx, conn, t, fmt.Sprintf("ADD COLUMN %s %s", col.Name, col.Type)); err != nil {
			return added, fmt.Errorf("migrate %s: add %s: %w", table, col.Name, err)
		}
		added = append(added, col.Name)
	}
	return added, nil
}

// columnNames returns the names of a table's columns.
func columnNames(ctx context.Context, conn driver.Conn, db, table string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

// materialiseWrittenAt stores a time in WrittenAt for the rows that
// import_rejections held before the column was added. ADD COLUMN stores
// nothing in the existing parts: reading them evaluates the DEFAULT, now(),
// so those rows would look just written for ever and never expire (with
// Expire or a table TTL). The update writes the time of the upgrade (a
// constant, the same for every part), so they expire a TTL after it. It is
// a mutation (ClickHouse rewrites the parts in the background); rows
// written meanwhile store their own time already.
func materialiseWrittenAt(ctx context.Context, conn driver.Conn, l layout) error {
	var n uint64
	var now uint32
	q := fmt.Sprintf("SELECT count(), toUInt32(now()) FROM %s.%s", l.db, ImportRejections.Name)
	if err := conn.QueryRow(ctx, q).Scan(&n, &now); err != nil {
		return fmt.Errorf("migrate %s: %s: %w", ImportRejections.Name, WrittenAt, err)
	}
	if n == 0 {
		return nil
	}
	if err := l.alterStored(ctx, conn, ImportRejections.Name, fmt.Sprintf("UPDATE %s = toDateTime(%d) WHERE 1", WrittenAt, now)); err != nil {
		return fmt.Errorf("migrate %s: %s: %w", ImportRejections.Name, WrittenAt, err)
	}
	return nil
}

// join lists names for a statement.
func join(names []string) string { return strings.Join(names, ", ") }
