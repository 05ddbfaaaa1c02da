package warehouse

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// The outcome of a row, as import_rows stores it: every row of every file
// ends with exactly one.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
	Rejected  = "rejected"
	// Removed: the row removed records (schemas.ModeRemove); Renamed: it
	// renamed a group (schemas.RenameGroups).
	Removed = "removed"
	Renamed = "renamed"
	// Partial: some values of the row loaded, the others were rejected
	// each on its own (schemas.Dataset.EachItem); import_rejections says
	// why.
	Partial = "partial"
)

// Outcomes are the outcomes in the order of import_rows.outcome's enum (a new
// one is added at the end).
var Outcomes = []string{Created, Updated, Unchanged, Rejected, Removed, Renamed, Partial}

// OutcomeType is the type of import_rows.outcome: an enum of Outcomes.
func OutcomeType() string { return enumType(Outcomes) }

// Column is a column of an audit table.
type Column struct {
	Name string
	// Type is the column's ClickHouse type; a column added after the
	// table's first release carries its DEFAULT, for the rows before it.
	Type string
}

// Table is an audit table: its columns in the order inserts list them, and
// its sorting key. Every audit table is a ReplacingMergeTree(version): a
// redelivered chunk writes the same rows with the same version, and readers
// use FINAL.
type Table struct {
	Name    string
	Columns []Column
	// Filled are columns the server fills with their DEFAULT: inserts and
	// Select leave them out.
	Filled  []Column
	OrderBy string
}

// The audit tables. Load writes import_rows, import_rejections and
// import_chunks; notify writes imports and reads the others.
var (
	// Imports has one row per import and status: the last one wins (its
	// version is the status's rank; import_version is the import's own).
	// labels says how the file's header was read: "column -> field" for
	// each column whose header is not its field's name (schemas.Header).
	Imports = Table{Name: "imports", OrderBy: "import_id", Columns: []Column{
		{"import_id", "String"}, {"tenant", "String"}, {"dataset", "String"}, {"bucket", "String"}, {"key", "String"},
		{"file_name", "String"}, {"object_version", "String"}, {"uploader", "String"},
		{"status", statusType()},
		{"reason_code", "String"}, {"reason", "String"},
		{"format", "String"}, {"delimiter", "String"}, {"encoding", "String"},
		{"chunks", "UInt32"}, {"rows", "UInt32"}, {"created", "UInt32"}, {"updated", "UInt32"}, {"unchanged", "UInt32"}, {"rejected", "UInt32"},
		{"received_at", "DateTime('UTC')"}, {"finished_at", "DateTime('UTC')"},
		{"version", "UInt64"},
		{"on_error", "String DEFAULT 'continue'"}, {"invite", "UInt8 DEFAULT 0"}, {"import_version", "UInt64 DEFAULT 0"},
		{"labels", "Array(String) DEFAULT []"},
		// resumed is the operator's event that resumed an ended import
		// (schemas.EventContinue, EventConfirm), if one did.
		{"resumed", "String DEFAULT ''"}, {"preview", "UInt8 DEFAULT 0"},
		{"mode", "String DEFAULT ''"}, {"force", "UInt8 DEFAULT 0"}, {"deactivated", "UInt32 DEFAULT 0"},
		{"removed", "UInt32 DEFAULT 0"}, {"renamed", "UInt32 DEFAULT 0"},
		{"removed_memberships", "UInt32 DEFAULT 0"}, {"removed_groups", "UInt32 DEFAULT 0"},
		{"partial", "UInt32 DEFAULT 0"},
	}}
	// ImportRows is every row's outcome: narrow, as it has a row per row of
	// every file.
	ImportRows = Table{Name: "import_rows", OrderBy: "(import_id, row)", Columns: []Column{
		{"import_id", "String"}, {"row", "UInt32"}, {"chunk", "UInt32"}, {"outcome", OutcomeType()}, {"version", "UInt64"},
	}}
	// ImportRejections says why each rejected row was rejected (and each
	// partial row's rejected values): its
	// violations as parallel arrays (18.16 turns Array(Tuple(...)) into
	// separate arrays anyway). Its values are personal data: a row expires
	// a TTL after it was written (WrittenAt; see Expire).
	ImportRejections = Table{Name: "import_rejections", OrderBy: "(import_id, row)", Columns: []Column{
		{"import_id", "String"}, {"row", "UInt32"}, {"tenant", "String"}, {"dataset", "String"},
		{"columns", "Array(String)"}, {"codes", "Array(String)"}, {"messages", "Array(String)"}, {"values", "Array(String)"},
		{"version", "UInt64"},
	}, Filled: []Column{{WrittenAt, "DateTime('UTC') DEFAULT now()"}}}
	// ImportChunks is each chunk's report, by which notify counts an
	// import's chunks (a set: a chunk reported twice counts once).
	ImportChunks = Table{Name: "import_chunks", OrderBy: "(import_id, chunk)", Columns: []Column{
		{"import_id", "String"}, {"chunk", "UInt32"}, {"first_row", "UInt32"}, {"rows", "UInt32"},
		{"created", "UInt32"}, {"updated", "UInt32"}, {"unchanged", "UInt32"}, {"rejected", "UInt32"},
		{"loaded_at", "DateTime('UTC')"}, {"version", "UInt64"},
		{"removed", "UInt32 DEFAULT 0"}, {"renamed", "UInt32 DEFAULT 0"},
		{"removed_memberships", "UInt32 DEFAULT 0"}, {"removed_groups", "UInt32 DEFAULT 0"},
		{"partial", "UInt32 DEFAULT 0"},
	}}
)

// AuditTables are the tables sluice owns besides the datasets' own.
var AuditTables = []Table{Imports, ImportRows, ImportRejections, ImportChunks, ImportKeys, ImportDeactivations}

// Names returns the table's column names, in order.
func (t Table) Names() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Insert is the statement that inserts every column of the table in db, in
// order (18.16 needs the list).
func (t Table) Insert(db string) string {
	return fmt.Sprintf("INSERT INTO %s.%s (%s)", db, t.Name, strings.Join(t.Names(), ", "))
}

// Select is the statement that reads every column of the table in db with
// FINAL, in order, enums as strings; the caller adds WHERE and the rest.
func (t Table) Select(db string) string {
	names := t.Names()
	for i, c := range t.Columns {
		if strings.HasPrefix(c.Type, "Enum8(") {
			names[i] = "toString(" + c.Name + ")"
		}
	}
	return fmt.Sprintf("SELECT %s FROM %s.%s FINAL", strings.Join(names, ", "), db, t.Name)
}

// create is the statement that creates the table on one server (layout's
// create makes it on a cluster).
func (t Table) create(db string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (%s) ENGINE = ReplacingMergeTree(version) ORDER BY %s",
		db, t.Name, columnDefs(t.all()), t.OrderBy)
}

// all is every column of the table: Columns, then Filled.
func (t Table) all() []Column { return slices.Concat(t.Columns, t.Filled) }

// statusType is the type of imports.status: an enum of schemas.Statuses, in
// their order (a new status is added at the end).
func statusType() string { return enumType(schemas.Statuses) }

func enumType(values []string) string {
	items := make([]string, len(values))
	for i, v := range values {
		items[i] = fmt.Sprintf("'%s' = %d", v, i+1)
	}
	return "Enum8(" + strings.Join(items, ", ") + ")"
}

// SelectRejections reads the rejected rows of import_rejections in db as
// ScanRejections scans them; the caller adds WHERE and the rest.
func SelectRejections(db string) string {
	return fmt.Sprintf("SELECT row, columns, codes, messages, values FROM %s.%s FINAL", db, ImportRejections.Name)
}

// ScanRejections calls each for every row of a SelectRejections query.
func ScanRejections(rows driver.Rows, each func(schemas.Rejected) error) error {
	defer rows.Close()
	for rows.Next() {
		var n uint32
		var cols, codes, msgs, vals []string
		if err := rows.Scan(&n, &cols, &codes, &msgs, &vals); err != nil {
			return fmt.Errorf("warehouse: rejections: %w", err)
		}
		if len(codes) != len(cols) || len(msgs) != len(cols) || len(vals) != len(cols) {
			return fmt.Errorf("warehouse: rejection of row %d: its arrays differ in length", n)
		}
		r := schemas.Rejected{N: int(n), Violations: make([]schemas.Violation, len(cols))}
		for i := range cols {
			r.Violations[i] = schemas.Violation{Column: cols[i], Code: codes[i], Message: msgs[i], Value: vals[i]}
		}
		if err := each(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RejectionArrays is how import_rejections stores a row's violations: as
// parallel arrays of columns, codes, messages and values.
func RejectionArrays(vs []schemas.Violation) (cols, codes, msgs, vals []string) {
	n := len(vs)
	cols, codes, msgs, vals = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, v := range vs {
		cols[i], codes[i], msgs[i], vals[i] = v.Column, v.Code, v.Message, v.Value
	}
	return cols, codes, msgs, vals
}
