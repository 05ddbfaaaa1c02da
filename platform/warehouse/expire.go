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

// WrittenAt is the column, filled by the server (DEFAULT now()), that says
// when a row of import_rejections was written: its personal data (the
// rejected values) expires a TTL after it.
const WrittenAt = "written_at"

// Expire deletes the personal data sluice keeps for partners to fix their
// files once it is older than ttl: the rows of import_rejections and
// import_deactivations written before now-ttl, the keys of syncs
// (import_keys) once they have ended, and the staged records (StagedTable)
// of imports that have ended (committed or abandoned; a failed import keeps
// them for its replay, one that requires intervention for `sluice
// continue`) or that were loaded before now-ttl: a held import that nobody
// continues keeps no personal data past the TTL.
//
// A delete is a mutation (ALTER ... DELETE): 18.16 counts it as DDL, so
// Expire runs as the migration user, never as a stage's. ClickHouse applies
// a mutation in the background; a table with nothing to delete is not
// touched. On a server with table TTLs, Migrate also sets one on
// import_rejections, so that the rows expire even where Expire never runs.
//
// The cut-off is a constant (the time Expire runs, less ttl), never now():
// on a cluster each replica applies the mutation itself, at its own time,
// and must delete the same rows.
func Expire(ctx context.Context, conn driver.Conn, db string, datasets map[string]*schemas.Dataset, ttl time.Duration) error {
	return ExpireCluster(ctx, conn, db, "", datasets, ttl)
}

// ExpireCluster is Expire on the ClickHouse cluster named cluster: the
// deletes are mutations of the local tables, ON CLUSTER (see layout), which
// wait for every node. With cluster "" it is Expire.
func ExpireCluster(ctx context.Context, conn driver.Conn, db, cluster string, datasets map[string]*schemas.Dataset, ttl time.Duration) error {
	l := layout{db: db, cluster: cluster}
	before := fmt.Sprintf("toDateTime(%d)", time.Now().Add(-ttl).Unix())
	for _, t := range []string{ImportRejections.Name, ImportDeactivations.Name} {
		if err := deleteWhere(ctx, conn, l, t, fmt.Sprintf("%s < %s", WrittenAt, before)); err != nil {
			return err
		}
	}
	endedImports := fmt.Sprintf("import_id IN (SELECT import_id FROM %s.%s FINAL WHERE status IN (%s))", db, Imports.Name, quoted(endedStatuses()))
	if err := deleteWhere(ctx, conn, l, ImportKeys.Name, fmt.Sprintf("%s OR %s < %s", endedImports, WrittenAt, before)); err != nil {
		return err
	}
	ended := fmt.Sprintf("%s OR loaded_at < %s", endedImports, before)
	for _, ds := range writtenTables(datasets) {
		if err := deleteWhere(ctx, conn, l, StagedTable(ds.Table), ended); err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere deletes table's rows that match cond, if there are any.
func deleteWhere(ctx context.Context, conn driver.Conn, l layout, table, cond string) error {
	var n uint64
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s WHERE %s", l.db, table, cond)).Scan(&n); err != nil {
		return fmt.Errorf("warehouse: expire %s: %w", table, err)
	}
	if n == 0 {
		return nil
	}
	if err := l.alterStored(ctx, conn, table, "DELETE WHERE "+cond); err != nil {
		return fmt.Errorf("warehouse: expire %s: %w", table, err)
	}
	return nil
}

// endedStatuses are the statuses of imports whose staged records are no
// longer needed: every final status but those that may still load them
// (schemas.HoldsStaged).
func endedStatuses() []string {
	var out []string
	for _, s := range schemas.Statuses {
		if schemas.FinalStatus(s) && !schemas.HoldsStaged(s) {
			out = append(out, s)
		}
	}
	return out
}

// quoted lists values as SQL string literals (they are sluice's own
// constants, never input).
func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}

// writtenTables are the dataset tables the datasets write, each once.
func writtenTables(datasets map[string]*schemas.Dataset) []*schemas.Dataset {
	var tables []*schemas.Dataset
	for _, d := range datasets {
		for _, t := range d.Writes() {
			if !slices.Contains(tables, t) {
				tables = append(tables, t)
			}
		}
	}
	return tables
}

// hasTTL reports whether the server has table TTLs (19.6 and later).
func hasTTL(ctx context.Context, conn driver.Conn) (bool, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: version: %w", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false, fmt.Errorf("migrate: version %q: %w", v, err)
	}
	return major > 19 || major == 19 && minor >= 6, nil
}

// setTTL makes import_rejections' rows expire ttl after WrittenAt, on a
// server that has table TTLs. MODIFY TTL starts a mutation (the server
// recomputes the TTL of every part), so it runs only when the table's TTL,
// as system.tables shows it, is another one.
func setTTL(ctx context.Context, conn driver.Conn, l layout, ttl time.Duration) error {
	ok, err := hasTTL(ctx, conn)
	if err != nil || !ok {
		return err
	}
	secs := int64(ttl.Seconds())
	var engine string
	if err := conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", l.db, l.stored(ImportRejections.Name)).Scan(&engine); err != nil {
		return fmt.Errorf("migrate %s: ttl: %w", ImportRejections.Name, err)
	}
	if sameTTL(tableTTL(engine), secs) {
		return nil
	}
	if err := l.alterStored(ctx, conn, ImportRejections.Name, fmt.Sprintf("MODIFY TTL %s + INTERVAL %d SECOND", WrittenAt, secs)); err != nil {
		return fmt.Errorf("migrate %s: ttl: %w", ImportRejections.Name, err)
	}
	return nil
}

// tableTTL is the TTL clause of a table's engine_full ("... ORDER BY x TTL
// <clause> SETTINGS ..."), or "" if it has none.
func tableTTL(engineFull string) string {
	_, clause, ok := strings.Cut(engineFull, " TTL ")
	if !ok {
		return ""
	}
	clause, _, _ = strings.Cut(clause, " SETTINGS ")
	return strings.TrimSpace(clause)
}

// sameTTL reports whether clause deletes a row secs seconds after WrittenAt:
// the server stores "INTERVAL n SECOND" as toIntervalSecond(n); DELETE is
// the default action. A clause in any other form is taken as another TTL
// (setting it again is harmless, only slower).
func sameTTL(clause string, secs int64) bool {
	norm := strings.ToLower(strings.Join(strings.Fields(clause), ""))
	norm = strings.TrimSuffix(norm, "delete")
	for _, want := range []string{
		fmt.Sprintf("%s+tointervalsecond(%d)", WrittenAt, secs),
		fmt.Sprintf("%s+interval%dsecond", WrittenAt, secs),
	} {
		if norm == want {
			return true
		}
	}
	return false
}
