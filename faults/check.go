package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/bench/harness"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// warehouseView reads a trial's import from ClickHouse: the trial's tenant
// has that one import, so its records are the import's.
type warehouseView struct {
	ch     *parts.ClickHouse
	tenant string
	ds     *schemas.Dataset
}

// queryTimeout bounds each query: ClickHouse may be down or frozen.
const queryTimeout = 5 * time.Second

// statuses reads the status of each of the tenant's imports.
func (v *warehouseView) statuses(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := v.ch.Conn.Query(ctx, fmt.Sprintf("SELECT toString(status) FROM %s.%s FINAL WHERE tenant = ? ORDER BY import_id",
		v.ch.Config.Database, warehouse.Imports.Name), v.tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// awaitFinal waits until the tenant has an import and every one of them has
// ended, and says whether that happened before ctx ended.
func (v *warehouseView) awaitFinal(ctx context.Context) bool {
	for {
		st, err := v.statuses(ctx)
		if err == nil && len(st) > 0 {
			ended := true
			for _, s := range st {
				ended = ended && schemas.FinalStatus(s)
			}
			if ended {
				return true
			}
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return false
		}
	}
}

// audit is what ClickHouse holds for the tenant's imports, read with
// FINAL.
type audit struct {
	imports int
	status  string
	// audits is import_rows' count, auditedRows its distinct rows;
	// conflicting counts rows audited with two outcomes (versions not yet
	// merged away included).
	audits, auditedRows, conflicting int
	rejected, accepted               int
	// loaded is the dataset table's records, keys its distinct keys.
	loaded, keys int
}

// audit reads the audit, retrying for a minute: ClickHouse may have just
// come back.
func (v *warehouseView) audit(ctx context.Context) (audit, error) {
	var a audit
	var err error
	for range 12 {
		if a, err = v.readAudit(ctx); err == nil {
			return a, nil
		}
		time.Sleep(5 * time.Second)
	}
	return a, err
}

func (v *warehouseView) readAudit(ctx context.Context) (audit, error) {
	var a audit
	st, err := v.statuses(ctx)
	if err != nil {
		return a, err
	}
	a.imports, a.status = len(st), strings.Join(st, ",")
	if a.status == "" {
		a.status = "none"
	}
	ctx, cancel := context.WithTimeout(ctx, 4*queryTimeout)
	defer cancel()
	db := v.ch.Config.Database
	imports := fmt.Sprintf("import_id IN (SELECT import_id FROM %s.%s WHERE tenant = ?)", db, warehouse.Imports.Name)
	var audits, rows, rejected, accepted, conflicting, loaded, keys uint64
	if err := v.ch.Conn.QueryRow(ctx, fmt.Sprintf(
		"SELECT count(), uniqExact(row), countIf(outcome = 'rejected'), countIf(outcome != 'rejected') FROM %s.%s FINAL WHERE %s",
		db, warehouse.ImportRows.Name, imports), v.tenant).Scan(&audits, &rows, &rejected, &accepted); err != nil {
		return a, fmt.Errorf("import_rows: %w", err)
	}
	if err := v.ch.Conn.QueryRow(ctx, fmt.Sprintf(
		"SELECT count() FROM (SELECT row FROM %s.%s WHERE %s GROUP BY row HAVING uniqExact(toString(outcome)) > 1)",
		db, warehouse.ImportRows.Name, imports), v.tenant).Scan(&conflicting); err != nil {
		return a, fmt.Errorf("import_rows outcomes: %w", err)
	}
	key := v.ds.Fields[v.ds.IdentityIndex()].Column
	if err := v.ch.Conn.QueryRow(ctx, fmt.Sprintf("SELECT count(), uniqExact(%s) FROM %s.%s FINAL WHERE tenant = ?", key, db, v.ds.Table),
		v.tenant).Scan(&loaded, &keys); err != nil {
		return a, fmt.Errorf("%s: %w", v.ds.Table, err)
	}
	a.audits, a.auditedRows, a.rejected, a.accepted, a.conflicting = int(audits), int(rows), int(rejected), int(accepted), int(conflicting)
	a.loaded, a.keys = int(loaded), int(keys)
	return a, nil
}

// countEmails counts the messages Mailpit holds for to.
func countEmails(m *parts.Mailpit, to string) (int, error) {
	c := http.Client{Timeout: queryTimeout}
	resp, err := c.Get(m.API + "/api/v1/search?limit=500&query=" + url.QueryEscape("to:"+to))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("mailpit search: %s", resp.Status)
	}
	var list struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return 0, err
	}
	return len(list.Messages), nil
}

// mailSettle is how long the count of emails must stay put after the first
// came: a second summary would come within it.
const mailSettle = 10 * time.Second

// awaitEmails waits until Mailpit holds a message for to, or ctx ends, and
// then counts them after mailSettle; it returns the count and when, after
// start, the first was seen.
func awaitEmails(ctx context.Context, m *parts.Mailpit, to string, start time.Time) (int, time.Duration) {
	var first time.Duration
	for {
		if n, err := countEmails(m, to); err == nil && n > 0 {
			first = time.Since(start)
			break
		}
		if !sleep(ctx, time.Second) {
			break
		}
	}
	time.Sleep(mailSettle)
	var n int
	_ = parts.WaitFor(context.Background(), time.Minute, func() (bool, error) {
		var err error
		n, err = countEmails(m, to)
		return err == nil, nil
	})
	return n, first
}

// poisoned lists the messages on the poison subjects of the trial's
// NATS, by stage, or "" when there are none.
func poisoned(p *harness.Pipeline) string {
	js, err := p.NC.JetStream()
	if err != nil {
		return err.Error()
	}
	subject := schemas.PoisonSubject(">")
	name, err := js.StreamNameBySubject(subject)
	if err != nil {
		return "cannot read the DLQ: " + err.Error()
	}
	info, err := js.StreamInfo(name, &nats.StreamInfoRequest{SubjectsFilter: subject})
	if err != nil {
		return "cannot read the DLQ: " + err.Error()
	}
	var out []string
	for subj, n := range info.State.Subjects {
		out = append(out, fmt.Sprintf("%s %d", subj[strings.LastIndexByte(subj, '.')+1:], n))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
