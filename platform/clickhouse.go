package platform

import (
	"context"
	"fmt"
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
		status Enum8('received' = 1, 'processing' = 2, 'completed' = 3, 'completed_with_errors' = 4, 'rejected' = 5),
		reason_code String, reason String,
		format String, delimiter String, encoding String,
		chunks UInt32, rows UInt32, created UInt32, updated UInt32, unchanged UInt32, rejected UInt32,
		received_at DateTime('UTC'), finished_at DateTime('UTC'),
		version UInt64
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
		if err := conn.Exec(ctx, fmt.Sprintf(ddl, db)); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	migrated := map[string]bool{}
	for _, ds := range datasets {
		ds = ds.Target()
		if migrated[ds.Table] {
			continue
		}
		migrated[ds.Table] = true
		cols := []string{"tenant String"}
		for _, f := range ds.Fields {
			cols = append(cols, f.Column+" "+ColumnType(f.Kind))
		}
		cols = append(cols, datasetColumns...)
		key := ds.Fields[ds.KeyIndex()].Column
		ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (%s) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, %s)",
			db, ds.Table, strings.Join(cols, ", "), key)
		if err := conn.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("migrate %s: %w", ds.Table, err)
		}
		if err := addMissingColumns(ctx, conn, db, ds.Table, cols); err != nil {
			return err
		}
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
