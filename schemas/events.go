package schemas

import (
	"fmt"
	"time"
)

// Import identifies one upload: one version of one object. Every message of
// the import carries it, so that no stage has to look it up.
type Import struct {
	ID      string `json:"id"`
	Tenant  string `json:"tenant"`
	Dataset string `json:"dataset"`
	// Layout is the layout of the dataset the file has, if it has layouts.
	Layout string `json:"layout,omitempty"`
	// Labels are the file's columns whose header is not their field's name
	// as it is, each as "column -> field" (Header.Labels): the audit says
	// how the header was read.
	Labels   []string `json:"labels,omitempty"`
	Bucket   string   `json:"bucket"`
	Key      string   `json:"key"`
	FileName string   `json:"file_name"`
	// ObjectVersion is the object's version id, or its sequencer where the
	// bucket is not versioned.
	ObjectVersion string `json:"object_version"`
	// Uploader is the address from the object's X-Amz-Meta-Uploader, if any.
	Uploader string `json:"uploader,omitempty"`
	// Mode is ModeCreate, ModeUpdate, ModeSync or ModeRemove: the object's
	// X-Amz-Meta-Mode, else the tenant's (create, update or sync).
	Mode string `json:"mode"`
	// Force lets a sync deactivate more than its tenant's limit
	// (X-Amz-Meta-Force).
	Force bool `json:"force,omitempty"`
	// Version orders imports of a tenant: a later upload has a higher version.
	// It is the ReplacingMergeTree version of every record the import writes.
	Version    uint64    `json:"version"`
	ReceivedAt time.Time `json:"received_at"`
	// Region and Password are the tenant's phone region and password
	// policy.
	Region   string         `json:"region,omitempty"`
	Password PasswordPolicy `json:"password"`
	// OnError is OnErrorContinue or OnErrorAbort: the object's
	// X-Amz-Meta-On-Error, else the tenant's.
	OnError string `json:"on_error,omitempty"`
	// Invite asks notify to email every user the import creates an
	// invitation (seed 002): X-Amz-Meta-Invite, else the tenant's.
	Invite bool `json:"invite,omitempty"`
	// AssignGroups and MirrorUser are a users import's permissions (seed
	// 001): groups every user of the file joins (X-Amz-Meta-Assign-Groups),
	// and a user whose groups every user of the file gets
	// (X-Amz-Meta-Mirror-User, a login).
	AssignGroups []string `json:"assign_groups,omitempty"`
	MirrorUser   string   `json:"mirror_user,omitempty"`
	// Preview decides every row and loads none (seed 000's step 3, seed
	// 001's review table): X-Amz-Meta-Preview, else the tenant's. The
	// import ends StatusPreviewed; EventConfirm loads it as decided.
	Preview bool `json:"preview,omitempty"`
	// GroupType is the type a groups file's folder gives its groups
	// (<tenant>/groups/<type>/<file>), if any: a row's type column wins.
	GroupType string `json:"group_type,omitempty"`
}

// UploadedAt is when the object was uploaded, to the millisecond: the high
// bits of Version (ingest makes it so).
func (imp *Import) UploadedAt() time.Time { return time.UnixMilli(int64(imp.Version >> 20)).UTC() }

// ValidOnError reports whether o is what an import may do on error.
func ValidOnError(o string) bool { return o == OnErrorContinue || o == OnErrorAbort }

// Aborts reports whether a rejected row keeps every row of the import from
// being loaded.
func (imp *Import) Aborts() bool { return imp.OnError == OnErrorAbort }

// Stages reports whether the import's records wait in the staging tables
// until notify loads them: those of an import that aborts on error, or of
// a preview.
func (imp *Import) Stages() bool { return imp.Aborts() || imp.Preview }

// Schema is the dataset the import's file rows have: its dataset, or the
// layout of it.
func (imp *Import) Schema() (*Dataset, bool) {
	ds, ok := Lookup(imp.Dataset)
	if !ok {
		return nil, false
	}
	return ds.Layout(imp.Layout)
}

// Context is what the rules of the import's rows depend on besides their
// cells.
func (imp *Import) Context() Context {
	return Context{Tenant: imp.Tenant, ReceivedAt: imp.ReceivedAt, Region: imp.Region, Password: imp.Password}
}

// Violation is one broken rule: which column, which rule, what the partner
// reads, and the value as it may be shown (masked where the field says so).
type Violation struct {
	Column  string `json:"column"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Value   string `json:"value,omitempty"`
}

// Row is one data row of a file. N is its row number as a spreadsheet shows
// it (the header is row 1). Cells are in the dataset's field order. After
// transform, a row is a record of the dataset's Target: a row that pivots
// into several records gives each its number.
type Row struct {
	N     int      `json:"n"`
	Cells []string `json:"c"`
	// Duplicates are the key and Unique fields whose value an earlier row of
	// the same file has.
	Duplicates []Duplicate `json:"dup,omitempty"`
	// Problem is a reader-level violation (malformed row), found by ingest.
	Problem *Violation `json:"problem,omitempty"`
	// Empty has bit i set when the file left field i empty: a new record
	// gets the field's default there, an existing one keeps its stored
	// value (transform marks it).
	Empty uint64 `json:"empty,omitempty"`
	// InFile has bit i set when field i (a Ref with InFile) names another
	// row of the same file (ingest marks it): load does not look it up.
	InFile uint64 `json:"in_file,omitempty"`
	// Dropped are the values of the row's Repeated field rejected each on
	// its own (Dataset.EachItem), with why and their column: validate
	// empties them in the cell, so that the others load. After transform,
	// the row's first record carries them.
	Dropped []Violation `json:"dropped,omitempty"`
	// Item is, for a record pivoted from value i of a Repeated field, i
	// from 1 (Dataset.ItemColumn names its column); 0 for any other.
	Item int `json:"item,omitempty"`
}

// IsEmpty reports whether the file left field i of the row empty.
func (r *Row) IsEmpty(i int) bool { return r.Empty&(1<<i) != 0 }

// SetEmpty marks field i of the row as left empty by the file.
func (r *Row) SetEmpty(i int) { r.Empty |= 1 << i }

// ClearEmpty marks field i of the row as filled (a value was given to it).
func (r *Row) ClearEmpty(i int) { r.Empty &^= 1 << i }

// NamesInFile reports whether field i of the row names another row of the
// same file (Ref.InFile).
func (r *Row) NamesInFile(i int) bool { return r.InFile&(1<<i) != 0 }

// AnyEmpty reports whether the file left any field of the row empty.
func (r *Row) AnyEmpty() bool { return r.Empty != 0 }

// Duplicate says that field Field of a row has the value row Of has.
type Duplicate struct {
	Field int `json:"f"`
	Of    int `json:"of"`
}

// Rejected is a row that will not be loaded, with every reason found.
type Rejected struct {
	N          int         `json:"n"`
	Violations []Violation `json:"v"`
	// Key is the row's key (Dataset.CanonicalKey), in a sync only: its
	// record is in the file, and is not deactivated.
	Key string `json:"k,omitempty"`
}

// Chunk is one message of rows. It keeps its identity (import, number, first
// row) from ingest to load, even when validate leaves it with no rows, so that
// load reports every chunk exactly once.
type Chunk struct {
	Import   Import     `json:"import"`
	Number   int        `json:"number"`
	FirstRow int        `json:"first_row"`
	Rows     []Row      `json:"rows"`
	Rejected []Rejected `json:"rejected,omitempty"`
}

// Size is the number of file rows the chunk stands for. After transform, a
// row may stand for several records with its number, one after the other.
func (c *Chunk) Size() int {
	n := len(c.Rejected)
	for i, r := range c.Rows {
		if i == 0 || r.N != c.Rows[i-1].N {
			n++
		}
	}
	return n
}

// DLQRows is what validate sends to the dead-letter stream for a chunk that
// had rejected rows.
type DLQRows struct {
	Import Import `json:"import"`
	Chunk  int    `json:"chunk"`
	// Part numbers the messages of one chunk's rejected rows, from 0: a
	// chunk's rows are sent in parts of bounded size.
	Part     int        `json:"part,omitempty"`
	Rejected []Rejected `json:"rejected"`
}

// Replayed records, on ReplayedSubject(Seq) in the DLQ stream, that the
// poison message at sequence Seq was published again into its stage: the
// N-th time, on Subject with Msg-Id MsgID.
type Replayed struct {
	Seq     uint64    `json:"seq"`
	N       int       `json:"n"`
	Subject string    `json:"subject"`
	MsgID   string    `json:"msg_id"`
	At      time.Time `json:"at"`
}

// Import event types, the <event> token of sluice.import.<event>.<import id>.
const (
	EventReceived  = "received"
	EventRejected  = "rejected"
	EventIngested  = "ingested"
	EventProgress  = "progress"
	EventCompleted = "completed"
	// EventFailed says a message of the import went to a stage's poison
	// subject: the import cannot complete until it is replayed.
	EventFailed = "failed"
	// EventWaiting says a stage waits for a part that is away to handle a
	// message of the import.
	EventWaiting = "waiting"
	// EventContinue asks notify to load the good rows of an import that
	// requires intervention, leaving the rejected ones out (seed 002's
	// "Continue"): `sluice continue` publishes it.
	EventContinue = "continue"
	// EventConfirm asks notify to load a previewed import as it was
	// decided, without reading its file again: `sluice confirm` publishes
	// it.
	EventConfirm = "confirm"
)

// Import statuses, as stored in the imports table.
const (
	StatusReceived            = "received"
	StatusProcessing          = "processing"
	StatusCompleted           = "completed"
	StatusCompletedWithErrors = "completed_with_errors"
	StatusRejected            = "rejected"
	// StatusRequiresIntervention is an import in abort mode with rejected
	// rows: none of its rows was loaded; a corrected file uploaded at the
	// same key is imported afresh, or EventContinue loads its good rows
	// (seed 002's "requires intervention", "Continue").
	StatusRequiresIntervention = "requires_intervention"
	// StatusCancelled is an import whose file was deleted from the bucket
	// while it was imported, or that `sluice cancel` stopped (as if it
	// were): the rows loaded before stay, the others are rejected as
	// cancelled (seed 003's stop button).
	StatusCancelled = "cancelled"
	// StatusFailed is an import whose processing did not complete: a
	// message of it went to a stage's poison subject (seed 002's "Error").
	// The rows loaded before stay; a replay of the message completes it.
	StatusFailed = "failed"
	// StatusPreviewed is an import that decided every row and loaded none
	// (Import.Preview): its counts say what would happen; EventConfirm
	// loads it.
	StatusPreviewed = "previewed"
)

// Statuses lists every import status, in the order of the imports table's
// enum.
var Statuses = []string{StatusReceived, StatusProcessing, StatusCompleted, StatusCompletedWithErrors, StatusRejected,
	StatusRequiresIntervention, StatusCancelled, StatusFailed, StatusPreviewed}

// FinalStatus reports whether an import with the status has ended.
func FinalStatus(s string) bool {
	return s != StatusReceived && s != StatusProcessing
}

// HoldsStaged reports whether an ended import with the status may still
// load its staged records: a failed one when its message is replayed, one
// that requires intervention when it is continued (EventContinue), a
// previewed one when it is confirmed (EventConfirm).
func HoldsStaged(s string) bool {
	return s == StatusFailed || s == StatusRequiresIntervention || s == StatusPreviewed
}

// What to do with an import that has rejected rows (seed 002: continue, or
// restart with a corrected file).
const (
	// OnErrorContinue loads the good rows and reports the bad.
	OnErrorContinue = "continue"
	// OnErrorAbort loads no row unless every row is good.
	OnErrorAbort = "abort"
)

// Counts are an import's or a chunk's row outcomes: Rows is Created +
// Updated + Unchanged + Removed + Renamed + Partial + Rejected. A removal
// row that removed nothing is Unchanged.
type Counts struct {
	Rows      int `json:"rows"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
	// Removed rows removed memberships or groups (ModeRemove); Renamed
	// rows renamed a group (RenameGroups).
	Removed int `json:"removed,omitempty"`
	Renamed int `json:"renamed,omitempty"`
	// RemovedMemberships and RemovedGroups count the records the removed
	// rows removed (a group's removal removes its memberships too).
	RemovedMemberships int `json:"removed_memberships,omitempty"`
	RemovedGroups      int `json:"removed_groups,omitempty"`
	// Partial rows loaded some of their values and rejected the others,
	// each with why (Dataset.EachItem: a group's members).
	Partial int `json:"partial,omitempty"`
}

// Loaded is the number of rows whose records were written or found as they
// are: every row but the rejected.
func (k Counts) Loaded() int {
	return k.Created + k.Updated + k.Unchanged + k.Removed + k.Renamed + k.Partial
}

// Bad is the number of rows with a rejected value: the rejected and the
// partial ones.
func (k Counts) Bad() int { return k.Rejected + k.Partial }

// FileFormat is what ingest found out about a file.
type FileFormat struct {
	Format    string `json:"format"`
	Delimiter string `json:"delimiter,omitempty"`
	Encoding  string `json:"encoding,omitempty"`
}

// ImportEvent is published on sluice.import.<Type>.<import id>.
type ImportEvent struct {
	Type   string `json:"type"`
	Import Import `json:"import"`
	// Reason is why a whole file was rejected (EventRejected).
	Reason *Violation `json:"reason,omitempty"`
	// Chunks and Rows are the totals ingest cut the file into (EventIngested).
	Chunks int        `json:"chunks,omitempty"`
	Rows   int        `json:"rows,omitempty"`
	File   FileFormat `json:"file"`
	// Chunk and Counts are one chunk's outcomes (EventProgress), or the
	// import's (EventCompleted).
	Chunk  int    `json:"chunk,omitempty"`
	Counts Counts `json:"counts"`
	Status string `json:"status,omitempty"`
	// At is when the event happened (EventWaiting, EventFailed).
	At time.Time `json:"at,omitzero"`
}

// MsgID is the Nats-Msg-Id of a message an import's stage publishes: the same
// for a retried publish, so JetStream stores it once. token says what the
// message is: a stage's name for the chunk it publishes on, or one of the
// Token constants.
func MsgID(importID, token string, chunk int) string {
	return fmt.Sprintf("%s.%s.%d", importID, token, chunk)
}

// Msg-Id tokens of the messages that are not a stage's chunk (see MsgID).
// They are part of every Msg-Id: changing one lets a retried publish be
// stored twice.
const (
	TokenReceived    = EventReceived
	TokenRejected    = EventRejected
	TokenIngested    = EventIngested
	TokenCompleted   = EventCompleted
	TokenContinue    = EventContinue
	TokenConfirm     = EventConfirm
	TokenValidateDLQ = "validate-dlq"
	TokenLoadDLQ     = "load-dlq"
	// TokenFailed and TokenWaiting are followed by the stage's name.
	TokenFailed  = "failed-"
	TokenWaiting = "waiting-"
)

// Import modes (seed 002: "update user data if already on the platform").
const (
	// ModeCreate creates new records; a row whose record exists is
	// rejected.
	ModeCreate = "create"
	// ModeUpdate creates new records and updates existing ones with the
	// cells the row fills; an empty cell keeps the stored value.
	ModeUpdate = "update"
	// ModeSync is update mode for a file that holds the tenant's whole
	// dataset: the tenant's records it leaves out are deactivated
	// (Dataset.Deactivate) once every row is loaded, within the tenant's
	// limit unless the upload forces it.
	ModeSync = "sync"
	// ModeRemove removes the records a file names (seed 003: remove users
	// from a group, remove groups): groups files only (RemovesRecords).
	// Removing a record that does not exist leaves it so (unchanged).
	ModeRemove = "remove"
)

// ValidMode reports whether m is an import mode.
func ValidMode(m string) bool {
	return m == ModeCreate || m == ModeUpdate || m == ModeSync || m == ModeRemove
}

// Updates reports whether the import updates existing records (update and
// sync modes).
func (imp *Import) Updates() bool { return imp.Mode == ModeUpdate || imp.Mode == ModeSync }

// RemovesRecords reports whether an import of ds may be in ModeRemove.
func RemovesRecords(ds *Dataset) bool { return ds.Target().Removable() }

// The options an upload sets in its metadata (X-Amz-Meta-<option>), each
// only when its tenant allows it (platform.Tenant.AllowsOption).
const (
	OptionMode         = "mode"
	OptionOnError      = "on-error"
	OptionInvite       = "invite"
	OptionAssignGroups = "assign-groups"
	OptionMirrorUser   = "mirror-user"
	OptionPreview      = "preview"
	OptionForce        = "force"
)

// Options are the upload options, in the order a summary names them.
var Options = []string{OptionMode, OptionOnError, OptionInvite, OptionAssignGroups, OptionMirrorUser, OptionPreview, OptionForce}
