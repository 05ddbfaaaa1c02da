// Package ingest turns bucket events into chunks of rows. It owns the claim
// ledger (each object version is imported once), reading objects as streams,
// detecting their format, checking their header and row limit, finding rows
// whose key (or identity, or a Unique value) repeats an earlier row of the same file, and cutting the rows into
// chunks on sluice.rows.raw.<tenant>.<dataset>, with every cell a field
// takes from another filled in (schemas.Field.From: a users file's login is
// the email when it gives none), so that every stage sees the same key; and
// the bucket sync, which imports what no bucket event brought (sync.go). The
// sync runs on a second durable consumer (SyncConsumer), one request at a
// time per instance: a JetStream message schedule on the SYNC stream fires a
// request at the operator's time (SyncSchedule; `sluice migrate` puts it),
// once for all instances, and each instance asks for one as it starts. An
// object the sync cannot read or import is logged and left to the next sync;
// the sync goes on with the others.
//
// It reads each upload's options from its metadata, over the tenant's
// defaults (X-Amz-Meta-Mode: create, update, sync, or remove for groups
// files; -On-Error, -Invite, -Assign-Groups,
// -Mirror-User, -Preview, -Force: see setOptions; a sync, X-Amz-Meta-Mode:
// sync, of a dataset that cannot deactivate records, groups and memberships,
// is refused, and a tenant that syncs by default updates them), and seals
// the cells of secret fields (passwords) before any leaves. A bucket event
// saying a file was deleted cancels the import of it that may be running
// (bus.Cancellations).
//
// It imports a bucket event's object only when the access key that put it
// (the event's principalId) is one of its tenant's keys (principal.go);
// anything else is refused and the operator told. The bucket sync, which
// sees no principal, relies on MinIO's policies, which confine each
// tenant's key to its prefix.
//
// It matches a file's header to its dataset in the import's mode
// (schemas.Dataset.Match: labels count, and in update mode only the key
// column is required), and records on the import which columns it read by
// a label (schemas.Import.Labels). It judges no cell: rules are validate's.
// A file that cannot be read as a whole (unknown tenant or dataset, wrong
// format, missing, unknown or repeated column, too many rows) is rejected
// as a whole: an import.rejected event, and no chunk, so no row of it is
// ever loaded.
//
// A file is read twice: once to check its header and count its lines, so
// that a file over its row limit is rejected before any chunk leaves, and
// once to publish. Neither read holds more than one chunk in memory; the one thing
// that grows with the file is the set of 8-byte key hashes used to find
// duplicate keys, bounded by the tenant's row limit. A dataset with a field
// that may name another row of the file (Ref.InFile: a user's manager)
// has its first read parse every row and keep an 8-byte hash of each value
// such a field may name, so that the second marks the cells that name a
// row of the file wherever that row is (Row.InFile), whatever the chunks.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// Config is the ingest stage's configuration.
type Config struct {
	// ChunkRows is the most rows one chunk message carries.
	ChunkRows int
	// MaxLineBytes bounds one row of a file.
	MaxLineBytes int
	// Concurrency is how many files one instance reads at once.
	Concurrency int
	// Lease is how long a claim outlives its last heartbeat; it must be
	// shorter than AckWait (see Ledger).
	Lease   time.Duration
	AckWait time.Duration
	// MaxFileTime bounds the reading of one file.
	MaxFileTime time.Duration
	MaxDeliver  int
	// Horizon is how long a bucket event may wait out an outage.
	Horizon time.Duration
	// Bucket is what the bucket sync lists (none: no sync), at SyncAt in
	// SyncTimeZone and once at start-up (see SyncSchedule); it leaves
	// objects younger than SyncGrace to their events.
	Bucket       string
	SyncAt       string
	SyncTimeZone string
	SyncGrace    time.Duration
}

func (c *Config) setDefaults() {
	if c.ChunkRows == 0 {
		c.ChunkRows = 5000
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.Concurrency == 0 {
		c.Concurrency = 2
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Lease == 0 {
		c.Lease = c.AckWait * 2 / 3
	}
	if c.MaxFileTime == 0 {
		c.MaxFileTime = time.Hour
	}
	if c.SyncAt == "" {
		c.SyncAt = "02:00"
	}
	if c.SyncTimeZone == "" {
		c.SyncTimeZone = "UTC"
	}
	if c.SyncGrace == 0 {
		c.SyncGrace = time.Hour
	}
}

// Validate reports a configuration ingest cannot run with.
func (c Config) Validate() error {
	switch {
	case c.ChunkRows <= 0:
		return errors.New("ingest: ChunkRows must be positive")
	case c.MaxLineBytes < 1024:
		return errors.New("ingest: MaxLineBytes must be at least 1024")
	case c.Lease >= c.AckWait:
		return errors.New("ingest: Lease must be shorter than AckWait")
	}
	_, err := SyncSchedule(c)
	return err
}

// publishers is how many chunks of one file are being published at once.
const publishers = 4

// ObjectStore is what ingest needs of the bucket.
type ObjectStore interface {
	// Open streams the object version ref points at. A *FileError says the
	// object cannot be imported (it was replaced, say).
	Open(ctx context.Context, ref ObjectRef) (io.ReadCloser, error)
	// List calls each for every object of the bucket (with its key, ETag,
	// size and time, but not its uploader).
	List(ctx context.Context, bucket string, each func(ObjectRef) error) error
	// Metadata reads an object's user metadata (X-Amz-Meta-*).
	Metadata(ctx context.Context, bucket, key string) (map[string]string, error)
}

// Stage is the ingest stage.
type Stage struct {
	*bus.Runner
	cfg     Config
	nc      *nats.Conn
	store   ObjectStore
	tenants platform.TenantSource
	secrets *platform.Secrets
	ledger  *Ledger
	// syncer runs the bucket sync when it is asked for (sync.go); nil
	// with no Bucket.
	syncer  *bus.Runner
	cancels bus.Cancellations
	metrics *platform.Metrics
	logger  *slog.Logger
	seed    maphash.Seed
}

// New builds the ingest stage on the claims bucket and the S3_EVENTS stream.
func New(cfg Config, nc *nats.Conn, store ObjectStore, tenants platform.TenantSource, secrets *platform.Secrets, m *platform.Metrics, logger *slog.Logger) (*Stage, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	kv, err := js.KeyValue(bus.ClaimsBucket)
	if err != nil {
		return nil, fmt.Errorf("ingest: claims bucket: %w", err)
	}
	cancelled, err := js.KeyValue(bus.CancelledBucket)
	if err != nil {
		return nil, fmt.Errorf("ingest: cancelled bucket: %w", err)
	}
	s := &Stage{cfg: cfg, nc: nc, store: store, tenants: tenants, secrets: secrets,
		ledger: NewLedger(kv, cfg.Lease), cancels: bus.Cancellations{KV: cancelled}, metrics: m, logger: logger, seed: maphash.MakeSeed()}
	for _, reason := range []string{RefusedUnknownKey, RefusedOtherTenant} { // series from the start, for alerts
		m.Refused.WithLabelValues(reason)
	}
	c, err := Consumer(cfg)
	if err != nil {
		return nil, err
	}
	if s.Runner, err = bus.NewRunner(schemas.StageIngest, nc, c, m, logger, s.handle); err != nil {
		return nil, err
	}
	if cfg.Bucket != "" {
		if s.syncer, err = bus.NewRunner(schemas.StageIngest, nc, SyncConsumer(cfg), m, logger, s.handleSync); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Consumer is ingest's durable consumer on the S3_EVENTS stream as cfg
// configures it: `sluice migrate` creates it, New binds to it.
func Consumer(cfg Config) (bus.Consumer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return bus.Consumer{}, err
	}
	return bus.Consumer{
		Name:           schemas.DurableIngest,
		Stream:         schemas.StreamS3Events,
		Subject:        schemas.SubjectS3Events,
		AckWait:        cfg.AckWait,
		HandlerTimeout: cfg.MaxFileTime,
		MaxDeliver:     cfg.MaxDeliver,
		Horizon:        cfg.Horizon,
		Concurrency:    cfg.Concurrency,
	}, nil
}

func (s *Stage) handle(msg *message.Message) error {
	refs, err := ParseEvent(msg.Payload)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if ref.Removed {
			// Deleting a file stops its import (bus.Cancellations); so
			// does `sluice cancel`, which sends the file's deletion as
			// operate.CancelPrincipal.
			if err := s.cancels.Cancel(ref.Bucket, ref.Key, ref.Time); err != nil {
				return err
			}
			s.logger.Info("ingest: file deleted: its import, if running, is cancelled", "key", ref.Key, "by", ref.Principal)
			continue
		}
		if reason, owner := s.refusal(ref); reason != "" {
			if err := s.refuse(ref, reason, owner); err != nil {
				return err
			}
			continue
		}
		// The event holds its claim: its retry or redelivery may take it
		// back even if its release failed (see Ledger).
		if err := s.Ingest(msg.Context(), ref, "event "+msg.UUID, func() { _ = bus.InProgress(s.nc, msg) }); err != nil {
			return err
		}
	}
	return nil
}

// Run handles bucket events, and the requests for a bucket sync (asking for
// one as it starts), until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	if s.syncer == nil {
		return s.Runner.Run(ctx)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.syncer.Run(ctx) })
	g.Go(func() error { return s.Runner.Run(ctx) })
	s.askStartUpSync()
	return g.Wait()
}

// Ingest imports one object version, once: it claims it for holder, reads
// it and publishes its chunks and events. alive is called while it works, to
// keep the bucket event from being redelivered.
func (s *Stage) Ingest(ctx context.Context, ref ObjectRef, holder string, alive func()) error {
	claim, err := s.ledger.Claim(ref, holder)
	if errors.Is(err, ErrClaimed) {
		s.logger.Info("ingest: duplicate event ignored", "key", ref.Key, "version", ref.Version)
		return nil
	}
	if err != nil {
		return err
	}
	imp := schemas.Import{
		ID: claim.ImportID(), Bucket: ref.Bucket, Key: ref.Key, ObjectVersion: ref.Version,
		Uploader: ref.Uploader, Version: claim.Version(), ReceivedAt: ref.Time.UTC().Truncate(time.Second),
	}
	if imp.ReceivedAt.IsZero() {
		imp.ReceivedAt = time.Now().UTC().Truncate(time.Second)
	}
	imp.Tenant, imp.Dataset, imp.GroupType, imp.FileName, _ = splitKey(ref.Key)
	if imp.Dataset == "" {
		imp.Tenant = s.folderTenant(ref.Key)
	}

	stop := s.keepAlive(claim, alive)
	err = s.read(ctx, imp, ref)
	stop()
	var fe *FileError
	if errors.As(err, &fe) {
		s.metrics.Rows.WithLabelValues("file_rejected").Inc()
		err = bus.Publish(s.Pub, schemas.ImportSubject(schemas.EventRejected, imp.ID), schemas.MsgID(imp.ID, schemas.TokenRejected, 0),
			schemas.ImportEvent{Type: schemas.EventRejected, Import: imp, Reason: &fe.V})
		if err == nil {
			s.metrics.Rejections.WithLabelValues(imp.Tenant, fe.V.Code).Inc()
		}
	}
	if err != nil {
		// Let the retry (or the redelivery) take the claim over at once.
		if rerr := s.ledger.Release(claim); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	return s.ledger.Done(claim)
}

// folderTenant is the tenant whose folder holds key, a key that is not
// <tenant>/<dataset>/<file name>, if sluice knows it: the file is rejected
// (bad_key), and that tenant is told, and sees the import, as of any other
// file it puts. "" if the first folder names no tenant.
func (s *Stage) folderTenant(key string) string {
	first, _, found := strings.Cut(key, "/")
	if _, known := s.tenants.Current()[first]; found && known {
		return first
	}
	return ""
}

// keepAlive heartbeats the claim and calls alive until stop is called.
func (s *Stage) keepAlive(claim *Claim, alive func()) (stop func()) {
	return bus.Every(s.cfg.Lease/4, func() {
		alive()
		if err := s.ledger.Heartbeat(claim); err != nil {
			s.logger.Warn("ingest: heartbeat", "import", claim.ImportID(), "err", err)
		}
	})
}

// read checks the file as a whole, then publishes its chunks and the
// ingested event. A *FileError rejects the file.
func (s *Stage) read(ctx context.Context, imp schemas.Import, ref ObjectRef) error {
	if err := bus.Publish(s.Pub, schemas.ImportSubject(schemas.EventReceived, imp.ID), schemas.MsgID(imp.ID, schemas.TokenReceived, 0),
		schemas.ImportEvent{Type: schemas.EventReceived, Import: imp}); err != nil {
		return err
	}
	tenant, ds, err := s.accept(&imp, ref)
	if err != nil {
		return err
	}
	header, in, err := s.checkSize(ctx, ref, ds, imp.Mode, tenant.MaxRows, imp.Context())
	if err != nil {
		return err
	}
	if header.Shape != ds {
		imp.Layout = header.Shape.Name
	}
	if imp.Mode == schemas.ModeSync && !header.Shape.Syncs() {
		// A groups file of names or renames: a sync of it could only
		// remove every membership.
		if metadata(ref.Meta, schemas.OptionMode) != "" {
			return fileError(schemas.CodeSyncUnsupported, schemas.MsgSyncUnsupported(header.Shape))
		}
		imp.Mode = schemas.ModeUpdate
	}
	imp.Labels = header.Labels
	chunks, rows, format, err := s.publish(ctx, imp, ref, ds, header.Shape, tenant.MaxRows, in)
	if err != nil {
		return err
	}
	return bus.Publish(s.Pub, schemas.ImportSubject(schemas.EventIngested, imp.ID), schemas.MsgID(imp.ID, schemas.TokenIngested, 0),
		schemas.ImportEvent{Type: schemas.EventIngested, Import: imp, Chunks: chunks, Rows: rows, File: format})
}

// accept checks what the object's key, size and metadata say before the
// file is opened: a tenant sluice knows, options it may take, a size within
// the tenant's limit and a dataset sluice knows. It sets the import's
// options and returns the tenant and the dataset.
func (s *Stage) accept(imp *schemas.Import, ref ObjectRef) (platform.Tenant, *schemas.Dataset, error) {
	if imp.Dataset == "" {
		return platform.Tenant{}, nil, fileError(schemas.CodeBadKey, schemas.MsgBadKey(ref.Key))
	}
	tenant, ok := s.tenants.Current()[imp.Tenant]
	if !ok {
		return platform.Tenant{}, nil, fileError(schemas.CodeUnknownTenant, schemas.MsgUnknownTenant(imp.Tenant))
	}
	if err := setOptions(imp, tenant, ref.Meta); err != nil {
		return platform.Tenant{}, nil, err
	}
	if ref.Size > tenant.MaxBytes {
		return platform.Tenant{}, nil, fileError(schemas.CodeTooLarge, schemas.MsgTooLarge(tenant.MaxBytes))
	}
	ds, ok := schemas.Lookup(imp.Dataset)
	if !ok {
		known := make([]string, 0, len(schemas.Datasets))
		for name := range schemas.Datasets {
			known = append(known, name)
		}
		sort.Strings(known)
		return platform.Tenant{}, nil, fileError(schemas.CodeUnknownDataset, schemas.MsgUnknownDataset(imp.Dataset, known))
	}
	return tenant, ds, nil
}

// publish reads the file's rows (in its layout of ds) and publishes them in
// chunks, with their duplicates found, the cells that name another row of
// the file marked (in) and their secrets sealed. It returns
// how many chunks and rows it published, and the file's format. Chunks are
// published by a few goroutines while the file is read, so that reading
// does not wait for each publish's ack.
func (s *Stage) publish(ctx context.Context, imp schemas.Import, ref ObjectRef, ds, layout *schemas.Dataset, maxRows int, in *inFile) (chunks, rows int, format schemas.FileFormat, err error) {
	out := make(chan *schemas.Chunk, publishers)
	g, gctx := errgroup.WithContext(ctx)
	for range publishers {
		g.Go(func() error {
			for c := range out {
				if err := bus.PublishChunk(s.Pub, schemas.RawRowsSubject(imp.Tenant, imp.Dataset),
					schemas.MsgID(imp.ID, schemas.StageIngest, c.Number), c); err != nil {
					return err
				}
				s.metrics.Rows.WithLabelValues("read").Add(float64(len(c.Rows)))
			}
			return nil
		})
	}
	cut := &chunker{imp: imp, size: s.chunkRows(layout), out: out}
	dups := s.newDuplicates(layout, imp.Context())
	format, err = s.scan(gctx, ref, ds, imp.Mode, maxRows, func(row schemas.Row) error {
		rows++
		if row.Problem == nil {
			layout.FillFrom(row.Cells) // the login a users file leaves out is the email
			row.Duplicates = dups.find(row)
			in.mark(&row)
		}
		s.seal(layout, row.Cells) // whatever the row's problem: its cells travel
		return cut.add(gctx, row)
	})
	if err == nil {
		err = cut.flush(gctx)
	}
	close(out)
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return cut.sent, rows, format, err
}

// chunkRows is how many rows a chunk of the dataset carries: fewer when its
// rows have a secret to hash (SecretChunkRows).
func (s *Stage) chunkRows(ds *schemas.Dataset) int {
	if hasSecret(ds) {
		return min(s.cfg.ChunkRows, SecretChunkRows)
	}
	return s.cfg.ChunkRows
}

// MaxChunkBytes bounds the cells of one chunk, whatever its row count: a
// chunk is full at ChunkRows rows or once its cells add up to this many
// bytes. With one row bounded by MaxLineBytes (1 MiB by default), a chunk,
// the chunks validate and transform derive from it and the dead-letter
// message of its rejected rows (whose echoed values are cut, schemas.Echo)
// stay well under JetStream's max payload (8 MiB). The rows of ordinary
// files are far smaller: 5000 rows of clients take about 0.5 MiB.
const MaxChunkBytes = 1 << 20

// chunker cuts an import's rows into numbered chunks of size rows, or of
// MaxChunkBytes of cells, and sends each full one to out.
type chunker struct {
	imp  schemas.Import
	size int
	out  chan<- *schemas.Chunk
	c    *schemas.Chunk
	// bytes are the cells' bytes of the current chunk.
	bytes int
	// sent is the number of the last chunk sent.
	sent int
}

// add adds a row to the current chunk, and sends the chunk once it is full.
func (k *chunker) add(ctx context.Context, row schemas.Row) error {
	if k.c == nil {
		k.c = &schemas.Chunk{Import: k.imp, Number: k.sent + 1, Rows: make([]schemas.Row, 0, k.size)}
		k.bytes = 0
	}
	k.c.Rows = append(k.c.Rows, row)
	for _, c := range row.Cells {
		k.bytes += len(c)
	}
	if len(k.c.Rows) >= k.size || k.bytes >= MaxChunkBytes {
		return k.flush(ctx)
	}
	return nil
}

// flush sends the current chunk, if it has rows.
func (k *chunker) flush(ctx context.Context) error {
	if k.c == nil || len(k.c.Rows) == 0 {
		return nil
	}
	k.c.FirstRow = k.c.Rows[0].N
	select {
	case k.out <- k.c:
	case <-ctx.Done():
		return ctx.Err()
	}
	k.sent, k.c = k.c.Number, nil
	return nil
}

// setOptions sets the import's options: the upload's (its metadata), else
// the tenant's. An option the tenant does not let uploads set, or a value
// an option does not take, rejects the file.
func setOptions(imp *schemas.Import, tenant platform.Tenant, meta map[string]string) error {
	set := make(map[string]string, len(schemas.Options)) // each read once: what is checked is what is used
	for _, o := range schemas.Options {
		if set[o] = metadata(meta, o); set[o] != "" && !tenant.AllowsOption(o) {
			return fileError(schemas.CodeOptionNotAllowed, schemas.MsgOptionNotAllowed(o))
		}
	}
	imp.Mode = cmp.Or(strings.ToLower(set[schemas.OptionMode]), tenant.Mode)
	if !schemas.ValidMode(imp.Mode) {
		return fileError(schemas.CodeBadMode, schemas.MsgBadMode(imp.Mode))
	}
	if ds, ok := schemas.Lookup(imp.Dataset); ok && imp.Mode == schemas.ModeRemove && !schemas.RemovesRecords(ds) {
		return fileError(schemas.CodeBadMode, schemas.MsgRemoveGroupsOnly(imp.Dataset))
	}
	if ds, ok := schemas.Lookup(imp.Dataset); ok && imp.Mode == schemas.ModeSync && !ds.Syncs() {
		// Accounts cannot be deactivated: an upload that asks is
		// refused; a tenant that syncs by default updates them.
		if set[schemas.OptionMode] != "" {
			return fileError(schemas.CodeSyncUnsupported, schemas.MsgSyncUnsupported(ds))
		}
		imp.Mode = schemas.ModeUpdate
	}
	imp.OnError = cmp.Or(strings.ToLower(set[schemas.OptionOnError]), tenant.OnError)
	if !schemas.ValidOnError(imp.OnError) {
		return fileError(schemas.CodeBadOption, schemas.MsgBadOption(schemas.OptionOnError, imp.OnError, schemas.OnErrorContinue, schemas.OnErrorAbort))
	}
	var err error
	if imp.Invite, err = boolOption(set, schemas.OptionInvite, tenant.Invite); err != nil {
		return err
	}
	if imp.Preview, err = boolOption(set, schemas.OptionPreview, tenant.Preview); err != nil {
		return err
	}
	if imp.Force, err = boolOption(set, schemas.OptionForce, false); err != nil {
		return err
	}
	if groups := set[schemas.OptionAssignGroups]; groups != "" {
		for g := range strings.FieldsFuncSeq(groups, func(r rune) bool { return r == ';' || r == ',' }) {
			if g = strings.TrimSpace(g); g != "" {
				imp.AssignGroups = append(imp.AssignGroups, g)
			}
		}
	}
	imp.MirrorUser = strings.ToLower(set[schemas.OptionMirrorUser])
	if (imp.AssignGroups != nil || imp.MirrorUser != "") && imp.Dataset != schemas.Users.Name {
		return fileError(schemas.CodeBadOption, schemas.MsgPermissionsUsersOnly)
	}
	imp.Region, imp.Password = tenant.Region, *tenant.Password
	return nil
}

// boolOption reads a yes-or-no option of set: def when the upload leaves
// it out.
func boolOption(set map[string]string, option string, def bool) (bool, error) {
	switch v := strings.ToLower(set[option]); v {
	case "":
		return def, nil
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	default:
		return false, fileError(schemas.CodeBadOption, schemas.MsgBadOption(option, v, "true", "false"))
	}
}

// duplicates finds the rows whose key, identity or a Unique field has the
// value of an earlier row's. It keeps an 8-byte hash per value, not the value.
type duplicates struct {
	ds     *schemas.Dataset
	ctx    schemas.Context
	seed   maphash.Seed
	fields []int
	seen   []map[uint64]int
}

func (s *Stage) newDuplicates(ds *schemas.Dataset, ctx schemas.Context) *duplicates {
	d := &duplicates{ds: ds, ctx: ctx, seed: s.seed}
	for i, f := range ds.Fields {
		if i == ds.KeyIndex() || i == ds.IdentityIndex() || f.Unique {
			d.fields = append(d.fields, i)
			d.seen = append(d.seen, map[uint64]int{})
		}
	}
	return d
}

func (d *duplicates) find(row schemas.Row) []schemas.Duplicate {
	var out []schemas.Duplicate
	for j, i := range d.fields {
		if i == d.ds.KeyIndex() && d.ds.MayRepeatKey {
			continue
		}
		v := d.ds.Fields[i].CanonicalValue(row.Cells[i], d.ctx)
		if v == "" {
			continue
		}
		h := maphash.String(d.seed, v)
		if first, dup := d.seen[j][h]; dup {
			out = append(out, schemas.Duplicate{Field: i, Of: first})
		} else {
			d.seen[j][h] = row.N
		}
	}
	return out
}

// inFile holds the values that the rows of a file have in the fields a
// Ref.InFile names (a user's email, which another row may name as its
// manager's), each with the first row that has it: an 8-byte hash per
// value, as duplicates keeps. The first read fills it (add), the second
// marks the cells that name another row (mark).
type inFile struct {
	ds   *schemas.Dataset
	ctx  schemas.Context
	seed maphash.Seed
	// refs are the fields with a Ref.InFile, named names the field each
	// names, and rows the values found there, by hash, with their row.
	refs, named []int
	rows        []map[uint64]int
}

// newInFile returns the inFile of a dataset, or nil if none of its fields
// may name a row of the file.
func (s *Stage) newInFile(ds *schemas.Dataset, ctx schemas.Context) *inFile {
	var in *inFile
	for i, f := range ds.Fields {
		if f.Ref == nil || f.Ref.InFile == "" {
			continue
		}
		if in == nil {
			in = &inFile{ds: ds, ctx: ctx, seed: s.seed}
		}
		in.refs, in.named, in.rows = append(in.refs, i), append(in.named, ds.Index(f.Ref.InFile)), append(in.rows, map[uint64]int{})
	}
	return in
}

// add records the values of a row that the refs may name.
func (in *inFile) add(row schemas.Row) error {
	if row.Problem != nil {
		return nil
	}
	for j, i := range in.named {
		if v := in.ds.Fields[i].CanonicalValue(row.Cells[i], in.ctx); v != "" {
			h := maphash.String(in.seed, v)
			if _, seen := in.rows[j][h]; !seen {
				in.rows[j][h] = row.N
			}
		}
	}
	return nil
}

// mark sets the row's InFile bit of each ref that names another row of the
// file. A nil inFile marks nothing.
func (in *inFile) mark(row *schemas.Row) {
	if in == nil {
		return
	}
	for j, i := range in.refs {
		v := in.ds.Fields[i].CanonicalValue(row.Cells[i], in.ctx)
		if v == "" {
			continue
		}
		if n, ok := in.rows[j][maphash.String(in.seed, v)]; ok && n != row.N {
			row.InFile |= 1 << i
		}
	}
}

// SecretChunkRows bounds the chunks of a dataset with a secret field: a
// chunk's hashes take about 1.5 CPU-seconds, so that the chunks transform has
// been sent (four times those it handles at once) are all hashed well within
// their AckWait even on two cores; larger chunks outlive AckWait, come back,
// and are hashed again (BENCHMARKS.md).
const SecretChunkRows = 50

func hasSecret(ds *schemas.Dataset) bool {
	return slices.ContainsFunc(ds.Fields, func(f schemas.Field) bool { return f.Secret })
}

// seal seals the cells of secret fields: they leave ingest only sealed.
func (s *Stage) seal(ds *schemas.Dataset, cells []string) {
	for i := range ds.Fields {
		if !ds.Fields[i].Secret {
			continue
		}
		if strings.TrimSpace(cells[i]) == "" {
			cells[i] = ""
		} else {
			cells[i] = s.secrets.Seal(cells[i])
		}
	}
}

// checkSize checks the file's header in the import's mode and returns it as
// it matched ds (its shape: ds, or the layout of ds it matches), and rejects
// a file with more than maxRows rows, or a row over the line limit, before
// any of its rows leaves. A shape with a field that may name another row of
// the file is read by the parser now, every row, for the values such a
// field may name (the inFile it returns; else nil). A fast
// count of its physical lines, quotes ignored, settles most files: it is an
// upper bound of the records, which a stray quote cannot fool. A file with
// more lines than maxRows, or whose quoted fields may span lines past the
// line limit, is read by the parser that reads its rows, and its records
// counted one by one, before anything is published.
func (s *Stage) checkSize(ctx context.Context, ref ObjectRef, ds *schemas.Dataset, mode string, maxRows int, c schemas.Context) (schemas.Header, *inFile, error) {
	body, err := s.store.Open(ctx, ref)
	if err != nil {
		return schemas.Header{}, nil, err
	}
	defer body.Close()
	rr, err := NewRowReader(body, ref.Key, ds, mode, s.cfg.MaxLineBytes)
	if err != nil {
		return schemas.Header{}, nil, err
	}
	defer rr.Close()
	if in := s.newInFile(rr.Header().Shape, c); in != nil {
		_, err = s.scan(ctx, ref, ds, mode, maxRows, in.add)
		return rr.Header(), in, err
	}
	lines, sure, err := rr.LinesLeft(ctx)
	if err != nil || sure && lines <= maxRows {
		return rr.Header(), nil, err
	}
	_, err = s.scan(ctx, ref, ds, mode, maxRows, nil)
	return rr.Header(), nil, err
}

// scan reads the object's rows, calling each for every row (nil: only
// count). More than maxRows rows is a *FileError, found before each is
// called for a row past the limit. It checks ctx on every row.
func (s *Stage) scan(ctx context.Context, ref ObjectRef, ds *schemas.Dataset, mode string, maxRows int, each func(schemas.Row) error) (schemas.FileFormat, error) {
	body, err := s.store.Open(ctx, ref)
	if err != nil {
		return schemas.FileFormat{}, err
	}
	defer body.Close()
	rr, err := NewRowReader(body, ref.Key, ds, mode, s.cfg.MaxLineBytes)
	if err != nil {
		return schemas.FileFormat{}, err
	}
	defer rr.Close()
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return schemas.FileFormat{}, err
		}
		row, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return rr.Format(), nil
		}
		if err != nil {
			return schemas.FileFormat{}, err
		}
		if n > maxRows {
			return schemas.FileFormat{}, fileError(schemas.CodeTooManyRows, schemas.MsgTooManyRows(maxRows))
		}
		if each != nil {
			if err := each(row); err != nil {
				return schemas.FileFormat{}, err
			}
		}
	}
}
