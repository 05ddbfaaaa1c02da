package notify

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// ClickHouse is the Store on ClickHouse.
type ClickHouse struct {
	Conn     driver.Conn
	Database string
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// CommitStaged implements Store.
func (c *ClickHouse) CommitStaged(ctx context.Context, ds *schemas.Dataset, importID string) error {
	if err := warehouse.CommitStaged(ctx, c.Conn, c.Database, ds, importID); err != nil {
		return platform.Errorf(platform.PartClickHouse, "notify: %w", err)
	}
	return nil
}

// Staged implements Store.
func (c *ClickHouse) Staged(ctx context.Context, ds *schemas.Dataset, importID string) (int, error) {
	n, err := warehouse.StagedRecords(ctx, c.Conn, c.Database, ds, importID)
	if err != nil {
		return 0, platform.Errorf(platform.PartClickHouse, "notify: %w", err)
	}
	return n, nil
}

// Changed implements Store.
func (c *ClickHouse) Changed(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import) (int, error) {
	n, err := warehouse.StagedChanged(ctx, c.Conn, c.Database, ds, imp)
	if err != nil {
		return 0, platform.Errorf(platform.PartClickHouse, "notify: %w", err)
	}
	return n, nil
}

// Deactivate implements Store.
func (c *ClickHouse) Deactivate(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, allow func(would, active int) bool) (warehouse.Deactivation, error) {
	d, err := warehouse.Deactivate(ctx, c.Conn, c.Database, ds, imp, allow)
	if err != nil {
		return d, platform.Errorf(platform.PartClickHouse, "notify: %w", err)
	}
	return d, nil
}

// Deactivated implements Store.
func (c *ClickHouse) Deactivated(ctx context.Context, id string, limit int) ([]string, error) {
	keys, err := warehouse.Deactivated(ctx, c.Conn, c.Database, id, limit)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "notify: %w", err)
	}
	return keys, nil
}

// Created implements Store: the users whose latest record the import wrote,
// and that had none before it.
func (c *ClickHouse) Created(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import) ([]Invitee, error) {
	rows, err := c.Conn.Query(ctx, fmt.Sprintf(`SELECT login, email, first_name, status FROM %[1]s.%[2]s FINAL
		WHERE tenant = ? AND import_id = ? AND login NOT IN (SELECT login FROM %[1]s.%[2]s WHERE tenant = ? AND version < ?)
		ORDER BY login`, c.Database, ds.Table), imp.Tenant, imp.ID, imp.Tenant, imp.Version)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "notify: created %s: %w", imp.ID, err)
	}
	defer rows.Close()
	var out []Invitee
	for rows.Next() {
		var u Invitee
		if err := rows.Scan(&u.Login, &u.Email, &u.FirstName, &u.Status); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "notify: created %s: %w", imp.ID, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetStatus implements Users: a new version of the user's record
// (warehouse.Revise).
func (c *ClickHouse) SetStatus(ctx context.Context, tenant, login, from, to, passwordHash string) (bool, error) {
	status, password := schemas.Users.Index("status"), schemas.Users.Index("password")
	done, err := warehouse.Revise(ctx, c.Conn, c.Database, schemas.Users, tenant, login, func(cells []string) bool {
		if cells[status] != from {
			return false
		}
		cells[status] = to
		if passwordHash != "" {
			cells[password] = passwordHash
		}
		return true
	})
	if err != nil {
		return false, platform.Errorf(platform.PartClickHouse, "notify: user %s: %w", to, err)
	}
	return done, nil
}

// CancelledRows implements Store.
func (c *ClickHouse) CancelledRows(ctx context.Context, id string) (int, error) {
	var n uint64
	err := c.Conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s FINAL WHERE import_id = ? AND has(codes, ?)", c.Database, warehouse.ImportRejections.Name),
		id, schemas.CodeCancelled).Scan(&n)
	if err != nil {
		return 0, platform.Errorf(platform.PartClickHouse, "notify: cancelled rows of %s: %w", id, err)
	}
	return int(n), nil
}

// SaveImport implements Store.
func (c *ClickHouse) SaveImport(ctx context.Context, r ImportRecord) error {
	batch, err := c.Conn.PrepareBatch(ctx, warehouse.Imports.Insert(c.Database))
	if err != nil {
		return platform.Errorf(platform.PartClickHouse, "notify: save import: %w", err)
	}
	k := r.Counts
	finished := r.FinishedAt
	if finished.IsZero() {
		finished = time.Unix(0, 0)
	}
	if err := batch.Append(r.ID, r.Tenant, r.Dataset, r.Bucket, r.Key, r.FileName, r.ObjectVersion, r.Uploader,
		r.Status, r.Reason.Code, r.Reason.Message, r.File.Format, r.File.Delimiter, r.File.Encoding,
		uint32(r.Chunks), uint32(r.Rows), uint32(k.Created), uint32(k.Updated), uint32(k.Unchanged), uint32(k.Rejected),
		r.ReceivedAt, finished, statusRank(r), cmp.Or(r.OnError, schemas.OnErrorContinue), boolUInt8(r.Invite), r.Version,
		r.Labels, r.Resumed, boolUInt8(r.Preview), r.Mode, boolUInt8(r.Force), uint32(r.Deactivated),
		uint32(k.Removed), uint32(k.Renamed), uint32(k.RemovedMemberships), uint32(k.RemovedGroups), uint32(k.Partial)); err != nil {
		_ = batch.Abort()
		return platform.Errorf(platform.PartClickHouse, "notify: save import: %w", err)
	}
	if err := batch.Send(); err != nil {
		return platform.Errorf(platform.PartClickHouse, "notify: save import: %w", err)
	}
	return nil
}

// Import implements Store.
func (c *ClickHouse) Import(ctx context.Context, id string) (ImportRecord, bool, error) {
	recs, err := c.Imports(ctx, "import_id = ?", []any{id}, 0, 1)
	if err != nil || len(recs) == 0 {
		return ImportRecord{}, false, err
	}
	return recs[0], true, nil
}

// Imports reads the imports that where selects, newest upload first, at
// most limit of them from offset. where is a condition on the imports
// table's columns with a ? for each of args, applied to each import's
// latest row (FINAL): "status = ?" finds the imports in that status now.
func (c *ClickHouse) Imports(ctx context.Context, where string, args []any, offset, limit int) ([]ImportRecord, error) {
	rows, err := c.Conn.Query(ctx, fmt.Sprintf("%s WHERE %s ORDER BY import_version DESC, import_id LIMIT %d, %d",
		warehouse.Imports.Select(c.Database), where, offset, limit), args...)
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "notify: imports: %w", err)
	}
	defer rows.Close()
	var out []ImportRecord
	for rows.Next() {
		var r ImportRecord
		var chunks, total, created, updated, unchanged, rejected, deactivated, removed, renamed, removedMembers, removedGroups, partial uint32
		var invite, preview, force uint8
		var rank uint64
		if err := rows.Scan(&r.ID, &r.Tenant, &r.Dataset, &r.Bucket, &r.Key, &r.FileName, &r.ObjectVersion,
			&r.Uploader, &r.Status, &r.Reason.Code, &r.Reason.Message, &r.File.Format, &r.File.Delimiter, &r.File.Encoding,
			&chunks, &total, &created, &updated, &unchanged, &rejected, &r.ReceivedAt, &r.FinishedAt, &rank, &r.OnError, &invite, &r.Version,
			&r.Labels, &r.Resumed, &preview, &r.Mode, &force, &deactivated,
			&removed, &renamed, &removedMembers, &removedGroups, &partial); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "notify: imports: %w", err)
		}
		r.Chunks, r.Rows, r.Invite, r.Preview, r.Force, r.Deactivated = int(chunks), int(total), invite == 1, preview == 1, force == 1, int(deactivated)
		r.Counts = schemas.Counts{Rows: int(total), Created: int(created), Updated: int(updated), Unchanged: int(unchanged), Rejected: int(rejected),
			Removed: int(removed), Renamed: int(renamed), RemovedMemberships: int(removedMembers), RemovedGroups: int(removedGroups), Partial: int(partial)}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "notify: imports: %w", err)
	}
	return out, nil
}

// Reported implements Store.
func (c *ClickHouse) Reported(ctx context.Context, id string) (int, schemas.Counts, error) {
	var n, total, created, updated, unchanged, rejected, removed, renamed, removedMembers, removedGroups, partial uint64
	err := c.Conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(), sum(rows), sum(created), sum(updated), sum(unchanged), sum(rejected),
			sum(removed), sum(renamed), sum(removed_memberships), sum(removed_groups), sum(partial)
		FROM %s.%s FINAL WHERE import_id = ?`, c.Database, warehouse.ImportChunks.Name), id).
		Scan(&n, &total, &created, &updated, &unchanged, &rejected, &removed, &renamed, &removedMembers, &removedGroups, &partial)
	if err != nil {
		return 0, schemas.Counts{}, platform.Errorf(platform.PartClickHouse, "notify: reported %s: %w", id, err)
	}
	return int(n), schemas.Counts{Rows: int(total), Created: int(created), Updated: int(updated),
		Unchanged: int(unchanged), Rejected: int(rejected), Removed: int(removed), Renamed: int(renamed),
		RemovedMemberships: int(removedMembers), RemovedGroups: int(removedGroups), Partial: int(partial)}, nil
}

// Stalled implements Store: imports received or processing whose last sign
// of progress (their receipt, their last chunk loaded) is older than after.
func (c *ClickHouse) Stalled(ctx context.Context, after time.Duration) ([]Stalled, error) {
	secs := int64(after.Seconds())
	rows, err := c.Conn.Query(ctx, fmt.Sprintf(`SELECT tenant, dataset, count() FROM %[1]s.%[2]s FINAL
		WHERE status IN ('received', 'processing') AND received_at < now() - %[4]d
			AND import_id NOT IN (SELECT import_id FROM %[1]s.%[3]s WHERE loaded_at >= now() - %[4]d)
		GROUP BY tenant, dataset ORDER BY tenant, dataset`, c.Database, warehouse.Imports.Name, warehouse.ImportChunks.Name, secs))
	if err != nil {
		return nil, platform.Errorf(platform.PartClickHouse, "notify: stalled imports: %w", err)
	}
	defer rows.Close()
	var out []Stalled
	for rows.Next() {
		var st Stalled
		var n uint64
		if err := rows.Scan(&st.Tenant, &st.Dataset, &n); err != nil {
			return nil, platform.Errorf(platform.PartClickHouse, "notify: stalled imports: %w", err)
		}
		st.Imports = int(n)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Rejections implements Store.
func (c *ClickHouse) Rejections(ctx context.Context, id string, limit int, each func(schemas.Rejected) error) error {
	return c.RejectionsFrom(ctx, id, 0, limit, each)
}

// RejectionsFrom calls each for the import's rejected rows in row order,
// skipping the first offset of them, at most limit of them: a page.
func (c *ClickHouse) RejectionsFrom(ctx context.Context, id string, offset, limit int, each func(schemas.Rejected) error) error {
	rows, err := c.Conn.Query(ctx, fmt.Sprintf("%s WHERE import_id = ? ORDER BY row LIMIT %d, %d", warehouse.SelectRejections(c.Database), offset, limit), id)
	if err != nil {
		return platform.Errorf(platform.PartClickHouse, "notify: rejections %s: %w", id, err)
	}
	if err := warehouse.ScanRejections(rows, each); err != nil {
		return platform.Errorf(platform.PartClickHouse, "notify: rejections %s: %w", id, err)
	}
	return nil
}
