// Package notify follows every import to its end. It owns the import's status
// in ClickHouse (received, processing, completed, completed_with_errors,
// rejected, requires_intervention, cancelled), deciding when an import is
// complete, and the one email its uploader gets: the counts, and the
// rejected rows as a CSV report they can fix and upload again (or, for a
// file rejected whole, the reason).
//
// An import that aborts on error (schemas.OnErrorAbort) had its records
// staged by load: when it completes with no rejected row, notify loads them
// (Store.CommitStaged) before it says completed; with one, it loads none and
// the import requires intervention: the partner uploads a corrected file. An
// import whose file was deleted while it ran (bus.Cancellations) is
// cancelled if load rejected any of its rows for it.
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
	// CancelledRows counts the import's rows load rejected as cancelled.
	CancelledRows(ctx context.Context, id string) (int, error)
	// Stalled counts, by tenant and dataset, the imports still received or
	// processing that have made no progress for the given time.
	Stalled(ctx context.Context, after time.Duration) ([]Stalled, error)
	// Created lists the users the import created.
	Created(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import) ([]Invitee, error)
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
}

// Validate reports a configuration the stage cannot run with.
func (c Config) Validate() error {
	if c.MaxReportRows < 0 || c.Concurrency < 0 || c.MaxDeliver < 0 || c.Horizon < 0 || c.StallAfter < 0 {
		return errors.New("notify: MaxReportRows, Concurrency, MaxDeliver, Horizon and StallAfter must not be negative")
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
	mailed  nats.KeyValue
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

// New builds the notify stage on the import events.
func New(cfg Config, nc *nats.Conn, store Store, mailer Mailer, tenants platform.TenantSource, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxReportRows == 0 {
		cfg.MaxReportRows = 100000
	}
	if cfg.StallAfter == 0 {
		cfg.StallAfter = 15 * time.Minute
	}
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	mailed, err := js.KeyValue(bus.MailedBucket)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	s := &Stage{cfg: cfg, store: store, mailer: mailer, tenants: tenants, mailed: mailed, metrics: m, logger: logger}
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

// Run follows imports until ctx ends, and counts the stalled ones every
// minute.
func (s *Stage) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() { defer close(done); s.watchStalled(ctx, time.Minute) }()
	err := s.Runner.Run(ctx)
	<-done
	return err
}

// watchStalled sets sluice_notify_stalled_imports every interval until ctx
// ends. An import stalls when a part stays away, or a message of it is
// lost: either way an operator looks.
func (s *Stage) watchStalled(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		stalled, err := s.store.Stalled(ctx, s.cfg.StallAfter)
		if err != nil {
			s.logger.Warn("notify: count stalled imports", "err", err)
		} else {
			s.metrics.Stalled.Reset()
			for _, st := range stalled {
				s.metrics.Stalled.WithLabelValues(st.Tenant, st.Dataset).Set(float64(st.Imports))
			}
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
	}
	return nil
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
	if !rec.Aborts() && rec.Mode != schemas.ModeSync {
		return nil
	}
	ds, ok := schemas.Lookup(rec.Dataset)
	if !ok {
		return fmt.Errorf("notify: import %s of unknown dataset %q", rec.ID, rec.Dataset)
	}
	if rec.Status != schemas.StatusCompleted && rec.Status != schemas.StatusCompletedWithErrors {
		return nil
	}
	if rec.Aborts() {
		for _, t := range ds.Writes() {
			if err := s.store.CommitStaged(ctx, t, rec.ID); err != nil {
				return err
			}
		}
	}
	if rec.Mode == schemas.ModeSync {
		return s.sync(ctx, ds, rec)
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
	lease, err := json.Marshal(MailState{At: time.Now()})
	if err != nil {
		return err
	}
	var entry nats.KeyValueEntry
	var stored *MailState
	key := mailKey(rec)
	rev, err := s.mailed.Create(key, lease)
	if errors.Is(err, nats.ErrKeyExists) {
		entry, stored, err = s.mailState(key)
		if errors.Is(err, nats.ErrKeyNotFound) {
			// The worker that held the lease let it go (its mail failed)
			// between our create and our read: try again.
			return platform.Transient(fmt.Errorf("notify: mailed %s: released meanwhile: %w", key, err))
		}
	}
	if err != nil {
		return fmt.Errorf("notify: mailed %s: %w", key, err)
	}
	switch DecideMail(stored, time.Now()) {
	case MailInviteOnly:
		return s.invite(ctx, rec) // what a failed attempt left
	case MailLeave:
		return nil
	case MailTakeOver:
		rev, err = s.mailed.Update(key, lease, entry.Revision())
		if errors.Is(err, nats.ErrKeyRevisionMismatch) {
			return nil // another worker took it over first
		}
		if err != nil {
			return fmt.Errorf("notify: mailed %s: %w", key, err)
		}
	}
	if err := s.announce(ctx, rec); err != nil {
		if derr := s.mailed.Delete(key); derr != nil {
			err = errors.Join(err, derr)
		}
		return err
	}
	sent, _ := json.Marshal(MailState{Sent: true, At: time.Now()})
	if _, err := s.mailed.Update(key, sent, rev); err != nil {
		return fmt.Errorf("notify: mailed %s: %w", key, err)
	}
	s.metrics.Imports.WithLabelValues(rec.Status).Inc()
	return s.invite(ctx, rec)
}

// mailState reads the import's entry in the mailed bucket.
func (s *Stage) mailState(id string) (nats.KeyValueEntry, *MailState, error) {
	entry, err := s.mailed.Get(id)
	if err != nil {
		return nil, nil, err
	}
	var st MailState
	if err := json.Unmarshal(entry.Value(), &st); err != nil {
		return nil, nil, err
	}
	return entry, &st, nil
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
// that completes after a replay announces its end again.
func completedToken(rec ImportRecord) string {
	if rec.Status == schemas.StatusFailed {
		return schemas.TokenCompleted + "-" + schemas.StatusFailed
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
// error report read from the store when HasReport.
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
	return s.mailer.Send(ctx, to.Address(Compose(rec, report, s.cfg.MaxReportRows)))
}

// report writes the error report of an import: its first MaxReportRows
// rejected rows, in row order.
func (s *Stage) report(ctx context.Context, id string) ([]byte, error) {
	var b bytes.Buffer
	rw, err := NewReportWriter(&b)
	if err != nil {
		return nil, err
	}
	if err := s.store.Rejections(ctx, id, s.cfg.MaxReportRows, rw.Write); err != nil {
		return nil, err
	}
	if err := rw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
