package schemas

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Row-level rule codes. A code is stable: partners' tools and dashboards
// branch on it; the message is what a person reads.
const (
	CodeRequired  = "required"
	CodeTooLong   = "too_long"
	CodeFormat    = "format"
	CodeDuplicate = "duplicate"
	// CodeExists is a row whose record exists, in create mode.
	CodeExists = "exists"
	// CodeMalformed is a row the file reader could not split into cells (a
	// stray quote, say). The rest of the file is still read.
	CodeMalformed = "malformed_row"
	// CodeColumnCount is a row with more cells than the header has columns.
	CodeColumnCount = "column_count"
	// CodePasswordPolicy is a password the tenant's policy refuses.
	CodePasswordPolicy = "password_policy"
	// CodeNoGroup is a group the tenant does not have; CodeNoAccount a
	// member with no account.
	CodeNoGroup   = "no_group"
	CodeNoAccount = "no_account"
	// CodeNothingToUpdate is a row that fills only its key, in update mode.
	CodeNothingToUpdate = "nothing_to_update"
	// CodeCancelled is a row not loaded because its import was cancelled.
	CodeCancelled = "cancelled"
	// CodeFailed is an import whose processing did not complete.
	CodeFailed = "processing_failed"
	// CodeWaiting is an import that waits for a part that is away.
	CodeWaiting = "waiting"
	// CodeNoMirrorUser is a users row of an import whose user to mirror
	// does not exist.
	CodeNoMirrorUser = "no_mirror_user"
	// CodeExecutable is a cell with a formula or markup, where seed 004
	// allows "no scripts, macros, or executable content".
	CodeExecutable = "executable_content"
	// CodeEmailTaken is a client's email that another client of the tenant
	// has (seed 004: "must be unique").
	CodeEmailTaken = "email_taken"
	// CodeNoManager is a manager's email that names no user of the tenant
	// and no row of the file.
	CodeNoManager = "no_manager"
	// CodeGroupExists is a rename to the name of a group the tenant has.
	CodeGroupExists = "group_exists"
)

// File-level codes: the whole file is rejected and no row is loaded.
const (
	CodeUnknownTenant   = "unknown_tenant"
	CodeUnknownDataset  = "unknown_dataset"
	CodeBadKey          = "bad_key"
	CodeWrongFormat     = "wrong_format"
	CodeEmptyFile       = "empty_file"
	CodeUnknownColumn   = "unknown_column"
	CodeDuplicateColumn = "duplicate_column"
	CodeMissingColumn   = "missing_column"
	CodeTooManyRows     = "too_many_rows"
	CodeLineTooLong     = "line_too_long"
	CodeMacros          = "macros"
	CodeBadMode         = "bad_mode"
	CodeBadOption       = "bad_option"
	// CodeOptionNotAllowed is an upload whose metadata sets an option its
	// tenant does not let uploads set.
	CodeOptionNotAllowed = "option_not_allowed"
	CodeTooLarge         = "too_large"
	// CodeUnpacked is a workbook that expands to more than sluice unpacks
	// (a decompression bomb, or a sheet far larger than any row limit).
	CodeUnpacked = "unpacked_too_large"
	// CodeRowNumber is a workbook whose sheet numbers a row beyond the last
	// row a spreadsheet has: the file is damaged or made up.
	CodeRowNumber = "row_number"
	// CodeSuperseded is an upload overwritten or deleted before it was read:
	// the newer upload is an import of its own.
	CodeSuperseded = "superseded"
	// CodeSyncUnsupported is a sync (ModeSync) of a dataset whose records
	// cannot be deactivated (Dataset.Deactivate).
	CodeSyncUnsupported = "sync_unsupported"
	// CodeSyncLimit is a sync that would deactivate more of the tenant's
	// records than its limit allows: it deactivated none.
	CodeSyncLimit = "sync_limit"
)

// The messages partners read, in the words of the product documents (seeds).

// MaxEcho bounds, in bytes, the partner text a message or a violation's
// value repeats (a cell, a header, a key): whatever a file holds, no message
// grows past JetStream's max payload. A longer text is cut, and ends with
// CutMarker.
const MaxEcho = 256

// CutMarker ends an echoed text that was cut at MaxEcho.
const CutMarker = "…[cut]"

// Echo is s cut to at most MaxEcho bytes (and CutMarker), on a rune
// boundary.
func Echo(s string) string { return Cut(s, MaxEcho) }

// Cut is s if it has at most n bytes, else its first n bytes or fewer (a
// rune is never split) followed by CutMarker.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + CutMarker
}

// Plain is partner text (a file name, a key, a reason that echoes cells)
// made fit for a mail's subject or body: control characters (CR and LF
// among them) and the invisible characters that reorder or hide text
// (bidirectional overrides, zero-width spaces) are dropped, and it is cut to
// at most n bytes (and CutMarker).
func Plain(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return -1 // Cf: bidi overrides and isolates, zero-width characters, BOM
		}
		return r
	}, s)
	return Cut(s, n)
}

// MsgExecutable is seed 004's restriction, said of one cell
// (CodeExecutable).
const MsgExecutable = "no scripts, macros, or executable content: the value starts a formula (=) or holds markup (<...>)"

// MsgFormat is the seeds' message for a value of the wrong form.
const MsgFormat = "the entered value does not match the format"

// MsgDuplicate is the seeds' message for a key already used by another row.
const MsgDuplicate = "the phone number or email address has already been confirmed with another existing or imported user"

// MsgDuplicateOf is a key or Unique value that row of the same file has
// already: the seeds' MsgDuplicate, then which row and field.
func MsgDuplicateOf(field string, row int) string {
	return fmt.Sprintf("%s (row %d has the same %s)", MsgDuplicate, row, field)
}

// MsgEmailTaken is a client's email that the client with ID owner has
// (CodeEmailTaken), in seed 004's words ("Client's email address (must be
// unique)").
func MsgEmailTaken(owner string) string {
	return fmt.Sprintf("Client's email address (must be unique): the client with ID %s has it", Echo(owner))
}

// MsgSameRecord is a row that names the record row first names already,
// by its identity field (a client's ID, given or found by the email).
func MsgSameRecord(first int, field, value string) string {
	return fmt.Sprintf("row %d names the same record (%s %s); a file may name a record once", first, field, Echo(value))
}

// MsgNoManager is a manager's email (seed 002's "Email of the manager")
// that names no user of the company and no row of the file (CodeNoManager).
func MsgNoManager(column string) string {
	return fmt.Sprintf("the column %s names no user of the company and no row of the file: the manager must be a user", column)
}

// MsgRepeatedUser is a user-based groups row whose user an earlier row
// (first) has: the layout takes one row per user (seed 003: "be careful not
// to repeat users in the email column").
func MsgRepeatedUser(first int) string {
	return fmt.Sprintf("the user is repeated (row %d has the same email); put all of a user's groups in the Groupname columns of one row", first)
}

// MsgRequired is the seeds' message for an empty required field.
func MsgRequired(field string) string {
	return fmt.Sprintf("the value of the field %s cannot be empty", field)
}

// MsgTooLong is the seeds' message for a value over its length limit.
func MsgTooLong(field string, n int) string {
	return fmt.Sprintf("the field %s can contain no more than %d characters", field, n)
}

// MsgTooManyRows rejects a file over the tenant's row limit.
func MsgTooManyRows(limit int) string {
	return fmt.Sprintf("the file has more than %d records; no more than %d records per file are allowed", limit, limit)
}

// MsgMalformed is a row the reader could not split into cells.
func MsgMalformed(detail string) string {
	return fmt.Sprintf("the row is not valid CSV (%s); check its quotes", Echo(detail))
}

// MsgUnreadableRow is a workbook row the reader could not read.
func MsgUnreadableRow(detail string) string { return "the row cannot be read: " + Echo(detail) }

// MsgColumnCount is a row with more cells than the header.
func MsgColumnCount(got, want int) string {
	return fmt.Sprintf("the row has %d cells but the header has %d columns", got, want)
}

// MsgWrongFormat rejects a file that is not one of the formats accepted.
const MsgWrongFormat = "the file is loaded in the wrong format; upload a .csv, .txt or .xlsx file"

// MsgNotWhatItsNameSays rejects a file whose bytes are not what its name says
// (a workbook named .csv, a binary, a text file named .xlsx).
const MsgNotWhatItsNameSays = "the file is not what its name says; save it again as .csv, .txt or .xlsx"

// MsgMacros rejects a workbook that carries or may carry macros (seed 004).
const MsgMacros = "the file may contain macros; no scripts, macros, or executable content are allowed: save it as .xlsx or .csv without macros"

// MsgTooLarge rejects a file over its size limit.
func MsgTooLarge(limit int64) string {
	if limit < 1<<20 {
		return fmt.Sprintf("the file is larger than %d bytes; split it into smaller files", limit)
	}
	return fmt.Sprintf("the file is larger than %d MiB; split it into smaller files", limit>>20)
}

// MsgEmptyFile rejects a file with no header row.
const MsgEmptyFile = "the file is empty: it has no header row"

// MsgUnknownColumn rejects a file whose header has a column the dataset does
// not know. expected lists the headers it takes (see expectedHeaders).
func MsgUnknownColumn(column, expected string) string {
	return fmt.Sprintf("the file has an unknown column %q; expected headers: %s", Echo(column), expected)
}

// MsgDuplicateColumn rejects a file two columns of whose header, first and
// second, match one field that may have one column.
func MsgDuplicateColumn(first, second, field, expected string) string {
	return fmt.Sprintf("the columns %q and %q are both the field %s; expected headers: %s", Echo(first), Echo(second), field, expected)
}

// MsgMissingColumn rejects a file whose header lacks required columns.
func MsgMissingColumn(missing []string, expected string) string {
	return fmt.Sprintf("the file has no column %s; expected headers: %s", strings.Join(missing, ", "), expected)
}

// expectedHeaders lists the headers a file of d takes, in template order, for
// the header messages.
func expectedHeaders(d *Dataset) string { return strings.Join(d.Headers(), ", ") }

// expectedLayouts lists the headers of each layout, with the layout's name,
// for the header messages of a dataset with layouts.
func expectedLayouts(layouts []*Dataset) string {
	each := make([]string, len(layouts))
	for i, l := range layouts {
		each[i] = fmt.Sprintf("%s (%s)", expectedHeaders(l), l.Name)
	}
	return strings.Join(each, " or ")
}

// MsgUnknownTenant rejects a file under a prefix no tenant owns.
func MsgUnknownTenant(tenant string) string {
	return fmt.Sprintf("no tenant %q is configured; upload under your tenant's folder", Echo(tenant))
}

// MsgUnknownDataset rejects a file under a dataset folder sluice does not know.
func MsgUnknownDataset(dataset string, known []string) string {
	return fmt.Sprintf("there is no dataset %q; upload to one of: %v", Echo(dataset), known)
}

// MsgBadKey rejects an object whose key is not <tenant>/<dataset>/<file name>.
func MsgBadKey(key string) string {
	return fmt.Sprintf("the object %q is not at <tenant>/<dataset>/<file name>", Echo(key))
}

// MsgLineTooLong rejects a file with a line longer than the limit.
func MsgLineTooLong(limit int) string {
	return fmt.Sprintf("the file has a row longer than %d bytes", limit)
}

// MsgUnpacked rejects a workbook that expands to more than limit bytes
// when unpacked (a decompression bomb says so: the partner learns why, not
// that the file is of the wrong kind).
func MsgUnpacked(limit int64) string {
	return fmt.Sprintf("the file expands to more than %d MiB when unpacked, far more than a workbook within the row limit needs (a damaged file or a decompression bomb); save the data again as a new .xlsx or .csv file", limit>>20)
}

// MsgRowNumber rejects a workbook whose sheet numbers a row beyond last, the
// last row a spreadsheet has.
func MsgRowNumber(last int) string {
	return fmt.Sprintf("the sheet numbers a row beyond %d, the last row a spreadsheet has: the file is damaged; save the data again as a new .xlsx or .csv file", last)
}

// MsgSuperseded rejects an upload whose key was overwritten before it was read.
const MsgSuperseded = "the file was replaced by a newer upload before it could be read; the newer one is imported instead"

// MsgDeleted rejects an upload deleted before it was read.
const MsgDeleted = "the file was deleted before it could be read"

// MsgRemoveGroupsOnly rejects an upload in remove mode of a dataset whose
// records cannot be removed (CodeBadMode).
func MsgRemoveGroupsOnly(dataset string) string {
	return fmt.Sprintf("the mode remove applies to groups files only (group members and groups); a %s file cannot be uploaded in it", Echo(dataset))
}

// MsgGroupExists is a rename to the name of a group the tenant has.
const MsgGroupExists = "the company already has a group with the new name; choose another name, or remove that group first"

// MsgBadMode rejects an upload whose mode is not an import mode.
func MsgBadMode(mode string) string {
	return fmt.Sprintf("the mode %q is not one of create, update, sync, remove", Echo(mode))
}

// MsgSyncUnsupported rejects a sync of a dataset whose records cannot be
// deactivated (CodeSyncUnsupported).
func MsgSyncUnsupported(dataset string) string {
	return fmt.Sprintf("the mode sync is not available for %s: a %s file cannot deactivate what it leaves out", dataset, dataset)
}

// MsgSyncLimit says a sync deactivated nothing: it would have deactivated
// would of the tenant's active records, over limit percent of them
// (CodeSyncLimit).
func MsgSyncLimit(would, active, limit int) string {
	return fmt.Sprintf("nothing was deactivated: the file leaves out %d of your %d active records, more than the limit of %d%%", would, active, limit)
}

// MsgNoGroup is the seeds' message for a group the tenant does not have.
const MsgNoGroup = "the company does not have a group specified in the imported file"

// MsgNoAccount is a member whose email belongs to no account (seed 003: "the
// email address must already be linked to an existing subscription").
const MsgNoAccount = "the email address is not linked to an existing subscription"

// MsgNothingToUpdate is a row that fills nothing but its key (seed 002: "at
// least one field, in addition to the login").
func MsgNothingToUpdate(key string) string {
	return fmt.Sprintf("the row fills no field besides %s; fill in at least one field, in addition to the %s", key, key)
}

// MsgPasswordPolicy is a password the tenant's policy refuses.
func MsgPasswordPolicy(p PasswordPolicy) string {
	return "the password does not match the password policy: " + p.String()
}

// MsgFailed says why an import did not complete: stage could not handle a
// part of it (reason is the operator's, and not shown to the partner).
func MsgFailed(stage string) string {
	return fmt.Sprintf("the processing did not complete: the %s step could not handle a part of the file; the operator has been told", stage)
}

// MsgWaiting says what an import waits for: a part that is away.
func MsgWaiting(part string) string {
	if part == "" {
		part = "a service"
	}
	return fmt.Sprintf("waiting for %s, which is unavailable; the import resumes when it is back", part)
}

// MsgCancelled is a row not loaded because its import was cancelled while
// it ran: its file was deleted, or `sluice cancel` stopped it.
const MsgCancelled = "the import was cancelled (its file was deleted, or it was stopped) before this row was loaded"

// MsgBadOption rejects an upload whose metadata sets an option to a value it
// does not take.
func MsgBadOption(option, value string, takes ...string) string {
	return fmt.Sprintf("the option %s cannot be %q; it takes: %s", option, Echo(value), strings.Join(takes, ", "))
}

// MsgOptionNotAllowed rejects an upload whose metadata sets an option its
// tenant does not let uploads set (CodeOptionNotAllowed).
func MsgOptionNotAllowed(option string) string {
	return fmt.Sprintf("the option %s (X-Amz-Meta-%s) is not allowed for your company's uploads; "+
		"upload the file without it, or ask the operator to allow it", option, option)
}

// MsgPermissionsUsersOnly rejects an upload of another dataset whose
// metadata sets assign-groups or mirror-user (CodeBadOption).
const MsgPermissionsUsersOnly = "the options assign-groups and mirror-user apply to users imports only"

// MsgNoMirrorUser is a users row of an import whose user to mirror does not
// exist.
func MsgNoMirrorUser(login string) string {
	return fmt.Sprintf("the user to mirror, %q, does not exist, so this user's permissions cannot be given", Echo(login))
}

// hints are a one-line solution for each rule code (seed 002: an error,
// then its solution): the email of a file rejected whole says it after the
// reason, and the error report gives it in its last column.
var hints = map[string]string{
	CodeRequired:         "fill in the cell",
	CodeTooLong:          "shorten the value to the length the column allows",
	CodeFormat:           "write the value in the form the template's rules give for the column",
	CodeDuplicate:        "use a value no other row of the file and no other record has, or remove the repeated row",
	CodeExists:           "remove the row, or upload the file in update mode to change the record",
	CodeMalformed:        "check the row's quotes: a value with a quote, a delimiter or a line break goes inside double quotes, its quotes doubled",
	CodeColumnCount:      "remove the extra cells, or quote the value that holds the delimiter",
	CodePasswordPolicy:   "choose a password that follows your company's password policy",
	CodeNoGroup:          "create the group first, or correct its name",
	CodeNoAccount:        "import the member's account first, or correct the address",
	CodeNothingToUpdate:  "fill at least one cell besides the key, or remove the row",
	CodeCancelled:        "upload the file again to import the rows that were not loaded",
	CodeFailed:           "nothing to do: the import resumes once the operator has fixed the cause, or upload the file again",
	CodeWaiting:          "nothing to do: the import resumes by itself",
	CodeNoMirrorUser:     "correct the login of the user to mirror, or leave the option out",
	CodeExecutable:       "remove the formula or the markup: write the value as plain text",
	CodeEmailTaken:       "give the row the ID of the client that has the address, or use another address",
	CodeNoManager:        "correct the manager's address, or add the manager to the file or import the manager first",
	CodeGroupExists:      "choose a new name no group has, or remove that group first",
	CodeUnknownTenant:    "upload under your company's folder, with your company's key",
	CodeUnknownDataset:   "put the file in the folder of its dataset: <company>/<dataset>/<file name>",
	CodeBadKey:           "put the file at <company>/<dataset>/<file name>",
	CodeWrongFormat:      "save the data as CSV (UTF-8) or as a new .xlsx workbook, and upload that",
	CodeEmptyFile:        "upload a file with a header row and at least one row of data",
	CodeUnknownColumn:    "rename or remove the column: use the template's headers",
	CodeDuplicateColumn:  "keep one of the two columns",
	CodeMissingColumn:    "add the column: use the template's headers",
	CodeTooManyRows:      "split the file into files within the row limit",
	CodeLineTooLong:      "shorten the row, or check for a quote that is never closed",
	CodeMacros:           "save the workbook as .xlsx without macros, or as CSV",
	CodeBadMode:          "set the mode to create, update or sync (remove for groups files), or leave it out",
	CodeSyncUnsupported:  "upload the file in update mode",
	CodeSyncLimit:        "check that the file holds every record; if it does, upload it again with X-Amz-Meta-Force: true",
	CodeBadOption:        "give the option one of the values it takes, or leave it out",
	CodeOptionNotAllowed: "upload the file without the option, or ask the operator to allow it",
	CodeTooLarge:         "split the file into smaller files",
	CodeUnpacked:         "save the data again as a new .xlsx or .csv file",
	CodeRowNumber:        "save the data again as a new .xlsx or .csv file",
	CodeSuperseded:       "nothing to do: the newer upload of the file is imported on its own",
}

// Hint is the one-line solution of a rule code; "" for a code sluice does
// not know.
func Hint(code string) string { return hints[code] }
