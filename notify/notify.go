// Package notify follows every import to its end. It owns the import's status
// in ClickHouse (received, processing, completed, completed_with_errors,
// rejected, requires_intervention, cancelled, failed, previewed), deciding
// when an import is complete, and the one email its uploader gets (one more
// when an operator continues or confirms it): the counts, and the
// rejected rows as a CSV report they can fix and upload again (or, for a
// file rejected whole, the reason).
//
// An import that aborts on error (schemas.OnErrorAbort) had its records
// staged by load: when it completes with no rejected row, notify loads them
// (Store.CommitStaged) before it says completed; with one, it loads none and
// the import requires intervention: the partner uploads a corrected file, or
// an operator runs `sluice continue`, which publishes EventContinue: notify,
// which owns loading staged records, loads the good ones then (Resume
// decides, resume does it), so the command needs no ClickHouse write right.
// The continued import ends completed_with_errors with the counts load
// decided, and its uploader gets a second summary, once.
//
// A preview (schemas.Import.Preview) is decided and audited by load like any
// import, its records staged: it ends previewed, whatever its rows, and its
// mail says what would be created, updated, unchanged and rejected. `sluice
// confirm` (EventConfirm) loads its staged records as decided, without
// reading the file again (a new upload of the file is a new import), and it
// ends as it would have without the preview. A preview is refused
// confirmation once a later upload changed a record it would write (its
// counts no longer say what it does: upload the file again), and once its
// records expired with personal data (warehouse.Expire).
//
// An import whose file was deleted while it ran (bus.Cancellations), or
// which an operator cancelled (operate.Ops.Cancel, which sends the same
// deletion), is cancelled if load rejected any of its rows for it.
//
// A sync (schemas.ModeSync) that completes, with errors or not, deactivates
// the tenant's records its file left out (warehouse.Deactivate, from the
// keys load recorded), within the tenant's limit unless the upload forces
// it; over the limit it deactivates none and its reason says so. Notify
// does it because only notify knows every row is in; it is the stage that
// already writes records once an import is complete (staged records), by
// INSERT only. The email gives the count and the first keys.
//
// An import is complete when every chunk ingest announced has been reported
// by load: completion counts the distinct chunk numbers in import_chunks (a
// set), never events, so redelivered events change nothing. Each event is
// checked against the stored state, so events may arrive in any order and
// any number of times. The email goes to the object's X-Amz-Meta-Uploader
// when the tenant allows mail to that address, else to the tenant's
// contact, naming the address claimed; it is sent once per import (see
// DecideMail).
//
// It also owns the invitations of the users an import creates (invite.go):
// every user when the upload asks for them, and a user created without a
// password whatever it asks, at an address the tenant allows. Such a user
// is pending; their invitation is a one-time link (Invitations, kept in
// bus.InvitesBucket) by which they set a password and become active
// (`sluice invite accept`, or the web console's /invite/<token> page), or
// by whose lapse they become expired (seed 001's statuses): a new version
// of their record, which notify writes.
//
// The decisions are a pure core (core.go): plain functions with no I/O,
// tested without a broker, a store or a mail server. Status decides an
// import's status once all its chunks are reported; Compose and Invitation
// write the mails, and RecipientOf picks who gets one; DecideMail decides,
// from the import's entry in the mailed bucket, whether a worker sends the
// mail, leaves it to the worker holding the lease, takes a lapsed lease
// over, or only sends the invitations left. The Stage's methods are the
// adapters around the core: they read and write ClickHouse (Store), the
// mailed bucket and the Mailer, and publish the completed event.
package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// ImportRecord is an import's row in the imports table.
type ImportRecord struct {
	schemas.Import
	Status     string
	Reason     schemas.Violation
	File       schemas.FileFormat
	Chunks     int
	Rows       int
	Counts     schemas.Counts
	FinishedAt time.Time
	// Resumed is the operator's event that resumed the ended import
	// (schemas.EventContinue, EventConfirm), if one did.
	Resumed string
	// Deactivated is how many records a sync deactivated.
	Deactivated int
	// DeactivatedKeys are the first of them, read for its mail (not
	// stored here: warehouse.ImportDeactivations holds them).
	DeactivatedKeys []string
}

// Final reports whether the import has ended.
func (r *ImportRecord) Final() bool { return schemas.FinalStatus(r.Status) }

// Store is what notify needs of ClickHouse.
type Store interface {
	// SaveImport stores the import's state; a later status wins over an
	// earlier one whatever order they are saved in.
	SaveImport(ctx context.Context, r ImportRecord) error
	// Import reads the import's state.
	Import(ctx context.Context, id string) (ImportRecord, bool, error)
	// Reported counts the distinct chunks load reported, and sums their
	// counts.
	Reported(ctx context.Context, id string) (int, schemas.Counts, error)
	// Rejections calls each for the import's rejected rows in row order, at
	// most limit of them.
	Rejections(ctx context.Context, id string, limit int, each func(schemas.Rejected) error) error
	// CommitStaged loads the records of an import that aborts on error,
	// which load staged (warehouse.CommitStaged). Notify does not delete
	// them: a delete is DDL on 18.16, which notify's user may not run;
	// warehouse.Expire deletes them once the import has ended.
	CommitStaged(ctx context.Context, ds *schemas.Dataset, importID string) error
	// Staged counts the import's staged records of the dataset's table.
	Staged(ctx context.Context, ds *schemas.Dataset, importID string) (int, error)
	// Changed counts the import's staged records of the dataset's table
	// that a later upload has written since (warehouse.StagedChanged).
	Changed(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import) (int, error)
	// CancelledRows counts the import's rows load rejected as cancelled.
	CancelledRows(ctx context.Context, id string) (int, error)
	// Stalled counts, by tenant and dataset, the imports still received or
	// processing that have made no progress for the given time.
	Stalled(ctx context.Context, after time.Duration) ([]Stalled, error)
	// InFlight counts the imports still received or processing by age
	// band (AgeBands): how long ago each was received. Every band is
	// there, in AgeBands' order.
	InFlight(ctx context.Context) ([]InFlight, error)
	// Created lists the users the import created.
	Created(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import) ([]Invitee, error)
	// Users: invitations change their users' status.
	Users
	// Deactivate deactivates the records of ds a sync left out, once,
	// if allow lets it (warehouse.Deactivate).
	Deactivate(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, allow func(would, active int) bool) (warehouse.Deactivation, error)
	// Deactivated returns the keys of the records the import
	// deactivated, at most limit of them.
	Deactivated(ctx context.Context, id string, limit int) ([]string, error)
}

// Mailer sends an email.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Config is the notify stage's configuration.
type Config struct {
	// MaxReportRows bounds the rejected rows an emailed report lists.
	MaxReportRows int
	Concurrency   int
	MaxDeliver    int
	// Horizon is how long an import event may wait out an outage.
	Horizon time.Duration
	// StallAfter is how long an import may go without progress before it
	// counts as stalled (sluice_notify_stalled_imports).
	StallAfter time.Duration
	// InviteTTL is how long an invitation to set a password may be used
	// (DefaultInviteTTL when 0); ConsoleURL is where its link leads: the
	// web console's /invite/<token> page (DefaultConsoleURL when "").
	InviteTTL  time.Duration
	ConsoleURL string
}

// DefaultMaxReportRows is how many rejected rows an emailed report lists
// when Config.MaxReportRows is 0.
const DefaultMaxReportRows = 100000

// DefaultConsoleURL is the web console's address when none is set.
const DefaultConsoleURL = "http://127.0.0.1:8080"

// Validate reports a configuration the stage cannot run with.
func (c Config) Validate() error {
	if c.MaxReportRows < 0 || c.Concurrency < 0 || c.MaxDeliver < 0 || c.Horizon < 0 || c.StallAfter < 0 || c.InviteTTL < 0 {
		return errors.New("notify: MaxReportRows, Concurrency, MaxDeliver, Horizon, StallAfter and InviteTTL must not be negative")
	}
	return nil
}

// Stage is the notify stage.
type Stage struct {
	*bus.Runner
	cfg     Config
	store   Store
	mailer  Mailer
	tenants platform.TenantSource
	nc      *nats.Conn
	secrets *platform.Secrets // hashes invitations' passwords; nil: not answered
	mailed  nats.KeyValue
	invites *Invitations
	metrics *platform.Metrics
	logger  *slog.Logger
	running runningImports
}

// runningImports remembers the imports being processed (ingested, not yet
// complete) by this instance, so that a progress event costs one query (the
// chunks reported) instead of two. What it holds never changes until the
// import completes; an import it lost is read again.
type runningImports struct {
	mu      sync.Mutex
	imports map[string]ImportRecord
}

// maxRunning bounds runningImports (an import whose chunks were poisoned never
// completes).
const maxRunning = 10000

func (r *runningImports) get(id string) (ImportRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.imports[id]
	return rec, ok
}

func (r *runningImports) put(rec ImportRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.imports == nil || len(r.imports) >= maxRunning {
		r.imports = map[string]ImportRecord{}
	}
	r.imports[rec.ID] = rec
}

func (r *runningImports) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.imports, id)
}

// New builds the notify stage on the import events. With secrets it also
// answers the requests to use an invitation (AnswerInvitations), hashing
// their passwords; without (tests of imports) it does not.
func New(cfg Config, nc *nats.Conn, store Store, mailer Mailer, tenants platform.TenantSource, secrets *platform.Secrets, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.MaxReportRows = cmp.Or(cfg.MaxReportRows, DefaultMaxReportRows)
	if cfg.StallAfter == 0 {
		cfg.StallAfter = 15 * time.Minute
	}
	cfg.ConsoleURL = cmp.Or(cfg.ConsoleURL, DefaultConsoleURL)
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	mailed, err := js.KeyValue(bus.MailedBucket)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	invites, err := js.KeyValue(bus.InvitesBucket)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	s := &Stage{cfg: cfg, store: store, mailer: mailer, tenants: tenants, nc: nc, secrets: secrets, mailed: mailed, metrics: m, logger: logger,
		invites: NewInvitations(invites, store, tenants, cfg.InviteTTL, nil)}
	// Series from the start, for dashboards and alerts.
	for _, status := range schemas.Statuses {
		if schemas.FinalStatus(status) {
			m.Imports.WithLabelValues(status)
		}
	}
	for _, kind := range []string{mailSummary, mailInvitation} {
		for _, result := range []string{"sent", "failed"} {
			m.Emails.WithLabelValues(kind, result)
		}
	}
	c, err := Consumer(cfg)
	if err != nil {
		return nil, err
	}
	if s.Runner, err = bus.NewRunner(schemas.StageNotify, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	return s, nil
}

// Consumer is notify's durable consumer on the import events as cfg
// configures it, 4 events at once by default: `sluice migrate` creates it,
// New binds to it.
func Consumer(cfg Config) (bus.Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return bus.Consumer{}, err
	}
	return bus.Consumer{
		Name: schemas.DurableNotify, Stream: schemas.StreamImports, Subject: schemas.SubjectImportsAll, MaxDeliver: cfg.MaxDeliver, Horizon: cfg.Horizon,
		Concurrency: cmp.Or(cfg.Concurrency, 4),
	}, nil
}

// Stalled is how many imports of a tenant's dataset have stalled.
type Stalled struct {
	Tenant, Dataset string
	Imports         int
}

// AgeBand is a label value of sluice_notify_imports_in_flight: the imports
// received less than Under ago (0: any longer), and not in an earlier band.
type AgeBand struct {
	Age   string
	Under time.Duration
}

// AgeBands are the ages of sluice_notify_imports_in_flight, youngest first.
var AgeBands = []AgeBand{{"0-1m", time.Minute}, {"1m-15m", 15 * time.Minute}, {"15m-1h", time.Hour}, {"1h-6h", 6 * time.Hour}, {"6h+", 0}}

// InFlight is how many imports received or processing are of an age band.
type InFlight struct {
	Age     string
	Imports int
}

// Run follows imports until ctx ends, counts the stalled ones and those in
// flight every minute, makes the users whose invitation lapsed expired,
// and answers the requests to use one.
func (s *Stage) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if s.secrets != nil {
		wg.Go(func() {
			if err := AnswerInvitations(ctx, s.nc, s.invites, s.secrets.HashPassword, s.logger); err != nil {
				s.logger.Error("notify: invitations are not answered", "err", err)
			}
		})
	}
	wg.Go(func() { s.watchImports(ctx, time.Minute) })
	wg.Go(func() { s.watchInvitations(ctx, time.Minute) })
	err := s.Runner.Run(ctx)
	wg.Wait()
	return err
}

// watchInvitations expires the lapsed invitations (ExpireLapsed) every
// interval until ctx ends. A failed round is logged and tried again at the
// next.
func (s *Stage) watchInvitations(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.invites.ExpireLapsed(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("notify: expire lapsed invitations", "err", err)
		}
		if n > 0 {
			s.logger.Info("notify: invitations lapsed: users expired", "users", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watchImports sets sluice_notify_stalled_imports and
// sluice_notify_imports_in_flight every interval until ctx ends. An import
// stalls when a part stays away, or a message of it is lost: either way an
// operator looks. Both count every import, whichever instance follows it:
// every instance exports the same values.
func (s *Stage) watchImports(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		stalled, err := s.store.Stalled(ctx, s.cfg.StallAfter)
		if err != nil {
			s.logger.Warn("notify: count stalled imports", "err", err)
		} else {
			s.metrics.Stalled.Reset()
			// Every tenant's datasets from 0, so that an alert has its
			// series before the first stall.
			for tenant := range s.tenants.Current() {
				for dataset := range schemas.Datasets {
					s.metrics.Stalled.WithLabelValues(tenant, dataset).Set(0)
				}
			}
			for _, st := range stalled {
				s.metrics.Stalled.WithLabelValues(st.Tenant, st.Dataset).Set(float64(st.Imports))
			}
		}
		inFlight, err := s.store.InFlight(ctx)
		if err != nil {
			s.logger.Warn("notify: count imports in flight", "err", err)
		}
		for _, f := range inFlight {
			s.metrics.InFlight.WithLabelValues(f.Age).Set(float64(f.Imports))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Stage) handle(msg *message.Message) error {
	var ev schemas.ImportEvent
	if err := bus.Decode(msg, &ev); err != nil {
		return err
	}
	ctx := msg.Context()
	rec := ImportRecord{Import: ev.Import}
	switch ev.Type {
	case schemas.EventReceived:
		rec.Status = schemas.StatusReceived
		return s.store.SaveImport(ctx, rec)
	case schemas.EventRejected:
		rec.Status = schemas.StatusRejected
		if ev.Reason != nil {
			rec.Reason = *ev.Reason
		}
		rec.FinishedAt = time.Now().UTC()
		if err := s.store.SaveImport(ctx, rec); err != nil {
			return err
		}
		return s.finish(ctx, rec)
	case schemas.EventIngested:
		rec.Status = schemas.StatusProcessing
		rec.Chunks, rec.Rows, rec.File = ev.Chunks, ev.Rows, ev.File
		if err := s.store.SaveImport(ctx, rec); err != nil {
			return err
		}
		s.running.put(rec)
		return s.check(ctx, ev.Import.ID)
	case schemas.EventProgress:
		return s.check(ctx, ev.Import.ID)
	case schemas.EventFailed:
		return s.fail(ctx, ev, bus.Delivered(msg))
	case schemas.EventWaiting:
		return s.wait(ctx, ev)
	case schemas.EventContinue, schemas.EventConfirm:
		return s.resume(ctx, ev.Type, ev.Import.ID)
	}
	return nil
}

// Resumable reads the import id and decides whether the operator's event
// may resume it (Resume): it returns the import as stored and the status
// it would end in. Its error wraps ErrNotResumable when the event may not.
// `sluice continue` and `sluice confirm` call it (as the read-only user)
// before they publish the event, notify again when the event comes.
func Resumable(ctx context.Context, store Store, event, id string) (ImportRecord, string, error) {
	rec, ok, err := store.Import(ctx, id)
	if err != nil {
		return rec, "", err
	}
	if !ok {
		return rec, "", fmt.Errorf("%w: there is no import %s", ErrNotResumable, id)
	}
	var held Held
	if rec.Status == schemas.StatusRequiresIntervention || rec.Status == schemas.StatusPreviewed { // what Resume resumes
		if held, err = heldOf(ctx, store, &rec.Import); err != nil {
			return rec, "", err
		}
	}
	status, err := Resume(event, rec, held)
	return rec, status, err
}

// heldOf reads what is left of the import's staged records: how many of
// every table it writes, and how many of its own dataset's a later upload
// changed (those of the tables it also writes, groups, are every import's
// to write again).
func heldOf(ctx context.Context, store Store, imp *schemas.Import) (Held, error) {
	var held Held
	ds, ok := schemas.Lookup(imp.Dataset)
	if !ok {
		return held, fmt.Errorf("%w: import %s is of unknown dataset %q", ErrNotResumable, imp.ID, imp.Dataset)
	}
	for _, t := range ds.Writes() {
		n, err := store.Staged(ctx, t, imp.ID)
		if err != nil {
			return held, err
		}
		held.Staged += n
	}
	var err error
	held.Changed, err = store.Changed(ctx, ds.Target(), imp)
	return held, err
}

// resume carries out an operator's event on an ended import (Resumable): it
// loads the import's staged records, saves its new status, and finishes it
// with its own summary (mailKey). Each step may run again: staged records
// loaded twice have the same version, and an import found resumed already
// (a redelivered event, a notify restarted midway) is only finished, which
// mails once. An event refused is dropped with a warning: `sluice continue`
// refused it before publishing, unless the import changed meanwhile.
func (s *Stage) resume(ctx context.Context, event, id string) error {
	rec, status, err := Resumable(ctx, s.store, event, id)
	if rec.Resumed == event {
		return s.finish(ctx, rec)
	}
	if errors.Is(err, ErrNotResumable) {
		s.logger.Warn("notify: "+event+" refused", "import", id, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if status != schemas.StatusRequiresIntervention { // a confirmed preview that aborts on error
		if err := s.commit(ctx, &rec.Import); err != nil {
			return err
		}
	}
	rec.Status, rec.Resumed, rec.Reason, rec.FinishedAt = status, event, schemas.Violation{}, time.Now().UTC()
	if err := s.deactivate(ctx, &rec); err != nil { // a confirmed or continued sync
		return err
	}
	if err := s.store.SaveImport(ctx, rec); err != nil {
		return err
	}
	return s.finish(ctx, rec)
}

// fail ends an import a message of which went to a stage's poison subject:
// it is failed, with the counts of the chunks reported so far, and its
// uploader is told. An import already ended stays as it is. A failed import
// whose message is replayed completes later (see check).
//
// Of the event, only the import's id and the reason count: every stage may
// announce a failure, but only ingest says what an import is (its received
// event, which comes first). A failure of an import not recorded yet, on
// its delivery delivered, waits for the received event, which another
// worker may hold: it is put back, as a message waiting for NATS is, a few
// times; then it is dropped: it names no import sluice knows.
func (s *Stage) fail(ctx context.Context, ev schemas.ImportEvent, delivered int) error {
	rec, ok, err := s.store.Import(ctx, ev.Import.ID)
	if err != nil {
		return err
	}
	if !ok && delivered < unknownImportTries {
		return platform.Transient(platform.Errorf(platform.PartNATS, "notify: failure of import %s before its received event", ev.Import.ID))
	}
	if !ok {
		s.logger.Warn("notify: a failure of an import never received: ignored", "import", ev.Import.ID, "reason", ev.Reason)
		return nil
	}
	if rec.Final() {
		return s.finish(ctx, rec)
	}
	if _, rec.Counts, err = s.store.Reported(ctx, rec.ID); err != nil {
		return err
	}
	rec.Status, rec.FinishedAt = schemas.StatusFailed, time.Now().UTC()
	if ev.Reason != nil {
		rec.Reason = *ev.Reason
	}
	if err := s.store.SaveImport(ctx, rec); err != nil {
		return err
	}
	s.running.forget(rec.ID)
	return s.finish(ctx, rec)
}

// unknownImportTries is how many deliveries of a failure of an import not
// recorded notify takes before it drops it (see fail): with the retries and
// naks between them, some 10 s.
const unknownImportTries = 4

// staleWaiting is how old a waiting event may be and still be shown: notify
// may have waited out the same outage, and then the import no longer waits.
const staleWaiting = time.Minute

// wait records that a running import waits for a part that is away: the
// reason in the imports table, until its next progress (see check).
func (s *Stage) wait(ctx context.Context, ev schemas.ImportEvent) error {
	if ev.Reason == nil || time.Since(ev.At) > staleWaiting {
		return nil
	}
	rec, ok := s.running.get(ev.Import.ID)
	if !ok {
		var err error
		if rec, ok, err = s.store.Import(ctx, ev.Import.ID); err != nil || !ok {
			return err
		}
	}
	if rec.Status != schemas.StatusProcessing || rec.Reason == *ev.Reason {
		return nil // not ingested yet (its ingested event may be waiting too), or ended
	}
	rec.Reason = *ev.Reason
	if err := s.store.SaveImport(ctx, rec); err != nil {
		return err
	}
	s.running.put(rec)
	return nil
}

// check completes the import if every chunk has been reported, and finishes
// an import already complete (its email may not have gone out yet).
func (s *Stage) check(ctx context.Context, id string) error {
	rec, ok := s.running.get(id)
	if !ok || rec.Status == schemas.StatusReceived {
		var err error
		rec, ok, err = s.store.Import(ctx, id)
		if err != nil || !ok || rec.Status == schemas.StatusReceived {
			return err // not ingested yet: the ingested event will check again
		}
		if rec.Final() && rec.Status != schemas.StatusFailed {
			return s.finish(ctx, rec)
		}
		s.running.put(rec)
	}
	if rec.Reason.Code == schemas.CodeWaiting {
		// It progresses: it no longer waits.
		rec.Reason = schemas.Violation{}
		if err := s.store.SaveImport(ctx, rec); err != nil {
			return err
		}
		s.running.put(rec)
	}
	n, counts, err := s.store.Reported(ctx, id)
	if err != nil || n < rec.Chunks {
		return err
	}
	rec.Reason = schemas.Violation{}
	if counts.Rows != rec.Rows {
		s.logger.Error("notify: reported rows differ from ingested rows", "import", id, "ingested", rec.Rows, "reported", counts.Rows)
	}
	rec.Counts = counts
	if err := s.end(ctx, &rec); err != nil {
		return err
	}
	rec.FinishedAt = time.Now().UTC()
	if err := s.store.SaveImport(ctx, rec); err != nil {
		return err
	}
	s.running.forget(id)
	return s.finish(ctx, rec)
}

// end ends an import all of whose chunks are reported: it reads the rows
// load rejected as cancelled and sets the Status they and the counts give.
// The staged records of an import that aborts on error are loaded when it is
// completed (warehouse.Expire clears its staging once it has ended); a sync
// that completed, with errors or not, deactivates what it left out (sync).
func (s *Stage) end(ctx context.Context, rec *ImportRecord) error {
	cancelled, err := s.store.CancelledRows(ctx, rec.ID)
	if err != nil {
		return err
	}
	rec.Status = Status(&rec.Import, rec.Counts, cancelled)
	if rec.Preview && rec.Status != schemas.StatusCancelled {
		rec.Status = schemas.StatusPreviewed
		return nil // its records wait for EventConfirm
	}
	if rec.Status != schemas.StatusCompleted && rec.Status != schemas.StatusCompletedWithErrors {
		return nil
	}
	if rec.Aborts() {
		if err := s.commit(ctx, &rec.Import); err != nil {
			return err
		}
	}
	return s.deactivate(ctx, rec)
}

// deactivate deactivates what a sync that completed, with errors or not,
// left out (sync); other imports have nothing to deactivate.
func (s *Stage) deactivate(ctx context.Context, rec *ImportRecord) error {
	if rec.Mode != schemas.ModeSync || rec.Status != schemas.StatusCompleted && rec.Status != schemas.StatusCompletedWithErrors {
		return nil
	}
	ds, ok := schemas.Lookup(rec.Dataset)
	if !ok {
		return fmt.Errorf("notify: import %s of unknown dataset %q", rec.ID, rec.Dataset)
	}
	return s.sync(ctx, ds.Target(), rec) // a groups file syncs memberships
}

// commit loads the staged records of the import into its dataset's tables.
func (s *Stage) commit(ctx context.Context, imp *schemas.Import) error {
	ds, ok := schemas.Lookup(imp.Dataset)
	if !ok {
		return fmt.Errorf("notify: import %s of unknown dataset %q", imp.ID, imp.Dataset)
	}
	for _, t := range ds.Writes() {
		if err := s.store.CommitStaged(ctx, t, imp.ID); err != nil {
			return err
		}
	}
	return nil
}

// sync deactivates the tenant's records of ds that the sync rec left out,
// unless they are more than the tenant's limit (a percentage of its active
// records) and the upload did not force it: then it deactivates none, and
// the import's reason says so. The rows of the file are loaded either way,
// as in update mode: refusing the deactivation alone keeps what the file
// says and loses nothing a partner cannot redo with a forced upload, while
// a file cut short or put in the wrong folder cannot block most of a
// tenant's users.
func (s *Stage) sync(ctx context.Context, ds *schemas.Dataset, rec *ImportRecord) error {
	limit := s.tenants.Current()[rec.Tenant].SyncLimit()
	d, err := s.store.Deactivate(ctx, ds, &rec.Import, func(would, active int) bool {
		return rec.Force || would*100 <= limit*active
	})
	if err != nil {
		return err
	}
	rec.Deactivated = d.Deactivated
	if d.Refused {
		rec.Reason = schemas.Violation{Code: schemas.CodeSyncLimit, Message: schemas.MsgSyncLimit(d.Would, d.Active, limit)}
		s.logger.Warn("notify: a sync would deactivate more than its tenant's limit: it deactivated none",
			"import", rec.ID, "would", d.Would, "active", d.Active, "limit_percent", limit)
	}
	return nil
}

// finish announces the end of the import and mails the uploader, once, then
// sends the invitations it asks for (each once: see invite). A KV entry per
// import (MailState) says it is being finished (with the time) or finished;
// DecideMail says what to do with the entry found. A worker that finds
// another finishing it leaves it to that one: if that one died, its own
// event comes back after AckWait and takes the lapsed lease over.
func (s *Stage) finish(ctx context.Context, rec ImportRecord) error {
	key := mailKey(rec)
	action, rev, err := takeLease(s.mailed, key, time.Now())
	if err != nil {
		return err
	}
	switch action {
	case MailInviteOnly:
		return s.invite(ctx, rec) // what a failed attempt left
	case MailLeave:
		return nil
	}
	if err := s.announce(ctx, rec); err != nil {
		if derr := s.mailed.Delete(key); derr != nil {
			err = errors.Join(err, derr)
		}
		return err
	}
	if err := markSent(s.mailed, key, rev); err != nil {
		return err
	}
	s.metrics.Imports.WithLabelValues(rec.Status).Inc()
	return s.invite(ctx, rec)
}

// takeLease takes the lease to send the mail of key in kv (the mailed
// bucket), as of now: what to do (DecideMail) and, when this worker is to
// send it (MailSend, MailTakeOver), the revision of its lease, for
// markSent. Whoever holds the lease and fails deletes the key, for the
// retry; whoever dies holding it leaves it to lapse, and its own event,
// redelivered, takes it over.
func takeLease(kv nats.KeyValue, key string, now time.Time) (MailAction, uint64, error) {
	lease, err := json.Marshal(MailState{At: now})
	if err != nil {
		return 0, 0, err
	}
	rev, err := kv.Create(key, lease)
	if err == nil {
		return MailSend, rev, nil
	}
	if !errors.Is(err, nats.ErrKeyExists) {
		return 0, 0, fmt.Errorf("notify: mailed %s: %w", key, err)
	}
	entry, stored, err := bus.GetJSON[MailState](kv, key)
	if errors.Is(err, nats.ErrKeyNotFound) {
		// The worker that held the lease let it go (its mail failed)
		// between our create and our read: try again.
		return 0, 0, platform.Transient(fmt.Errorf("notify: mailed %s: released meanwhile: %w", key, err))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("notify: mailed %s: %w", key, err)
	}
	action := DecideMail(&stored, now)
	if action != MailTakeOver {
		return action, 0, nil
	}
	rev, err = kv.Update(key, lease, entry.Revision())
	if errors.Is(err, nats.ErrKeyRevisionMismatch) {
		return MailLeave, 0, nil // another worker took it over first
	}
	if err != nil {
		return 0, 0, fmt.Errorf("notify: mailed %s: %w", key, err)
	}
	return MailTakeOver, rev, nil
}

// markSent records in kv that the mail of key, whose lease is at rev, went
// out.
func markSent(kv nats.KeyValue, key string, rev uint64) error {
	sent, err := json.Marshal(MailState{Sent: true, At: time.Now()})
	if err != nil {
		return err
	}
	if _, err := kv.Update(key, sent, rev); err != nil {
		return fmt.Errorf("notify: mailed %s: %w", key, err)
	}
	return nil
}

// announce publishes the completed event and mails the uploader.
func (s *Stage) announce(ctx context.Context, rec ImportRecord) error {
	err := bus.Publish(s.Pub, schemas.ImportSubject(schemas.EventCompleted, rec.ID), schemas.MsgID(rec.ID, completedToken(rec), 0),
		schemas.ImportEvent{Type: schemas.EventCompleted, Import: rec.Import, Status: rec.Status, Counts: rec.Counts,
			Chunks: rec.Chunks, Rows: rec.Rows, File: rec.File, Reason: reasonOf(rec)})
	if err != nil {
		return err
	}
	return s.mail(ctx, rec)
}

// completedToken is the Msg-Id token of the completed event: a failed import
// that completes after a replay, and an import an operator resumed,
// announce their end again.
func completedToken(rec ImportRecord) string {
	switch {
	case rec.Status == schemas.StatusFailed:
		return schemas.TokenCompleted + "-" + schemas.StatusFailed
	case rec.Resumed != "":
		return schemas.TokenCompleted + "-" + rec.Resumed
	}
	return schemas.TokenCompleted
}

func reasonOf(rec ImportRecord) *schemas.Violation {
	if rec.Reason.Code == "" {
		return nil
	}
	return &rec.Reason
}

// mail sends the Compose mail of an ended import to its Recipient, with the
// error report read from the store when HasReport, and the new users who
// needed an invitation but are not invited (NotInvited).
func (s *Stage) mail(ctx context.Context, rec ImportRecord) error {
	to := RecipientOf(rec.Import, s.tenants.Current()[rec.Tenant])
	if to.To == "" {
		s.logger.Warn("notify: nobody to tell", "import", rec.ID, "tenant", rec.Tenant)
		return nil
	}
	if rec.Deactivated > 0 {
		var err error
		if rec.DeactivatedKeys, err = s.store.Deactivated(ctx, rec.ID, maxDeactivatedInMail); err != nil {
			return err
		}
	}
	var report []byte
	if HasReport(rec) {
		var err error
		if report, err = s.report(ctx, rec.ID); err != nil {
			return err
		}
	}
	m := to.Address(Compose(rec, report, s.cfg.MaxReportRows))
	_, refused, err := s.invitees(ctx, rec)
	if err != nil {
		return err
	}
	m.Body += NotInvited(refused)
	return s.send(ctx, mailSummary, m)
}

// The kinds of email notify sends, the kind label of sluice_notify_emails_total.
const (
	mailSummary    = "summary"
	mailInvitation = "invitation"
)

// send sends m, an email of kind, and counts it, sent or failed.
func (s *Stage) send(ctx context.Context, kind string, m Mail) error {
	err := s.mailer.Send(ctx, m)
	result := "sent"
	if err != nil {
		result = "failed"
	}
	s.metrics.Emails.WithLabelValues(kind, result).Inc()
	return err
}

// report writes the error report of an import (WriteReport).
func (s *Stage) report(ctx context.Context, id string) ([]byte, error) {
	var b bytes.Buffer
	if err := WriteReport(ctx, s.store, id, s.cfg.MaxReportRows, &b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteReport writes the error report of an import to w, as its mail
// attaches it: its first maxRows rejected rows, in row order (see
// ReportWriter). The web console and `sluice errors` write it too.
func WriteReport(ctx context.Context, store Store, id string, maxRows int, w io.Writer) error {
	rw, err := NewReportWriter(w)
	if err != nil {
		return err
	}
	if err := store.Rejections(ctx, id, maxRows, rw.Write); err != nil {
		return err
	}
	return rw.Close()
}
