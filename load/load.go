// Package load upserts ready records into ClickHouse and reports every chunk
// exactly once. It owns deciding each row's outcome (created, updated,
// unchanged, or rejected for what only the stored records tell), the per-row
// audit (import_rows, and import_rejections for why), the per-chunk report
// (import_chunks) and the progress event notify counts chunks by.
//
// In a sync (schemas.ModeSync) it also writes the key of every row, loaded
// or rejected, to import_keys, before the chunk's report: what notify
// deactivates once the import is complete is the tenant's records whose
// keys are not there (warehouse.Deactivate). Load itself deactivates
// nothing: it cannot know the file's last row has come.
//
// What only the stored records tell, load judges: which stored record a row
// names, where a dataset's Identity is not its key (identity.go: a client by
// its ID, or by its email, whose change by ID is an update); a record that
// exists in create mode; a new record that leaves a required cell empty (in
// update mode); a value that names a group, an account or a user the tenant
// does not have (Field.Ref); a unique value another record has
// (Field.Unique); and the permissions a users import gives (permissions.go). Rows it rejects go to the
// dead-letter stream like validate's. A row that holds several records (a
// groups layout) is loaded whole or rejected whole, but in a layout whose
// values are judged each on its own (schemas.Dataset.EachItem: a
// group-based row's members): there the good records load, and the row is
// partial (Write.Partial), its rejected values with their reasons in the
// audit and the dead-letter stream, or rejected when none is good. A groups
// file in remove mode removes what it names, and a rename file renames
// groups, their memberships included (remove.go: the one way records are
// removed); a group's type is the file's, else its folder's, else the one
// it has (types.go). The rows of a cancelled import (bus.Cancellations)
// are rejected as such; the records of an import that aborts on error, or
// of a preview (schemas.Import.Stages), are written to the staging tables,
// for notify to load once every row is known good, or once the import is
// continued or confirmed. A preview is decided and audited like any import:
// only where its records go differs.
//
// Chunks from concurrent deliveries of one import are gathered into one large
// write (Config.BatchRows) and their messages acked only after it: records and
// audit, then the chunk reports, then the progress events. A chunk whose
// report is in ClickHouse has its audit and records there too.
//
// Outcomes are decided against the latest stored version older than the
// import's, and a retried or redelivered chunk reuses the outcomes its
// earlier attempt audited, so the counts do not change with redelivery. An
// unchanged record is not written again. Left as it is: if a first attempt
// wrote records but not their audit, and ClickHouse merged the older version
// away before the retry, an "updated" row is reported as "created"; the
// stored record is right either way.
package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// metaAttempt counts a message's handling attempts in this process.
const metaAttempt = "Sluice-Load-Attempt"

// Record is one row to write, with its outcome decided.
type Record struct {
	Row   schemas.Row
	Chunk int
	// Hash and Outcome are set by Decide; Violations say why a Rejected
	// record is.
	Hash       uint64
	Outcome    string
	Violations []schemas.Violation
}

// Write is what one flush writes for one import.
type Write struct {
	Dataset *schemas.Dataset
	Import  schemas.Import
	// Records are the valid rows' records; those Unchanged are not written.
	Records []Record
	// Rows are the valid rows' outcomes (a row may hold several records).
	Rows []RowOutcome
	// Also are the records of other datasets the write makes (see
	// schemas.Dataset.Also): memberships a users import's permission options
	// give, and the groups of every membership.
	Also map[*schemas.Dataset][]Record
	// Rejected rows, by chunk number.
	Rejected map[int][]schemas.Rejected
	// Partial rows (some of their values loaded), by chunk number, with
	// why each of the others was rejected.
	Partial map[int][]schemas.Rejected
	// Chunks are the chunks' reports.
	Chunks []ChunkReport
}

// Audit is a row's outcome as an earlier attempt audited it.
type Audit struct {
	Outcome string
	// Violations say why, for a rejected row.
	Violations []schemas.Violation
}

// RowOutcome is the outcome of one valid file row.
type RowOutcome struct {
	N, Chunk int
	Outcome  string
}

// ChunkReport is one chunk's outcome counts.
type ChunkReport struct {
	Number   int
	FirstRow int
	Counts   schemas.Counts
}

// Stored is the latest stored version of a record.
type Stored struct {
	Hash  uint64
	Cells []string // canonical, in field order
	// Removed: the latest version says the record is removed (see
	// schemas.Removed): it does not exist.
	Removed bool
}

// Warehouse is what load needs of ClickHouse.
type Warehouse interface {
	// Stored returns, for each key (the records' identity:
	// Dataset.IdentityIndex) that has a record of the tenant with a version
	// lower than before, the latest such record: its hash, and its cells
	// when withCells (most imports need no more than the hash).
	Stored(ctx context.Context, ds *schemas.Dataset, tenant string, keys []string, before uint64, withCells bool) (map[string]Stored, error)
	// Existing returns which of values the tenant's records have in ref's
	// table and column (of ref's type, or untyped, when it names one).
	Existing(ctx context.Context, ref *schemas.Ref, tenant string, values []string) (map[string]bool, error)
	// GroupsOf returns the groups the tenant's user with the email is a
	// member of.
	GroupsOf(ctx context.Context, tenant, email string) ([]string, error)
	// Members returns, for each of groups, the emails of its members in the
	// latest versions older than before.
	Members(ctx context.Context, tenant string, groups []string, before uint64) (map[string][]string, error)
	// Owners returns, for each of values, the identity of the tenant's
	// record whose latest version up to upTo has it in field.
	Owners(ctx context.Context, ds *schemas.Dataset, field int, tenant string, values []string, upTo uint64) (map[string]string, error)
	// Audited returns the outcomes already audited for rows of the given
	// chunks of the import, with the reasons of those rejected.
	Audited(ctx context.Context, importID string, chunks []int) (map[int]Audit, error)
	// Write writes records and the audit, then the chunk reports.
	Write(ctx context.Context, w *Write) error
}

// Decide sets the outcome of each record, by its identity (the key, or the
// Identity that Identify resolved). A key with no stored record is
// created, if the row fills every required field (in update mode validate
// could not tell), with the default of every field a new record cannot be
// given. In create mode, a key with a stored record is rejected. Otherwise
// the record keeps the stored value of every cell the file left empty
// (defaults are for new records), and is unchanged if it then hashes as the
// stored one, updated if not. A record rejected before (checkRelations) gets
// these reasons too.
//
// A removal (schemas.Removal) removes a record that exists, and leaves one
// that does not as it is (unchanged); a record whose latest version is a
// removal does not exist.
//
// An outcome already audited (a retried chunk) stands, rejected included
// with its reasons, whatever this attempt finds: the audit and the records
// an earlier attempt may have written must not disagree.
func Decide(ds *schemas.Dataset, imp *schemas.Import, records []Record, audited map[int]Audit, stored map[string]Stored) {
	key := ds.IdentityIndex()
	for i := range records {
		r := &records[i]
		a, wasAudited := audited[r.Row.N]
		if wasAudited && a.Outcome == warehouse.Rejected {
			r.Outcome, r.Violations = warehouse.Rejected, a.Violations
			continue
		}
		s, exists := stored[r.Row.Cells[key]]
		exists = exists && !s.Removed
		removal := ds.IsRemoval(r.Row.Cells)
		switch {
		case removal:
		case exists && imp.Mode == schemas.ModeCreate:
			f := &ds.Fields[ds.KeyIndex()] // the column partners know a record by
			r.reject(schemas.Violation{Column: f.Name, Code: schemas.CodeExists, Message: schemas.MsgDuplicate, Value: f.Show(r.Row.Cells[ds.KeyIndex()])})
		case !exists:
			newRecord(ds, imp, r)
		}
		// A partial row's rejected records stay rejected: its loaded ones
		// take the audited outcome.
		if wasAudited && (a.Outcome != warehouse.Partial || r.Outcome != warehouse.Rejected) {
			r.Outcome, r.Violations = a.Outcome, nil
		}
		if r.Outcome == warehouse.Rejected {
			continue // with every reason found: checkRelations's too
		}
		if exists && r.Row.AnyEmpty() && len(s.Cells) == len(r.Row.Cells) {
			for f := range r.Row.Cells {
				if r.Row.IsEmpty(f) {
					r.Row.Cells[f] = s.Cells[f]
				}
			}
		}
		r.Hash = schemas.RowHash(r.Row.Cells)
		switch {
		case wasAudited:
		case removal && exists:
			r.Outcome = warehouse.Removed
		case removal:
			r.Outcome = warehouse.Unchanged
		case !exists:
			r.Outcome = warehouse.Created
		case s.Hash == r.Hash:
			r.Outcome = warehouse.Unchanged
		default:
			r.Outcome = warehouse.Updated
		}
	}
}

// newRecord readies a record to be created: it rejects it (and says so) if
// the file left a required field empty, gives it the default of every
// field a new record cannot be given, and lets its dataset finish it
// (OnCreate: a user with no password is pending).
func newRecord(ds *schemas.Dataset, imp *schemas.Import, r *Record) {
	ctx := imp.Context()
	ctx.Key = r.Row.Cells[ds.KeyIndex()]
	for i := range ds.Fields {
		f := &ds.Fields[i]
		if f.Required && r.Row.IsEmpty(i) {
			r.reject(schemas.Violation{Column: f.Name, Code: schemas.CodeRequired, Message: schemas.MsgRequired(f.Name)})
		}
		if f.IgnoredOnCreate {
			r.Row.Cells[i] = f.Canonical("", ctx)
		}
	}
	if ds.OnCreate != nil {
		ds.OnCreate(ds, r.Row.Cells)
	}
}

// reject marks the record rejected, for one more reason.
func (r *Record) reject(v schemas.Violation) {
	r.Outcome = warehouse.Rejected
	r.Violations = append(r.Violations, v)
}

// Config is the load stage's configuration.
type Config struct {
	// BatchRows is how many rows are gathered into one write.
	BatchRows int
	// MaxWait is the longest a chunk waits for others to join its write.
	MaxWait time.Duration
	// Concurrency is how many chunks are handled at once: those of the
	// write under way and of the next, which gathers meanwhile.
	Concurrency int
	MaxDeliver  int
	// Horizon is how long a chunk may wait out an outage.
	Horizon time.Duration
	// WriteTimeout bounds one write.
	WriteTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.BatchRows == 0 {
		c.BatchRows = 50000
	}
	if c.MaxWait == 0 {
		c.MaxWait = 200 * time.Millisecond
	}
	if c.Concurrency == 0 {
		c.Concurrency = 24 // two writes and more, of ingest's 5,000-row chunks
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 20 * time.Second
	}
}

// Validate reports a configuration the stage cannot run with.
func (c Config) Validate() error {
	if c.BatchRows <= 0 || c.MaxWait <= 0 || c.Concurrency <= 0 || c.MaxDeliver < 0 || c.Horizon < 0 {
		return errors.New("load: BatchRows, MaxWait and Concurrency must be positive")
	}
	return nil
}

// Stage is the load stage.
type Stage struct {
	*bus.Runner
	cfg     Config
	wh      Warehouse
	cancels bus.Cancellations
	metrics *platform.Metrics
	batcher *batcher
	logger  *slog.Logger
}

// New builds the load stage on the ready rows.
func New(cfg Config, nc *nats.Conn, wh Warehouse, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	cancelled, err := js.KeyValue(bus.CancelledBucket)
	if err != nil {
		return nil, fmt.Errorf("load: cancelled bucket: %w", err)
	}
	s := &Stage{cfg: cfg, wh: wh, cancels: bus.Cancellations{KV: cancelled}, metrics: m, logger: logger}
	s.batcher = newBatcher(cfg.BatchRows, cfg.MaxWait, s.flush)
	c, err := Consumer(cfg)
	if err != nil {
		return nil, err
	}
	if s.Runner, err = bus.NewRunner(schemas.StageLoad, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	return s, nil
}

// Consumer is load's durable consumer on the ready rows as cfg configures
// it: `sluice migrate` creates it, New binds to it.
func Consumer(cfg Config) (bus.Consumer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return bus.Consumer{}, err
	}
	return bus.Consumer{
		Name: schemas.DurableLoad, Stream: schemas.StreamRows, Subject: schemas.SubjectReadyRows, MaxDeliver: cfg.MaxDeliver, Horizon: cfg.Horizon, Concurrency: cfg.Concurrency,
	}, nil
}

// Run loads chunks until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() { defer close(done); s.batcher.run(ctx) }()
	err := s.Runner.Run(ctx)
	<-done
	return err
}

func (s *Stage) handle(msg *message.Message) error {
	c, _, err := bus.DecodeChunk(msg)
	if err != nil {
		return err
	}
	// The retry middleware hands the same message in again: count attempts
	// on it.
	attempt, _ := strconv.Atoi(msg.Metadata.Get(metaAttempt))
	msg.Metadata.Set(metaAttempt, strconv.Itoa(attempt+1))
	counts, err := s.batcher.add(msg.Context(), c, attempt > 0 || bus.Delivered(msg) > 1)
	if err != nil {
		return err
	}
	return bus.Publish(s.Pub, schemas.ImportSubject(schemas.EventProgress, c.Import.ID),
		schemas.MsgID(c.Import.ID, schemas.StageLoad, c.Number),
		schemas.ImportEvent{Type: schemas.EventProgress, Import: c.Import, Chunk: c.Number, Counts: counts})
}

// flush writes the chunks of one import gathered by the batcher and returns
// each chunk's counts. retried says some chunk may have been written before
// (a retry or a redelivery): only then are earlier outcomes looked up.
func (s *Stage) flush(ctx context.Context, chunks []*schemas.Chunk, retried bool) ([]schemas.Counts, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	imp := chunks[0].Import
	shape, ok := imp.Schema()
	if !ok {
		return nil, errors.New("load: chunk of unknown dataset " + imp.Dataset)
	}
	ds := shape.Target()
	if shape == schemas.RenameGroups {
		imp.Mode = schemas.ModeUpdate // a rename's mode does not apply
	}
	w, numbers := gather(ds, imp, chunks)
	if imp.Mode == schemas.ModeRemove {
		markRemovals(ds, w.Records)
	}
	if ds == schemas.GroupRecords {
		typeGroups(&imp, w.Records)
	}
	cancelled, err := s.cancels.Cancelled(&imp)
	if err != nil {
		return nil, err
	}
	perms, err := s.decide(ctx, ds, &imp, w, numbers, retried, cancelled)
	if err != nil {
		return nil, err
	}
	settle(shape, w.Records)
	moved, err := s.membersOf(ctx, ds, &imp, w.Records)
	if err != nil {
		return nil, err
	}
	w.Also = also(ds, append(perms.memberships(w.Records), moved...), w.Records)
	if err := s.typeAlso(ctx, &imp, w.Also[schemas.GroupRecords]); err != nil {
		return nil, err
	}
	late := moveRejected(w)
	w.Rows = rowOutcomes(w.Records, w.Partial)
	counts := report(w, chunks)
	if err := s.wh.Write(ctx, w); err != nil {
		return nil, err
	}
	if err := s.deadLetter(imp, late); err != nil {
		return nil, err
	}
	s.count(counts)
	return counts, nil
}

// gather makes the write of an import's chunks: a record per row, in chunk
// order, with each chunk's number.
func gather(ds *schemas.Dataset, imp schemas.Import, chunks []*schemas.Chunk) (w *Write, numbers []int) {
	n := 0
	for _, c := range chunks {
		n += len(c.Rows)
	}
	w = &Write{Dataset: ds, Import: imp, Rejected: map[int][]schemas.Rejected{}, Partial: map[int][]schemas.Rejected{}, Records: make([]Record, 0, n)}
	numbers = make([]int, len(chunks))
	for i, c := range chunks {
		numbers[i] = c.Number
		for _, row := range c.Rows {
			w.Records = append(w.Records, Record{Row: row, Chunk: c.Number})
		}
		w.Rejected[c.Number] = c.Rejected
	}
	return w, numbers
}

// report counts each chunk's outcomes, in the order of chunks, and adds the
// chunks' reports to the write.
func report(w *Write, chunks []*schemas.Chunk) []schemas.Counts {
	counts := make([]schemas.Counts, len(chunks))
	index := map[int]int{}
	for i, c := range chunks {
		index[c.Number] = i
		counts[i].Rows = c.Size()
		counts[i].Rejected = len(w.Rejected[c.Number])
	}
	for _, r := range w.Rows {
		cnt := &counts[index[r.Chunk]]
		switch r.Outcome {
		case warehouse.Created:
			cnt.Created++
		case warehouse.Updated:
			cnt.Updated++
		case warehouse.Unchanged:
			cnt.Unchanged++
		case warehouse.Removed:
			cnt.Removed++
		case warehouse.Renamed:
			cnt.Renamed++
		case warehouse.Partial:
			cnt.Partial++
		}
	}
	countRemoved := func(ds *schemas.Dataset, records []Record) {
		for _, r := range records {
			switch {
			case r.Outcome != warehouse.Removed:
			case ds == schemas.Memberships:
				counts[index[r.Chunk]].RemovedMemberships++
			case ds == schemas.GroupRecords:
				counts[index[r.Chunk]].RemovedGroups++
			}
		}
	}
	countRemoved(w.Dataset, w.Records)
	for ds, records := range w.Also {
		countRemoved(ds, records)
	}
	for i, c := range chunks {
		w.Chunks = append(w.Chunks, ChunkReport{Number: c.Number, FirstRow: c.FirstRow, Counts: counts[i]})
	}
	return counts
}

// deadLetter sends the rows load rejected to the dead-letter stream, by
// chunk, as validate sends its own.
func (s *Stage) deadLetter(imp schemas.Import, late map[int][]schemas.Rejected) error {
	for chunk, rejected := range late {
		if err := bus.PublishDeadLetters(s.Pub, s.metrics, schemas.TokenLoadDLQ, imp, chunk, rejected); err != nil {
			return err
		}
	}
	return nil
}

// count adds the chunks' outcomes to the stage's row metric.
func (s *Stage) count(counts []schemas.Counts) {
	for _, c := range counts {
		s.metrics.Rows.WithLabelValues(warehouse.Created).Add(float64(c.Created))
		s.metrics.Rows.WithLabelValues(warehouse.Updated).Add(float64(c.Updated))
		s.metrics.Rows.WithLabelValues(warehouse.Unchanged).Add(float64(c.Unchanged))
		s.metrics.Rows.WithLabelValues(warehouse.Removed).Add(float64(c.Removed))
		s.metrics.Rows.WithLabelValues(warehouse.Renamed).Add(float64(c.Renamed))
		s.metrics.Rows.WithLabelValues(warehouse.Partial).Add(float64(c.Partial))
		s.metrics.Rows.WithLabelValues(warehouse.Rejected).Add(float64(c.Rejected))
	}
}

// decide decides the outcome of every record of the write: against the
// stored records, once each record's identity is known (identify), and the
// tenant's other records (checkRelations). retried
// says some chunk may have been written before (a retry or a redelivery):
// only then are earlier outcomes looked up. In a cancelled import, a row
// no earlier attempt decided is rejected as cancelled.
func (s *Stage) decide(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, w *Write, chunks []int, retried, cancelled bool) (*permissions, error) {
	var audited map[int]Audit
	if retried {
		var err error
		if audited, err = s.wh.Audited(ctx, imp.ID, chunks); err != nil {
			return nil, err
		}
	}
	records := w.Records
	if cancelled {
		records = cancel(w, audited)
	}
	stored, err := s.identify(ctx, ds, imp, records)
	if err != nil {
		return nil, err
	}
	if err := s.checkRelations(ctx, ds, imp, records); err != nil {
		return nil, err
	}
	perms, err := s.permissionsOf(ctx, imp, records)
	if err != nil {
		return nil, err
	}
	perms.mirror(records)
	if shape, _ := imp.Schema(); shape == schemas.RenameGroups {
		checkRenames(records, stored)
	}
	Decide(ds, imp, records, audited, stored)
	return perms, nil
}

// stored returns the latest stored version of the records, by identity:
// their hashes, and the cells of those that exist and left cells empty,
// which keep the stored values there (most records need no more than the
// hash).
func (s *Stage) stored(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, records []Record) (map[string]Stored, error) {
	key := ds.IdentityIndex()
	keys := make([]string, len(records))
	for i, r := range records {
		keys[i] = r.Row.Cells[key]
	}
	stored, err := s.wh.Stored(ctx, ds, imp.Tenant, keys, imp.Version, false)
	if err != nil {
		return nil, err
	}
	var keep []string
	for _, r := range records {
		k := r.Row.Cells[key]
		if _, ok := stored[k]; ok && r.Row.AnyEmpty() {
			keep = append(keep, k)
		}
	}
	if len(keep) == 0 {
		return stored, nil
	}
	cells, err := s.wh.Stored(ctx, ds, imp.Tenant, keep, imp.Version, true)
	if err != nil {
		return nil, err
	}
	maps.Copy(stored, cells)
	return stored, nil
}

// cancel rejects as cancelled every record of a cancelled import's write that
// no earlier attempt decided, and returns the others, which keep their
// audited outcomes.
func cancel(w *Write, audited map[int]Audit) (live []Record) {
	var gone []Record
	for _, r := range w.Records {
		if _, ok := audited[r.Row.N]; ok {
			live = append(live, r)
			continue
		}
		r.reject(schemas.Violation{Code: schemas.CodeCancelled, Message: schemas.MsgCancelled})
		gone = append(gone, r)
	}
	w.Records = append(gone, live...)
	return w.Records[len(gone):]
}

// also returns the records a write makes besides its dataset's: the
// memberships given (a users import's, or those a group's removal or rename
// removes or moves), and the group of every membership added (a write of
// groups has its own).
func also(ds *schemas.Dataset, given, records []Record) map[*schemas.Dataset][]Record {
	memberships := given
	if ds == schemas.Memberships {
		memberships = records
	}
	if len(memberships) == 0 {
		return nil
	}
	out := map[*schemas.Dataset][]Record{}
	if len(given) > 0 {
		out[schemas.Memberships] = given
	}
	if ds == schemas.GroupRecords {
		return out
	}
	group := schemas.Memberships.Index("Groupname")
	seen := map[string]bool{}
	for _, m := range memberships {
		g := m.Row.Cells[group]
		if m.Outcome == warehouse.Rejected || schemas.Memberships.IsRemoval(m.Row.Cells) || seen[g] {
			continue
		}
		seen[g] = true
		cells := schemas.Group(g, "") // typed by typeAlso
		out[schemas.GroupRecords] = append(out[schemas.GroupRecords], Record{Row: schemas.Row{N: m.Row.N, Cells: cells}, Chunk: m.Chunk, Hash: schemas.RowHash(cells), Outcome: warehouse.Created})
	}
	return out
}

// settle gives a row's records one fate: if one is rejected, every one is,
// with every reason (a row is loaded whole or not at all). A row's records
// are next to each other. In a layout whose values are judged each on its
// own (shape.EachItem: a group's members), a row is rejected whole only
// when every record of it is; a rejected record's reasons name its value's
// column, as the partner finds it in the file (shape.ItemColumn).
func settle(shape *schemas.Dataset, records []Record) {
	for start := 0; start < len(records); {
		end := rowEnd(records, start)
		if shape.EachItem && !eachRejected(shape, records[start:end]) {
			start = end
			continue
		}
		var why []schemas.Violation
		for _, r := range records[start:end] {
			for _, v := range r.Violations {
				if !slices.Contains(why, v) {
					why = append(why, v)
				}
			}
		}
		if why != nil {
			for i := start; i < end; i++ {
				records[i].Outcome, records[i].Violations = warehouse.Rejected, why
			}
		}
		start = end
	}
}

// rowEnd is the end of the records of the row whose first record is at
// start.
func rowEnd(records []Record, start int) int {
	end := start + 1
	for end < len(records) && records[end].Row.N == records[start].Row.N {
		end++
	}
	return end
}

// eachRejected names the column of each rejected record's value in its
// reasons (those that name a field of the record: an audited reason names
// its column already), and reports whether every record of the row is
// rejected.
func eachRejected(shape *schemas.Dataset, row []Record) bool {
	all := true
	for i := range row {
		r := &row[i]
		if r.Outcome != warehouse.Rejected {
			all = false
			continue
		}
		why := make([]schemas.Violation, len(r.Violations))
		for k, v := range r.Violations {
			if shape.Target().Index(v.Column) >= 0 {
				v.Column = shape.ItemColumn(r.Row.Item)
			}
			why[k] = v
		}
		r.Violations = why
	}
	return all
}

// rowOutcomes returns each row's outcome: partial if it is one of partial's
// rows, else renamed if it renamed a group, else removed if it removed a
// record, else created if it created one, else updated if it updated one,
// else unchanged.
func rowOutcomes(records []Record, partial map[int][]schemas.Rejected) []RowOutcome {
	rank := func(o string) int {
		switch o {
		case warehouse.Renamed:
			return 4
		case warehouse.Removed:
			return 3
		case warehouse.Created:
			return 2
		case warehouse.Updated:
			return 1
		}
		return 0
	}
	rows := make([]RowOutcome, 0, len(records))
	for _, r := range records {
		if n := len(rows); n > 0 && rows[n-1].N == r.Row.N {
			if rank(r.Outcome) > rank(rows[n-1].Outcome) {
				rows[n-1].Outcome = r.Outcome
			}
			continue
		}
		rows = append(rows, RowOutcome{N: r.Row.N, Chunk: r.Chunk, Outcome: r.Outcome})
	}
	isPartial := map[int]bool{}
	for _, rejected := range partial {
		for _, p := range rejected {
			isPartial[p.N] = true
		}
	}
	for i := range rows {
		if isPartial[rows[i].N] {
			rows[i].Outcome = warehouse.Partial
		}
	}
	return rows
}

// moveRejected moves the records load rejected (see Decide and
// checkRelations) out of the write, and lists why by row: a row all of
// whose records are rejected is a rejected row; a row with some, or with
// values validate dropped (Row.Dropped, on its first record), is partial
// (Write.Partial), its other records loaded. It returns both by chunk for
// the dead-letter stream.
func moveRejected(w *Write) map[int][]schemas.Rejected {
	var late map[int][]schemas.Rejected
	add := func(to map[int][]schemas.Rejected, r *Record, why []schemas.Violation) {
		rej := schemas.Rejected{N: r.Row.N, Violations: why}
		if w.Import.Mode == schemas.ModeSync {
			rej.Keys = []string{r.Row.Cells[w.Dataset.KeyIndex()]} // its record is in the file
		}
		if late == nil {
			late = map[int][]schemas.Rejected{}
		}
		late[r.Chunk] = append(late[r.Chunk], rej)
		to[r.Chunk] = append(to[r.Chunk], rej)
	}
	kept := w.Records[:0]
	for start := 0; start < len(w.Records); {
		end := rowEnd(w.Records, start)
		first := w.Records[start]
		why := slices.Clone(first.Row.Dropped)
		rejected := 0
		for _, r := range w.Records[start:end] {
			if r.Outcome != warehouse.Rejected {
				continue
			}
			rejected++
			for _, v := range r.Violations {
				if !slices.Contains(why, v) {
					why = append(why, v) // settle gave a row rejected whole every reason on each record
				}
			}
		}
		switch {
		case rejected == end-start:
			add(w.Rejected, &first, why)
		case why != nil:
			add(w.Partial, &first, why)
		}
		// kept never runs ahead of the records read: it may reuse their
		// array.
		for _, r := range w.Records[start:end] {
			if r.Outcome != warehouse.Rejected {
				kept = append(kept, r)
			}
		}
		start = end
	}
	w.Records = kept
	return late
}
