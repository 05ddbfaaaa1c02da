// Package schemas is the contract every sluice stage agrees on: the datasets
// partners import (their fields, rules, defaults and keys), the error codes and
// the exact messages partners read, the events that travel between stages and
// the subjects they travel on.
//
// It owns no I/O: no NATS, no S3, no ClickHouse. Stages import it; it imports
// nothing of theirs. Adding a dataset means declaring a Dataset here (and
// registering it in Datasets); the stages read everything else from it.
//
// Cells travel as strings in the dataset's field order from ingest to load.
// Validate judges them with Field.Check, transform turns them into their
// canonical form with Field.Normalize and Field.Default, and load converts the
// canonical form to the column's type with Field.Kind.
package schemas

import (
	"fmt"
	"sort"
	"strings"
	"time"
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
	// Name is the header as the template writes it ("firstName"). Headers in
	// files are matched loosely: see NormalizeHeader.
	Name string
	// Column is the ClickHouse column the field is loaded into.
	Column string
	Kind   Kind
	// Required fields must be present as a column and filled in every row.
	Required bool
	// MaxLen is the most characters (not bytes) a value may have; 0:
	// MaxCell.
	MaxLen int
	// Format reports whether a non-empty value has the right form; nil: any.
	Format func(string) bool
	// Normalize returns the canonical form of a valid, non-empty value; nil:
	// the value as it is.
	Normalize func(string) string
	// Default returns the value of an empty optional cell; nil: empty.
	Default func(DefaultContext) string
	// Masked values are shown as a mask in the DLQ and in reports.
	Masked bool
	// Help says what the field holds and which values it takes, for the
	// template partners download; Example is a value that passes.
	Help    string
	Example string
}

// DefaultContext is what a default may depend on. Defaults must be
// deterministic: a redelivered chunk must produce the same record.
type DefaultContext struct {
	Tenant     string
	ReceivedAt time.Time
	// Key is the row's key, in canonical form.
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
	// It must be unique within a file.
	Key string
}

// MaxFields is the most fields a dataset may have (Row.Empty is a 64-bit
// mask).
const MaxFields = 64

// Datasets lists every dataset sluice imports, by name.
var Datasets = map[string]*Dataset{
	Clients.Name: Clients,
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

// CanonicalKey returns the key of a row of raw cells as it will be stored, so
// that "A@x.com" and " a@x.com" are the same record.
func (d *Dataset) CanonicalKey(cells []string) string {
	i := d.KeyIndex()
	f := d.Fields[i]
	v := strings.TrimSpace(cells[i])
	if f.Normalize != nil && v != "" {
		v = f.Normalize(v)
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
// one: the first rule broken is the one the partner needs to fix).
func (f *Field) Check(value string) (Violation, bool) {
	v := strings.TrimSpace(value)
	switch {
	case v == "" && f.Required:
		return f.violation(CodeRequired, MsgRequired(f.Name), value), false
	case v == "":
		return Violation{}, true
	case utf8.RuneCountInString(v) > f.maxLen():
		return f.violation(CodeTooLong, MsgTooLong(f.Name, f.maxLen()), value), false
	case !utf8.ValidString(v):
		return f.violation(CodeFormat, MsgFormat, value), false
	case f.Format != nil && !f.Format(v):
		return f.violation(CodeFormat, MsgFormat, value), false
	}
	return Violation{}, true
}

func (f *Field) violation(code, msg, value string) Violation {
	return Violation{Column: f.Name, Code: code, Message: msg, Value: f.Show(value)}
}

// MaxCell bounds a cell of a field that sets no MaxLen of its own.
const MaxCell = 1000

func (f *Field) maxLen() int {
	if f.MaxLen > 0 {
		return f.MaxLen
	}
	return MaxCell
}

// Show returns the value as it may appear in the DLQ and in reports.
func (f *Field) Show(value string) string {
	if f.Masked && value != "" {
		return Mask(value)
	}
	return value
}

// Mask hides all of a value but its first character.
func Mask(v string) string {
	r, _ := utf8.DecodeRuneInString(v)
	return string(r) + "***"
}

// Canonical returns the canonical form of a cell that passed Check: trimmed,
// normalised, or the field's default when empty.
func (f *Field) Canonical(value string, dc DefaultContext) string {
	v := strings.TrimSpace(value)
	if v == "" {
		if f.Default != nil {
			return f.Default(dc)
		}
		return ""
	}
	if f.Normalize != nil {
		return f.Normalize(v)
	}
	return v
}

// NormalizeHeader folds a header cell the way people write it: case, spaces,
// underscores and dashes do not matter ("First Name" == "first_name" ==
// "firstName").
func NormalizeHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch r {
		case ' ', '_', '-', '\t':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MapHeader matches a file's header row to the dataset. It returns, for each
// file column, the index of its field, or a file-level violation naming the
// first column that is unknown, repeated or missing.
func (d *Dataset) MapHeader(header []string) ([]int, *Violation) {
	byName := make(map[string]int, len(d.Fields))
	for i, f := range d.Fields {
		byName[NormalizeHeader(f.Name)] = i
	}
	expected := strings.Join(d.Headers(), ", ")
	cols := make([]int, len(header))
	seen := make(map[int]bool, len(header))
	for c, h := range header {
		i, ok := byName[NormalizeHeader(h)]
		if !ok {
			return nil, &Violation{Column: h, Code: CodeUnknownColumn,
				Message: fmt.Sprintf("the file has an unknown column %q; expected headers: %s", h, expected)}
		}
		if seen[i] {
			return nil, &Violation{Column: h, Code: CodeDuplicateColumn,
				Message: fmt.Sprintf("the column %q appears more than once; expected headers: %s", h, expected)}
		}
		seen[i] = true
		cols[c] = i
	}
	var missing []string
	for i, f := range d.Fields {
		if f.Required && !seen[i] {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &Violation{Column: missing[0], Code: CodeMissingColumn,
			Message: fmt.Sprintf("the file has no column %s; expected headers: %s", strings.Join(missing, ", "), expected)}
	}
	return cols, nil
}

// Rule describes a field's rules in a sentence, for the template partners
// download.
func (f *Field) Rule() string {
	var b strings.Builder
	if f.Required {
		b.WriteString("required")
	} else {
		b.WriteString("optional")
	}
	if f.MaxLen > 0 {
		fmt.Fprintf(&b, ", at most %d characters", f.MaxLen)
	}
	if f.Help != "" {
		b.WriteString("; " + f.Help)
	}
	return b.String()
}
