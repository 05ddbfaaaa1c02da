package schemas

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is how a canonical cell is stored in ClickHouse.
type Kind int

const (
	// String is stored as it is.
	String Kind = iota
	// Bool is "1" or "0", stored as UInt8.
	Bool
	// DateTime is "2006-01-02 15:04:05" in UTC, stored as DateTime('UTC').
	DateTime
)

// DateTimeLayout is the canonical form of a DateTime cell.
const DateTimeLayout = "2006-01-02 15:04:05"

// Field is one column of a dataset.
type Field struct {
	// Name is the header as the template writes it ("firstName").
	Name string
	// Labels are the other headers partners write for the field: the
	// seeds' words ("The user is a manager"), common synonyms, and the
	// Russian version's (Логин, Пароль). A file column is the field's if
	// its header is the Name or a Label, as NormalizeHeader folds them; no
	// two fields of a dataset or layout may fold to the same.
	Labels []string
	// Column is the ClickHouse column the field is loaded into.
	Column string
	Kind   Kind
	// Required fields must be present as a column (or, with From, their
	// source's; in update mode, only the key: see Match), and filled in
	// every row that creates a record. In create mode every row does, and
	// validate checks them; in update mode only load knows which rows do.
	Required bool
	// MaxLen is the most characters (not bytes) a value may have; 0:
	// MaxCell.
	MaxLen int
	// Format reports whether a non-empty value has the right form; nil: any.
	Format func(string) bool
	// Normalize returns the canonical form of a valid, non-empty value; nil:
	// the value as it is.
	Normalize func(string) string
	// Parse, for values whose rules depend on the import (a phone number on
	// the tenant's region, a password on its policy), replaces Format and
	// Normalize: it returns the canonical form of a non-empty value, or the
	// rule it breaks (Code and Message).
	Parse func(v string, c Context) (string, *Violation)
	// Default returns the value of an empty optional cell; nil: empty.
	Default func(Context) string
	// Masked values are shown as a mask in the DLQ and in reports.
	Masked bool
	// Secret values (passwords) are never at rest in plain text: ingest
	// seals them, validate opens them only to check them, transform hashes
	// them, and they are never shown.
	Secret bool
	// Unique values may belong to one record of a tenant only: a second row
	// of the file with the same value is rejected (ingest finds it), and so
	// is a row whose value another stored record has (load).
	Unique bool
	// Ref, if set, names what a non-empty value must refer to.
	Ref *Ref
	// Repeated fields may have several columns in a file (seed 003:
	// "add additional Groupname columns"); the row's cell holds their
	// values joined by ListSep, in column order (an empty column keeps its
	// place, so that a value's position names its column: ItemColumn), and
	// each non-empty one is judged on its own.
	Repeated bool
	// NoCode cells may hold no script, macro or executable content (seed
	// 004): no formula start, no markup (IsExecutable).
	NoCode bool
	// IgnoredOnCreate: a new record takes the field's default whatever the file
	// says (seed 002: a status given when a user is created is ignored).
	IgnoredOnCreate bool
	// From names the field whose cell an empty cell of this one takes
	// (seed 001: the login is the email); the file may then leave the
	// column out. Ingest fills the cells as it reads each row (FillFrom),
	// so finding repeated keys, the rules, canonical forms and load all
	// see the same value, and a redelivered chunk carries it.
	From string
	// Help says what the field holds and which values it takes, for the
	// template partners download; Example is a value that passes.
	Help    string
	Example string
}

// Ref says that a field's value names a record of the tenant that must
// exist: Table's Column has it. Load checks it.
type Ref struct {
	Table, Column string
	// Type, if set, is the type (GroupType) the record must have, unless
	// it has none: a users group column names a group of its type, or an
	// untyped one.
	Type string
	// Code and Message are what a row whose value names nothing gets.
	Code, Message string
	// InFile, if set, names a field of the same dataset: a value that
	// another row of the file has in that field needs nothing stored (a
	// manager in the same file as the users it manages, in any row).
	// Ingest, which reads the whole file before it publishes a row, marks
	// such cells (Row.InFile); load looks up the others.
	InFile string
}

// Context is what a rule, a normaliser or a default may depend on besides
// the value: the import's settings. It must be deterministic: a redelivered
// chunk must produce the same record.
type Context struct {
	Tenant     string
	ReceivedAt time.Time
	// Region is the tenant's phone region (ISO 3166 alpha-2): numbers
	// written without a country code are read as that country's.
	Region string
	// Password is the tenant's password policy.
	Password PasswordPolicy
	// Key is the row's key, in canonical form (defaults only).
	Key string
}

// Dataset declares one kind of record partners import.
type Dataset struct {
	Name string
	// Version changes whenever fields or rules change in a way partners see.
	Version int
	// Table is the ClickHouse table the records are upserted into.
	Table  string
	Fields []Field
	// Key is the name of the field that identifies a record within a tenant.
	// It must be unique within a file, unless MayRepeatKey.
	Key          string
	MayRepeatKey bool
	// Identity, if set, is the name of the field that identifies a stored
	// record within a tenant (its table is ordered by it), when that is not
	// Key: a partner may change a record's Key value by naming the record's
	// Identity (seed 004: a client's email, by its ID). A row that leaves
	// Identity empty names the record whose Key value it has, or a new one
	// (the field's default); a Key value belongs to one record only. Load
	// resolves both. Identity must be unique within a file too.
	Identity string
	// RepeatedKey, if set, is the message for a row whose key an earlier
	// row (first) has; nil: MsgDuplicate.
	RepeatedKey func(first int) string

	// Layouts are the shapes a file of this dataset may have, told apart by
	// the header (seed 003: user-based and group-based); the first whose
	// header matches is the file's. A dataset with layouts is never a file's
	// shape itself.
	Layouts []*Dataset
	// Records and Pivot: a layout's row is not a record but holds several
	// (a user's groups, a group's members). Pivot turns a row's canonical
	// cells into the cells of its Records, which are what load writes; a
	// row is then loaded whole or rejected whole, unless EachItem. Where
	// the records are the values of a Repeated field, record i is value i,
	// and an empty value's record is nil.
	Records *Dataset
	Pivot   func(cells []string) [][]string
	// EachItem: the values of the row's Repeated field are judged each on
	// its own (seed 003: a group's members). The good ones load; each bad
	// one is rejected with its column (ItemColumn) and value, and the row
	// is partial (see Row.Dropped). Its other cells are judged as usual:
	// one bad rejects the row whole.
	EachItem bool
	// Also are datasets whose records an import of this one may write
	// besides its own (a users import's memberships, a membership's group).
	Also []*Dataset
	// OnCreate, if set, finishes the canonical cells of a record load is
	// about to create, after the defaults (a user with no password is
	// pending).
	OnCreate func(d *Dataset, cells []string)
	// MoreExamples are the template's example rows after the one the
	// fields' Examples make, each by field name (a field left out is
	// empty): the users template's first user names the second as its
	// manager.
	MoreExamples []map[string]string
	// Deactivate is how a sync (ModeSync) deactivates a record the file
	// leaves out; nil: the dataset cannot be synced (see Syncs).
	Deactivate *Deactivation
}

// Deactivation is how a record is deactivated: its field Field (a column)
// is set to Value. A record whose Field has another value is active. Verb
// says it to the partner ("deactivated", "removed").
type Deactivation struct {
	Field, Value, Verb string
}

// Syncs reports whether a file of d may be a sync (ModeSync): whether the
// records it loads can be deactivated. A groups file of members syncs its
// memberships; one of group names or renames does not.
func (d *Dataset) Syncs() bool { return d.Target().Deactivate != nil }

// RecordKeys returns the keys of the records a file row of d stands for,
// from its raw cells, which may not have passed Check (a sync keeps the
// records of its rejected rows): its canonical key, or, for a layout that
// pivots into records (Pivot), the keys of the records its canonical cells
// pivot into. A value that cannot be read gives no key, and a record with
// an empty cell (its member or its group, say) none.
func (d *Dataset) RecordKeys(cells []string) []string {
	if d.Pivot == nil {
		if k := d.CanonicalKey(cells); k != "" {
			return []string{k}
		}
		return nil
	}
	canonical := make([]string, len(cells))
	for i := range d.Fields {
		f := &d.Fields[i]
		if !f.Repeated {
			canonical[i] = f.CanonicalValue(cells[i], Context{})
			continue
		}
		var items []string
		for v := range strings.SplitSeq(cells[i], ListSep) {
			if v = f.CanonicalValue(v, Context{}); v != "" {
				items = append(items, v)
			}
		}
		canonical[i] = strings.Join(items, ListSep)
	}
	var keys []string
	key := d.Records.KeyIndex()
	for _, r := range d.Pivot(canonical) {
		if r != nil && !slices.Contains(r, "") {
			keys = append(keys, r[key])
		}
	}
	return keys
}

// Writes lists the datasets an import of d may write records of: its
// Target, and what that also writes, each once.
func (d *Dataset) Writes() []*Dataset {
	out := []*Dataset{d.Target()}
	for i := 0; i < len(out); i++ {
		for _, a := range out[i].Also {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// Target is the dataset whose records a row of d becomes: Records, or d.
func (d *Dataset) Target() *Dataset {
	if d.Records != nil {
		return d.Records
	}
	return d
}

// Layout returns the layout of d with the given name; "" is d itself.
func (d *Dataset) Layout(name string) (*Dataset, bool) {
	if name == "" && d.Layouts == nil {
		return d, true
	}
	for _, l := range d.Layouts {
		if l.Name == name {
			return l, true
		}
	}
	return nil, false
}

// MaxFields is the most fields a dataset may have (Row.Empty is a 64-bit
// mask).
const MaxFields = 64

// Datasets lists every dataset sluice imports, by name.
var Datasets = map[string]*Dataset{
	Clients.Name:  Clients,
	Users.Name:    Users,
	Accounts.Name: Accounts,
	Groups.Name:   Groups,
	// Seed 000's "group and members" import is the groups dataset.
	"group_members": Groups,
}

// Lookup returns the dataset with the given name.
func Lookup(name string) (*Dataset, bool) {
	ds, ok := Datasets[name]
	return ds, ok
}

// Index returns the position of the named field, or -1.
func (d *Dataset) Index(name string) int {
	for i, f := range d.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// KeyIndex is the position of the key field.
func (d *Dataset) KeyIndex() int { return d.Index(d.Key) }

// FillFrom gives every empty cell of a field with From its source's cell,
// trimmed.
func (d *Dataset) FillFrom(cells []string) {
	for i := range d.Fields {
		if from := d.Fields[i].From; from != "" && strings.TrimSpace(cells[i]) == "" {
			cells[i] = strings.TrimSpace(cells[d.Index(from)])
		}
	}
}

// IdentityIndex is the position of the field that identifies a stored
// record: Identity, or Key.
func (d *Dataset) IdentityIndex() int {
	if d.Identity == "" {
		return d.KeyIndex()
	}
	return d.Index(d.Identity)
}

// CanonicalKey returns the key of a row of raw cells as it will be stored, so
// that "A@x.com" and " a@x.com" are the same record.
func (d *Dataset) CanonicalKey(cells []string) string {
	return d.Fields[d.KeyIndex()].CanonicalValue(cells[d.KeyIndex()], Context{})
}

// CanonicalValue is the canonical form of a raw cell that may not have
// passed Check yet ("" for an empty or unreadable one), with no default.
func (f *Field) CanonicalValue(value string, c Context) string {
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return ""
	case f.Parse != nil:
		if p, bad := f.Parse(v, c); bad == nil {
			return p
		}
		return ""
	case f.Normalize != nil:
		return f.Normalize(v)
	}
	return v
}

// Headers returns the field names in template order.
func (d *Dataset) Headers() []string {
	h := make([]string, len(d.Fields))
	for i, f := range d.Fields {
		h[i] = f.Name
	}
	return h
}

// Check judges one raw cell and returns the violations of its rules (at most
// one: the first rule broken is the one the partner needs to fix). An empty
// cell of a required field is a violation only when required is true: in
// update mode, load judges it, as only a new record needs it. A Repeated
// field's cell is empty when all its values are; its empty values are
// columns left empty, not violations.
func (f *Field) Check(value string, c Context, required bool) (Violation, bool) {
	if f.Repeated && strings.Contains(value, ListSep) {
		empty := true
		for item := range strings.SplitSeq(value, ListSep) {
			if strings.TrimSpace(item) == "" {
				continue
			}
			empty = false
			if v, ok := f.Check(item, c, false); !ok {
				return v, false
			}
		}
		if empty {
			return f.Check("", c, required)
		}
		return Violation{}, true
	}
	v := strings.TrimSpace(value)
	switch {
	case v == "" && required:
		return f.violation(CodeRequired, MsgRequired(f.Name), value), false
	case v == "":
		return Violation{}, true
	case len(v) > f.maxLen() && utf8.RuneCountInString(v) > f.maxLen(): // never more runes than bytes
		return f.violation(CodeTooLong, MsgTooLong(f.Name, f.maxLen()), value), false
	case !utf8.ValidString(v):
		return f.violation(CodeFormat, MsgFormat, value), false
	case f.NoCode && IsExecutable(v):
		return f.violation(CodeExecutable, MsgExecutable, value), false
	case f.Format != nil && !f.Format(v):
		return f.violation(CodeFormat, MsgFormat, value), false
	case f.Parse != nil:
		if f.Secret {
			v = value // a secret is checked as it is: a space is not trimmed away
		}
		if _, bad := f.Parse(v, c); bad != nil {
			return f.violation(bad.Code, bad.Message, value), false
		}
	}
	return Violation{}, true
}

func (f *Field) violation(code, msg, value string) Violation {
	return Violation{Column: f.Name, Code: code, Message: msg, Value: f.Show(value)}
}

// ItemColumn names the column of value item (from 1) of d's Repeated field
// as a partner finds it in the file: the field's name for the first column,
// then "Email (2)", "Email (3)"...
func (d *Dataset) ItemColumn(item int) string {
	for _, f := range d.Fields {
		if f.Repeated {
			if item <= 1 {
				return f.Name
			}
			return fmt.Sprintf("%s (%d)", f.Name, item)
		}
	}
	return ""
}

// ListSep joins the values of a Repeated field's columns in one cell. Ingest
// drops it from the values (no partner types a unit separator).
const ListSep = "\x1f"

// MaxCell bounds a cell of a field that sets no MaxLen of its own.
const MaxCell = 1000

func (f *Field) maxLen() int {
	if f.MaxLen > 0 {
		return f.MaxLen
	}
	return MaxCell
}

// Show returns the value as it may appear in the DLQ and in reports: a
// secret not at all, a masked field masked, and anything else cut at
// MaxEcho (see Echo).
func (f *Field) Show(value string) string {
	if f.Secret {
		return ""
	}
	if f.Masked && value != "" {
		return Mask(value)
	}
	return Echo(value)
}

// Mask hides all of a value but its first character.
func Mask(v string) string {
	r, _ := utf8.DecodeRuneInString(v)
	return string(r) + "***"
}

// Canonical returns the canonical form of a cell that passed Check: trimmed,
// normalised, or the field's default when empty.
func (f *Field) Canonical(value string, c Context) string {
	if f.Repeated && strings.Contains(value, ListSep) {
		items := strings.Split(value, ListSep)
		for i, item := range items {
			items[i] = f.Canonical(item, c)
		}
		return strings.Join(items, ListSep)
	}
	v := strings.TrimSpace(value)
	if v == "" {
		if f.Default != nil {
			return f.Default(c)
		}
		return ""
	}
	if f.Parse != nil {
		v, _ = f.Parse(v, c)
		return v
	}
	if f.Normalize != nil {
		return f.Normalize(v)
	}
	return v
}

// NormalizeHeader folds a header cell the way people write it: case,
// spaces, punctuation and filler words do not matter ("First Name" ==
// "first_name" == "firstName", "The user is a manager" == "is manager" ==
// "manager"), nor ё against е.
func NormalizeHeader(h string) string {
	words := strings.FieldsFunc(strings.ToLower(h), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var b strings.Builder
	for i, w := range words {
		if fillers[w] && !inTerm(words, i) {
			continue
		}
		b.WriteString(strings.ReplaceAll(w, "ё", "е"))
	}
	return b.String()
}

// fillers are the words a header may have that say nothing of its field:
// the seeds' "The user is a manager" is the manager column.
var fillers = map[string]bool{
	"the": true, "a": true, "an": true, "is": true, "of": true, "user": true,
	"пользователь": true, "пользователя": true, "является": true,
}

// terms are pairs of words that name a field together though one is a
// filler: a "User name" is a login, not a name.
var terms = map[[2]string]bool{{"user", "name"}: true, {"имя", "пользователя"}: true}

// inTerm reports whether words[i] belongs to a term with a word beside it.
func inTerm(words []string, i int) bool {
	return i+1 < len(words) && terms[[2]string{words[i], words[i+1]}] || i > 0 && terms[[2]string{words[i-1], words[i]}]
}

// Header is a file's header matched to a dataset (see Match).
type Header struct {
	// Shape is the dataset, or the layout of it, the file has.
	Shape *Dataset
	// Cols is, for each file column, the index of its field in Shape.
	Cols []int
	// Labels are the columns whose header is not their field's name as it
	// is (a label, or the name spelled otherwise), each as "column ->
	// field", for the audit.
	Labels []string
}

// Match finds the shape of a file from its header: d itself, or the first
// of d's Layouts whose header matches; with each column's field. A column
// matches the field whose name or one of whose Labels it is, as
// NormalizeHeader folds them. A file-level violation names the first column
// that matches no field, or both columns that match one field (but a
// Repeated one), or the required columns missing: in ModeUpdate, a file may
// leave out every column but its key, as a row updates the columns it has
// (seed 002), unless its rows pivot into records (a layout: each row is
// whole). A header no layout matches is reported as the layout it is
// closest to (the most columns known) would report it, listing every
// layout's headers.
func (d *Dataset) Match(header []string, mode string) (Header, *Violation) {
	if d.Layouts == nil {
		return d.mapHeader(header, mode, expectedHeaders(d))
	}
	for _, l := range d.Layouts {
		if h, v := l.mapHeader(header, mode, ""); v == nil {
			return h, nil
		}
	}
	pick, best := d.Layouts[0], -1
	for _, l := range d.Layouts {
		fields, known := l.byHeader(), 0
		for _, h := range header {
			if _, ok := fields[NormalizeHeader(h)]; ok {
				known++
			}
		}
		if known > best {
			pick, best = l, known
		}
	}
	_, v := pick.mapHeader(header, mode, expectedLayouts(d.Layouts))
	return Header{}, v
}

// byHeader maps the folded name and labels of each field to its index.
func (d *Dataset) byHeader() map[string]int {
	m := make(map[string]int, 4*len(d.Fields))
	for i, f := range d.Fields {
		m[NormalizeHeader(f.Name)] = i
		for _, l := range f.Labels {
			m[NormalizeHeader(l)] = i
		}
	}
	return m
}

func (d *Dataset) mapHeader(header []string, mode, expected string) (Header, *Violation) {
	fields := d.byHeader()
	m := Header{Shape: d, Cols: make([]int, len(header))}
	first := make(map[int]int, len(header)) // field -> its first column
	for c, h := range header {
		i, ok := fields[NormalizeHeader(h)]
		if !ok {
			return Header{}, &Violation{Column: h, Code: CodeUnknownColumn, Message: MsgUnknownColumn(h, expected)}
		}
		f := &d.Fields[i]
		if p, seen := first[i]; !seen {
			first[i] = c
		} else if !f.Repeated {
			return Header{}, &Violation{Column: h, Code: CodeDuplicateColumn, Message: MsgDuplicateColumn(header[p], h, f.Name, expected)}
		}
		m.Cols[c] = i
		if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) != f.Name {
			m.Labels = append(m.Labels, Echo(h)+" -> "+f.Name)
		}
	}
	partial := mode == ModeUpdate && d.Pivot == nil
	var missing []string
	for i, f := range d.Fields {
		_, seen := first[i]
		_, fromSeen := first[d.Index(f.From)]
		if f.Required && !seen && !(f.From != "" && fromSeen) && (!partial || i == d.KeyIndex()) {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Header{}, &Violation{Column: missing[0], Code: CodeMissingColumn, Message: MsgMissingColumn(missing, expected)}
	}
	return m, nil
}

// Rule describes a field's rules in a sentence, for the template partners
// download.
func (f *Field) Rule() string {
	var b strings.Builder
	if f.Required {
		b.WriteString("required")
		if f.From != "" {
			b.WriteString(" (the " + f.From + " when empty or left out)")
		}
	} else {
		b.WriteString("optional")
	}
	if f.MaxLen > 0 {
		fmt.Fprintf(&b, ", at most %d characters", f.MaxLen)
	}
	if f.NoCode {
		b.WriteString(", no formula (=) or markup (<...>)")
	}
	if f.Help != "" {
		b.WriteString("; " + f.Help)
	}
	return b.String()
}
