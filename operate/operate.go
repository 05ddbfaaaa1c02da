// Package operate is what people do to imports from outside the pipeline:
// list them, look at one and its rejected rows, download its error report,
// cancel it, continue or confirm it. The CLI (`sluice imports`, `errors`,
// `cancel`, `continue`, `confirm`, `import`) and the web console share it, so
// both answer alike.
//
// It reads ClickHouse as the read-only user (sluice_reader), with notify's
// queries (notify.ClickHouse): notify owns the imports' state and the error
// report, and operate writes nothing to ClickHouse. What it does goes to the
// pipeline as an operator's event, published as the NATS user the
// configuration names (deploy/nats.conf: admin), with a Msg-Id per import
// and event, so that sent twice it is stored once:
//
//   - Continue and Confirm publish schemas.EventContinue and EventConfirm,
//     which notify carries out, once it checked what notify would refuse
//     (notify.Resumable).
//   - Cancel publishes into the bucket events the deletion of the import's
//     file, as the bucket would (see Cancel): ingest records it
//     (bus.Cancellations), load rejects the rows it has not loaded yet as
//     cancelled (schemas.CodeCancelled), and notify ends the import
//     cancelled and mails its uploader, as when a partner deletes the file.
//     The file stays in the bucket.
//
// Every read and act takes a Scope: the tenant whose imports it may see,
// or AllTenants (an operator). An import of another tenant answers as one
// that does not exist (ErrNotFound), so a tenant's user cannot even learn
// that it does.
package operate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// Config is what operate reads and publishes with.
type Config struct {
	// ClickHouse is read as its Reader.
	ClickHouse platform.ClickHouseConfig
	// NATS publishes the operator's events.
	NATS Publisher
	// MaxReportRows bounds the rejected rows an error report lists: notify's
	// (SLUICE_NOTIFY_MAX_REPORT_ROWS), so that the report is the email's;
	// 0 is notify.DefaultMaxReportRows.
	MaxReportRows int
}

// Scope is the tenant whose imports a caller may see and act on.
type Scope string

// AllTenants is an operator's scope: every tenant's imports.
const AllTenants Scope = ""

// ErrNotFound is the error of an import that does not exist, or is
// another tenant's than the scope's.
var ErrNotFound = errors.New("not found")

// ErrRefused is the error of an act the import's state refuses (cancel an
// import that has ended, continue one that does not require
// intervention); its message says why.
var ErrRefused = notify.ErrNotResumable

// Ops reads and acts on imports. It holds one ClickHouse connection; Close
// closes it.
type Ops struct {
	cfg   Config
	conn  driver.Conn
	store *notify.ClickHouse
}

// Open connects to ClickHouse as the read-only user.
func Open(ctx context.Context, cfg Config) (*Ops, error) {
	if cfg.MaxReportRows < 0 {
		return nil, errors.New("operate: MaxReportRows must not be negative")
	}
	cfg.MaxReportRows = cmp.Or(cfg.MaxReportRows, notify.DefaultMaxReportRows)
	conn, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Reader)
	if err != nil {
		return nil, err
	}
	return &Ops{cfg: cfg, conn: conn, store: &notify.ClickHouse{Conn: conn, Database: cfg.ClickHouse.Database}}, nil
}

// Close closes the ClickHouse connection.
func (o *Ops) Close() error { return o.conn.Close() }

// Import is an import as the imports table has it, with its progress.
type Import struct {
	notify.ImportRecord
	// Done is how many of its rows load has reported so far (all of them
	// once it has ended): with Rows, its progress while it runs.
	Done int
}

// Started is when the import was received.
func (i *Import) Started() time.Time { return i.ReceivedAt }

// Duration is how long the import ran: until it ended, or until now
// while it runs.
func (i *Import) Duration(now time.Time) time.Duration {
	if i.Final() {
		return i.FinishedAt.Sub(i.ReceivedAt)
	}
	return now.Sub(i.ReceivedAt)
}

// Option is an upload option as the import ran with it.
type Option struct{ Name, Value string }

// Options are the options the import ran with (the upload's, else its
// tenant's), in schemas.Options' order; those it does not store (the
// groups it assigns, whose user it mirrors) are left out.
func (i *Import) Options() []Option {
	return []Option{
		{schemas.OptionMode, i.Mode},
		{schemas.OptionOnError, i.OnError},
		{schemas.OptionInvite, strconv.FormatBool(i.Invite)},
		{schemas.OptionPreview, strconv.FormatBool(i.Preview)},
		{schemas.OptionForce, strconv.FormatBool(i.Force)},
	}
}

// Filter selects imports.
type Filter struct {
	// Status, Dataset and Key select the imports with that status (now),
	// dataset, object key; "" selects any.
	Status, Dataset, Key string
	// Offset and Limit page the list (Limit 0: DefaultLimit).
	Offset, Limit int
}

// DefaultLimit is how many imports List returns when the Filter says
// nothing.
const DefaultLimit = 100

// List returns the scope's imports that f selects, newest upload first.
func (o *Ops) List(ctx context.Context, scope Scope, f Filter) ([]Import, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return nil, errors.New("operate: offset and limit must not be negative")
	}
	if f.Status != "" && !slices.Contains(schemas.Statuses, f.Status) {
		return nil, fmt.Errorf("operate: no status %q (one of %v)", f.Status, schemas.Statuses)
	}
	var where []string
	var args []any
	for _, c := range []struct{ column, value string }{
		{"tenant", string(scope)}, {"dataset", f.Dataset}, {"key", f.Key}, {"status", f.Status},
	} {
		if c.value != "" {
			where, args = append(where, c.column+" = ?"), append(args, c.value)
		}
	}
	if len(where) == 0 {
		where = []string{"1"}
	}
	recs, err := o.store.Imports(ctx, strings.Join(where, " AND "), args, f.Offset, cmp.Or(f.Limit, DefaultLimit))
	if err != nil {
		return nil, err
	}
	out := make([]Import, len(recs))
	for i, r := range recs {
		if out[i], err = o.withProgress(ctx, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Get returns the import id, if the scope may see it; else ErrNotFound.
func (o *Ops) Get(ctx context.Context, scope Scope, id string) (Import, error) {
	rec, ok, err := o.store.Import(ctx, id)
	if err != nil {
		return Import{}, err
	}
	if !ok || (scope != AllTenants && rec.Tenant != string(scope)) {
		return Import{}, fmt.Errorf("%w: there is no import %s", ErrNotFound, id)
	}
	return o.withProgress(ctx, rec)
}

// withProgress adds to an import the rows load has reported: its counts
// once it has ended, import_chunks' while it runs.
func (o *Ops) withProgress(ctx context.Context, rec notify.ImportRecord) (Import, error) {
	imp := Import{ImportRecord: rec, Done: rec.Counts.Rows}
	if rec.Status == schemas.StatusProcessing {
		_, k, err := o.store.Reported(ctx, rec.ID)
		if err != nil {
			return Import{}, err
		}
		imp.Done = k.Rows
	}
	return imp, nil
}

// Rejection is one rule a rejected row broke (or one value a partial row
// lost): a line of the error report.
type Rejection struct {
	Row                                    int
	Column, Code, Value, Message, Solution string
}

// Rejections returns a page of the import's rejected rows, in row order:
// the rows from offset (a count of rows, not of lines), at most limit of
// them, a line for each rule each broke. Import.Counts.Bad() counts the
// rows.
func (o *Ops) Rejections(ctx context.Context, scope Scope, id string, offset, limit int) ([]Rejection, error) {
	if offset < 0 || limit <= 0 {
		return nil, errors.New("operate: offset must not be negative, limit must be positive")
	}
	if _, err := o.Get(ctx, scope, id); err != nil {
		return nil, err
	}
	var out []Rejection
	err := o.store.RejectionsFrom(ctx, id, offset, limit, func(r schemas.Rejected) error {
		for _, v := range r.Violations {
			out = append(out, Rejection{Row: r.N, Column: v.Column, Code: v.Code, Value: v.Value, Message: v.Message, Solution: schemas.Hint(v.Code)})
		}
		return nil
	})
	return out, err
}

// WriteReport writes the import's error report to w: the CSV its email
// attaches (notify.WriteReport), also while it still runs (the rows
// rejected so far). A file rejected whole has no report: its error says
// why it was rejected.
func (o *Ops) WriteReport(ctx context.Context, scope Scope, id string, w io.Writer) error {
	imp, err := o.Get(ctx, scope, id)
	if err != nil {
		return err
	}
	if imp.Status == schemas.StatusRejected {
		return fmt.Errorf("%w: import %s was rejected whole, so it has no error report: %s", ErrRefused, id, imp.Reason.Message)
	}
	return notify.WriteReport(ctx, o.store, id, o.cfg.MaxReportRows, w)
}

// Continue sends seed 002's "Continue" for an import that requires
// intervention (schemas.EventContinue): notify then loads the good rows it
// held back. Anything notify would refuse is refused (ErrRefused). Follow
// shows when notify has done it (Import.Resumed).
func (o *Ops) Continue(ctx context.Context, scope Scope, id string) error {
	return o.resume(ctx, scope, schemas.EventContinue, id)
}

// Confirm sends the confirmation of a preview (schemas.EventConfirm):
// notify then imports it as it was decided. Anything notify would refuse
// is refused (ErrRefused).
func (o *Ops) Confirm(ctx context.Context, scope Scope, id string) error {
	return o.resume(ctx, scope, schemas.EventConfirm, id)
}

func (o *Ops) resume(ctx context.Context, scope Scope, event, id string) error {
	if _, err := o.Get(ctx, scope, id); err != nil {
		return err
	}
	rec, _, err := notify.Resumable(ctx, o.store, event, id)
	if err != nil {
		return err
	}
	return o.cfg.NATS.Resume(event, rec.Import)
}

// Cancel stops an import that has not ended: it publishes, into the bucket
// events, the deletion of the import's object as the bucket would send it
// (an s3:ObjectRemoved:Delete event, from principal CancelPrincipal, at the
// time of the import's upload), with a Msg-Id per import: ingest records
// the deletion as when a partner deletes the file (bus.Cancellations), and
// the rest follows as it does then: load rejects the rows it has not
// loaded as cancelled, notify ends the import cancelled and mails its
// uploader. The object is not deleted. Dated at the upload, the deletion
// cancels this import (and any earlier one of the key still running), never
// a later upload of the same key. An import that ended is refused
// (ErrRefused). One whose rows were all loaded before the deletion reached
// load ends as it would have, not cancelled: Follow tells how it ended.
func (o *Ops) Cancel(ctx context.Context, scope Scope, id string) error {
	imp, err := o.Get(ctx, scope, id)
	if err != nil {
		return err
	}
	if imp.Final() {
		return fmt.Errorf("%w: import %s is %s: it has ended, there is nothing to cancel", ErrRefused, id, imp.Status)
	}
	return o.cfg.NATS.Cancel(imp.Import)
}

// Publisher publishes the operator's events as a NATS user allowed to
// (deploy/nats.conf: admin), each on a connection of its own named after
// it, whose replies come to bus.InboxPrefix(name): _INBOX_continue,
// _INBOX_confirm, _INBOX_cancel.
type Publisher struct{ URL, User, Password string }

// Resume publishes the operator's event (schemas.EventContinue,
// EventConfirm) for imp, with a Msg-Id per import and event.
func (p Publisher) Resume(event string, imp schemas.Import) error {
	data, err := json.Marshal(schemas.ImportEvent{Type: event, Import: imp, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	return p.publish(event, schemas.ImportSubject(event, imp.ID), schemas.MsgID(imp.ID, event, 0), data)
}

// Cancel publishes the deletion of imp's object into the bucket events
// (see Ops.Cancel), with a Msg-Id per import.
func (p Publisher) Cancel(imp schemas.Import) error {
	var ev schemas.BucketEvent
	ev.Records = slices.Grow(ev.Records, 1)[:1]
	r := &ev.Records[0]
	r.EventName, r.EventTime = removedEvent, imp.UploadedAt()
	r.UserIdentity.PrincipalID = CancelPrincipal
	r.S3.Bucket.Name, r.S3.Object.Key = imp.Bucket, url.QueryEscape(imp.Key)
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return p.publish(tokenCancel, schemas.SubjectS3Events, schemas.MsgID(imp.ID, tokenCancel, 0), data)
}

// removedEvent is the bucket event of an object deleted (ingest's
// removedEvents).
const removedEvent = "s3:ObjectRemoved:Delete"

// CancelPrincipal is who a cancellation's deletion event says deleted the
// file: no access key, but sluice's operator.
const CancelPrincipal = "sluice-cancel"

// tokenCancel is Cancel's Msg-Id token and NATS connection name (its
// replies come to _INBOX_cancel).
const tokenCancel = "cancel"

// publish publishes data on subject with the Msg-Id id, on a connection
// called name, and waits for the stream's ack.
func (p Publisher) publish(name, subject, id string, data []byte) error {
	nc, err := bus.Connect(p.URL, name, p.User, p.Password)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("operate: %s: %w", name, err)
	}
	if _, err := js.Publish(subject, data, nats.MsgId(id)); err != nil {
		return fmt.Errorf("operate: %s: publish: %w", name, err)
	}
	return nil
}

// FollowInterval is how often Follow reads the import.
const FollowInterval = 500 * time.Millisecond

// Follow reads the import every FollowInterval and calls each with it
// until each says it is done (true) or ctx ends: an import that does not
// exist yet, or not in the scope, is ErrNotFound at once.
func (o *Ops) Follow(ctx context.Context, scope Scope, id string, each func(Import) bool) error {
	t := time.NewTicker(FollowInterval)
	defer t.Stop()
	for {
		imp, err := o.Get(ctx, scope, id)
		if err != nil {
			return err
		}
		if each(imp) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
