package platform

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// OpenClickHouse connects over the native protocol (the HTTP one fails on
// 18.16) and checks the connection. The database must exist: sluice's users
// may touch no other (deploy/clickhouse/users.d), so it is created by whoever
// deploys ClickHouse (StartClickHouse here, CLICKHOUSE_DB in compose).
func OpenClickHouse(ctx context.Context, cfg ClickHouseConfig) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		Auth: clickhouse.Auth{Database: cfg.Database, Username: cfg.User, Password: cfg.Password},
		// Large inserts: one block per batch.
		MaxOpenConns:    8,
		DialTimeout:     5 * time.Second,
		ReadTimeout:     5 * time.Minute,
		ConnMaxLifetime: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: ping %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// Tables sluice owns besides the datasets' own. Every table is a
// ReplacingMergeTree(version): a redelivered chunk writes the same rows with
// the same version, and readers use FINAL.
var auditTables = []string{
	`CREATE TABLE IF NOT EXISTS %[1]s.imports (
		import_id String, tenant String, dataset String, bucket String, key String,
		file_name String, object_version String, uploader String,
		status %[2]s,
		reason_code String, reason String,
		format String, delimiter String, encoding String,
		chunks UInt32, rows UInt32, created UInt32, updated UInt32, unchanged UInt32, rejected UInt32,
		received_at DateTime('UTC'), finished_at DateTime('UTC'),
		version UInt64, %[3]s
	) ENGINE = ReplacingMergeTree(version) ORDER BY import_id`,
	// Every row's outcome: narrow, as it has a row per row of every file.
	`CREATE TABLE IF NOT EXISTS %[1]s.import_rows (
		import_id String, row UInt32, chunk UInt32,
		outcome Enum8('created' = 1, 'updated' = 2, 'unchanged' = 3, 'rejected' = 4),
		version UInt64
	) ENGINE = ReplacingMergeTree(version) ORDER BY (import_id, row)`,
	// Why each rejected row was rejected: the violations as parallel arrays
	// (18.16 turns Array(Tuple(...)) into separate arrays anyway).
	`CREATE TABLE IF NOT EXISTS %[1]s.import_rejections (
		import_id String, row UInt32, tenant String, dataset String,
		columns Array(String), codes Array(String), messages Array(String), values Array(String),
		version UInt64
	) ENGINE = ReplacingMergeTree(version) ORDER BY (import_id, row)`,
	`CREATE TABLE IF NOT EXISTS %[1]s.import_chunks (
		import_id String, chunk UInt32, first_row UInt32, rows UInt32,
		created UInt32, updated UInt32, unchanged UInt32, rejected UInt32,
		loaded_at DateTime('UTC'), version UInt64
	) ENGINE = ReplacingMergeTree(version) ORDER BY (import_id, chunk)`,
}

// importOptions are the columns of the imports table added after its first
// release: what notify needs to end an import that it reads back: its
// options, and its version (schemas.Import.Version; the version column is
// the status's rank).
var importOptions = []string{"on_error String DEFAULT 'continue'", "invite UInt8 DEFAULT 0", "import_version UInt64 DEFAULT 0"}

// DatasetColumns are the columns of a dataset's table after its fields:
// where each record came from, and what versions it.
var datasetColumns = []string{
	"row_hash UInt64", "import_id String", "row UInt32", "version UInt64", "loaded_at DateTime('UTC')",
}

// ColumnType is the ClickHouse type of a field.
func ColumnType(k schemas.Kind) string {
	switch k {
	case schemas.Bool:
		return "UInt8"
	case schemas.DateTime:
		return "DateTime('UTC')"
	}
	return "String"
}

// Migrate creates the database and every table, and adds the columns a newer
// dataset version declares (18.16 has no ADD COLUMN IF NOT EXISTS, so
// system.columns is read first). It is safe to run at every start.
func Migrate(ctx context.Context, conn driver.Conn, db string, datasets map[string]*schemas.Dataset) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, ddl := range auditTables {
		if err := conn.Exec(ctx, fmt.Sprintf(ddl, db, statusType(), strings.Join(importOptions, ", "))); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := addMissingColumns(ctx, conn, db, "imports", importOptions); err != nil {
		return err
	}
	if err := ensureType(ctx, conn, db, "imports", "status", statusType()); err != nil {
		return err
	}
	var tables []*schemas.Dataset
	for _, d := range datasets {
		for _, t := range d.Writes() {
			if !slices.Contains(tables, t) {
				tables = append(tables, t)
			}
		}
	}
	for _, ds := range tables {
		cols := []string{"tenant String"}
		for _, f := range ds.Fields {
			cols = append(cols, f.Column+" "+ColumnType(f.Kind))
		}
		cols = append(cols, datasetColumns...)
		key := ds.Fields[ds.KeyIndex()].Column
		for table, order := range map[string]string{ds.Table: "tenant, " + key, StagedTable(ds.Table): "import_id, " + key} {
			ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (%s) ENGINE = ReplacingMergeTree(version) ORDER BY (%s)",
				db, table, strings.Join(cols, ", "), order)
			if err := conn.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("migrate %s: %w", table, err)
			}
			if err := addMissingColumns(ctx, conn, db, table, cols); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusType is the type of imports.status: an enum of schemas.Statuses, in
// their order (a new status is added at the end).
func statusType() string {
	values := make([]string, len(schemas.Statuses))
	for i, s := range schemas.Statuses {
		values[i] = fmt.Sprintf("'%s' = %d", s, i+1)
	}
	return "Enum8(" + strings.Join(values, ", ") + ")"
}

// ensureType changes a column's type to want if it has another (an enum
// that gained values).
func ensureType(ctx context.Context, conn driver.Conn, db, table, column, want string) error {
	var have string
	if err := conn.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = ?", db, table, column).Scan(&have); err != nil {
		return fmt.Errorf("migrate %s.%s: %w", table, column, err)
	}
	if have == want {
		return nil
	}
	if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s MODIFY COLUMN %s %s", db, table, column, want)); err != nil {
		return fmt.Errorf("migrate %s.%s: %w", table, column, err)
	}
	return nil
}

// StagedTable is where the records of an import that aborts on error wait
// (load writes them there) until every row of it is known good; then
// CommitStaged copies them into table.
func StagedTable(table string) string { return table + "_staged" }

// DropStaged deletes an import's staged records (a mutation: ClickHouse
// rewrites the parts that hold them, in the background).
func DropStaged(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, importID string) error {
	if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DELETE WHERE import_id = ?", db, StagedTable(ds.Table)), importID); err != nil {
		return fmt.Errorf("drop staged %s of %s: %w", ds.Table, importID, err)
	}
	return nil
}

// CommitStaged copies an import's staged records into the dataset's table.
// Copying twice is harmless: the copies have the same version.
func CommitStaged(ctx context.Context, conn driver.Conn, db string, ds *schemas.Dataset, importID string) error {
	cols := []string{"tenant"}
	for _, f := range ds.Fields {
		cols = append(cols, f.Column)
	}
	for _, c := range datasetColumns {
		cols = append(cols, strings.Fields(c)[0])
	}
	list := strings.Join(cols, ", ")
	q := fmt.Sprintf("INSERT INTO %[1]s.%[2]s (%[3]s) SELECT %[3]s FROM %[1]s.%[4]s FINAL WHERE import_id = ?", db, ds.Table, list, StagedTable(ds.Table))
	if err := conn.Exec(ctx, q, importID); err != nil {
		return fmt.Errorf("commit %s of %s: %w", ds.Table, importID, err)
	}
	return nil
}

func addMissingColumns(ctx context.Context, conn driver.Conn, db, table string, cols []string) error {
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", table, err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("migrate %s: %w", table, err)
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate %s: %w", table, err)
	}
	for _, col := range cols {
		name := strings.Fields(col)[0]
		if have[name] {
			continue
		}
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s", db, table, col)); err != nil {
			return fmt.Errorf("migrate %s: add %s: %w", table, name, err)
		}
	}
	return nil
}
