package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// What a run's import left, as the fault suite and the cluster test check
// it: every row loaded or rejected exactly once, one summary email, nothing
// on a poison subject.

// Warehouse reads a run's import from ClickHouse (one server, or a
// cluster's Distributed tables): the run's tenant has that one import, so
// its records are the import's.
type Warehouse struct {
	Conn     driver.Conn
	Database string
	Tenant   string
	DS       *schemas.Dataset
}

// queryTimeout bounds each query: ClickHouse may be down or frozen.
const queryTimeout = 5 * time.Second

// Statuses reads the status of each of the tenant's imports.
func (v *Warehouse) Statuses(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := v.Conn.Query(ctx, fmt.Sprintf("SELECT toString(status) FROM %s.%s FINAL WHERE tenant = ? ORDER BY import_id",
		v.Database, warehouse.Imports.Name), v.Tenant)
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

// AwaitFinal waits until the tenant has an import and every one of them has
// ended, and says whether that happened before ctx ended.
func (v *Warehouse) AwaitFinal(ctx context.Context) bool {
	for {
		st, err := v.Statuses(ctx)
		if err == nil && len(st) > 0 {
			ended := true
			for _, s := range st {
				ended = ended && schemas.FinalStatus(s)
			}
			if ended {
				return true
			}
		}
		if !Sleep(ctx, 500*time.Millisecond) {
			return false
		}
	}
}

// Audit is what ClickHouse holds for the tenant's imports, read with
// FINAL.
type Audit struct {
	Imports int
	Status  string
	// Audits is import_rows' count, AuditedRows its distinct rows;
	// Conflicting counts rows audited with two outcomes (versions not yet
	// merged away included).
	Audits, AuditedRows, Conflicting int
	Rejected, Accepted               int
	// Loaded is the dataset table's records, Keys its distinct keys.
	Loaded, Keys int
}

// Lost is how many of a file's rows (good of them good) have no outcome,
// or were not loaded though good.
func (a Audit) Lost(rows, good int) int { return max(rows-a.AuditedRows, good-a.Loaded, 0) }

// Duplicated is how many rows have more than one outcome or record.
func (a Audit) Duplicated() int { return a.Audits - a.AuditedRows + a.Conflicting + a.Loaded - a.Keys }

// Problems lists every broken promise of the audit of a file of rows rows,
// bad of them bad: a row lost or duplicated, other than one import, other
// outcomes than the file's, a status other than completed with errors.
func (a Audit) Problems(rows, bad int) []string {
	var out []string
	problem := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	good := rows - bad
	if lost := a.Lost(rows, good); lost > 0 {
		problem("%d rows lost (%d without an outcome, %d of %d good rows loaded)", lost, rows-a.AuditedRows, a.Loaded, good)
	}
	if dup := a.Duplicated(); dup > 0 {
		problem("%d duplicated (%d audits for %d rows, %d rows with two outcomes, %d records for %d keys)",
			dup, a.Audits, a.AuditedRows, a.Conflicting, a.Loaded, a.Keys)
	}
	if a.Imports != 1 {
		problem("%d imports for one upload", a.Imports)
	}
	if a.Rejected != bad || a.Accepted != good {
		problem("outcomes: %d rejected and %d loaded, want %d and %d", a.Rejected, a.Accepted, bad, good)
	}
	if a.Status != schemas.StatusCompletedWithErrors {
		problem("status %s, want %s", a.Status, schemas.StatusCompletedWithErrors)
	}
	return out
}

// Audit reads the audit, retrying for a minute: ClickHouse may have just
// come back.
func (v *Warehouse) Audit(ctx context.Context) (Audit, error) {
	var a Audit
	var err error
	for range 12 {
		if a, err = v.readAudit(ctx); err == nil {
			return a, nil
		}
		time.Sleep(5 * time.Second)
	}
	return a, err
}

func (v *Warehouse) readAudit(ctx context.Context) (Audit, error) {
	var a Audit
	st, err := v.Statuses(ctx)
	if err != nil {
		return a, err
	}
	a.Imports, a.Status = len(st), strings.Join(st, ",")
	if a.Status == "" {
		a.Status = "none"
	}
	ctx, cancel := context.WithTimeout(ctx, 4*queryTimeout)
	defer cancel()
	db := v.Database
	imports := fmt.Sprintf("import_id IN (SELECT import_id FROM %s.%s WHERE tenant = ?)", db, warehouse.Imports.Name)
	var audits, rows, rejected, accepted, conflicting, loaded, keys uint64
	if err := v.Conn.QueryRow(ctx, fmt.Sprintf(
		"SELECT count(), uniqExact(row), countIf(outcome = 'rejected'), countIf(outcome != 'rejected') FROM %s.%s FINAL WHERE %s",
		db, warehouse.ImportRows.Name, imports), v.Tenant).Scan(&audits, &rows, &rejected, &accepted); err != nil {
		return a, fmt.Errorf("import_rows: %w", err)
	}
	if err := v.Conn.QueryRow(ctx, fmt.Sprintf(
		"SELECT count() FROM (SELECT row FROM %s.%s WHERE %s GROUP BY row HAVING uniqExact(toString(outcome)) > 1)",
		db, warehouse.ImportRows.Name, imports), v.Tenant).Scan(&conflicting); err != nil {
		return a, fmt.Errorf("import_rows outcomes: %w", err)
	}
	key := v.DS.Fields[v.DS.IdentityIndex()].Column
	if err := v.Conn.QueryRow(ctx, fmt.Sprintf("SELECT count(), uniqExact(%s) FROM %s.%s FINAL WHERE tenant = ?", key, db, v.DS.Table),
		v.Tenant).Scan(&loaded, &keys); err != nil {
		return a, fmt.Errorf("%s: %w", v.DS.Table, err)
	}
	a.Audits, a.AuditedRows, a.Rejected, a.Accepted, a.Conflicting = int(audits), int(rows), int(rejected), int(accepted), int(conflicting)
	a.Loaded, a.Keys = int(loaded), int(keys)
	return a, nil
}

// CountEmails counts the messages Mailpit holds for to.
func CountEmails(m *parts.Mailpit, to string) (int, error) {
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

// MailSettle is how long the count of emails must stay put after the first
// came: a second summary would come within it.
const MailSettle = 10 * time.Second

// AwaitEmails waits until Mailpit holds a message for to, or ctx ends, and
// then counts them after MailSettle; it returns the count and when, after
// start, the first was seen.
func AwaitEmails(ctx context.Context, m *parts.Mailpit, to string, start time.Time) (int, time.Duration) {
	var first time.Duration
	for {
		if n, err := CountEmails(m, to); err == nil && n > 0 {
			first = time.Since(start)
			break
		}
		if !Sleep(ctx, time.Second) {
			break
		}
	}
	time.Sleep(MailSettle)
	var n int
	_ = parts.WaitFor(context.Background(), time.Minute, func() (bool, error) {
		var err error
		n, err = CountEmails(m, to)
		return err == nil, nil
	})
	return n, first
}

// Poisoned lists the messages on the poison subjects of the run's NATS, by
// stage, or "" when there are none.
func Poisoned(p *Pipeline) string {
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

// Sleep waits for d or until ctx ends, and says whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
