package e2e

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// corpusFile is one file of testdata/corpus, as a partner sends it, and what
// importing it must give. The files were saved once, byte for byte (their
// names say their encoding, delimiter and line ends), and are uploaded under
// the corpus tenant (region US, default password policy, update mode, 5000
// rows) in the order of the corpus table: accounts first, then the groups
// their members join, then the users who belong to those groups, then
// clients.
type corpusFile struct {
	// path is the file's path under testdata/corpus and its key under the
	// corpus tenant: <dataset folder>/<file name>.
	path string
	// metadata is the object's user metadata (X-Amz-Meta-*), if any.
	metadata map[string]string

	status string
	// reason is the code of a file rejected whole.
	reason string
	// format, delimiter and encoding are what ingest detects in a file it
	// reads (the imports table has them).
	format, delimiter, encoding string
	counts                      schemas.Counts
	// rejected are the rejected rows, by row number as a spreadsheet shows
	// it (the header is row 1): column:code of each violation, in field
	// order.
	rejected map[int][]string
	// loaded are spot checks of what the import leaves in ClickHouse.
	loaded []spot
}

// spot is what the corpus tenant's records of a table whose column where
// has value hold in columns: each record's values joined by " | ", the
// records sorted and joined by ", ".
type spot struct {
	table, where, value string
	columns             []string
	want                string
}

var corpus = []corpusFile{
	{
		// An HR export: loose headers, an address with spaces around it and
		// capitals, names with ' and -, empty trailing rows.
		path:   "accounts/hr-export-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 12, Created: 5, Rejected: 7},
		rejected: map[int][]string{
			6:  {"email:format"},       // ed.norton@northwind: no top-level domain
			7:  {"firstName:required"}, // a new account with no first name (load, update mode)
			8:  {"firstName:format"},   // "George R.": a dot
			9:  {"email:duplicate"},    // anna.kowalski again (row 2)
			10: {"lastName:format"},    // "Tanaka, Jr": a comma
			12: {"firstName:too_long"}, // 52 characters
			13: {"email:required"},
		},
		loaded: []spot{
			{"accounts", "email", "brian.oconnor@northwind.example", []string{"first_name", "last_name"}, "Brian | O'Connor"},
			{"accounts", "email", "ivy.lee@northwind.example", []string{"first_name", "last_name"}, "Ivy | Lee"},
		},
	},
	{
		// The Moscow office's list, saved by a Russian Excel: Windows-1251,
		// semicolons, CRLF. It renames one account and repeats another.
		path:   "accounts/moscow-office-cp1251-semicolon-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ";", encoding: "windows-1251",
		counts: schemas.Counts{Rows: 10, Created: 5, Updated: 1, Unchanged: 1, Rejected: 3},
		rejected: map[int][]string{
			7:  {"email:format"},     // пётр@northwind.example: Cyrillic local part
			9:  {"firstName:format"}, // "Сергей!"
			11: {"email:duplicate"},  // olga.smirnova again (row 3)
		},
		loaded: []spot{
			{"accounts", "email", "ivan.petrov@northwind.example", []string{"first_name", "last_name"}, "Иван | Петров"},
			{"accounts", "email", "anna.kowalski@northwind.example", []string{"first_name", "last_name"}, "Анна | Ковальская"},
			{"accounts", "email", "yulia.fedorova@northwind.example", []string{"first_name", "last_name"}, "Юлия | Фёдорова"},
			{"accounts", "email", "natalia.orlova@northwind.example", []string{"first_name", "last_name"}, "Наталья | "},
		},
	},
	{
		// Group-based groups (seed 003), UTF-8 with a byte order mark,
		// semicolons, CRLF; a group on two rows, a Cyrillic group name.
		path:   "groups/teams-by-group-utf8bom-semicolon-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ";", encoding: "utf-8 (bom)",
		// Row 4 adds olga.smirnova; fatima.zahra is refused on her own.
		counts: schemas.Counts{Rows: 8, Created: 5, Partial: 1, Rejected: 2},
		rejected: map[int][]string{
			4: {"Email (2):no_account"}, // fatima.zahra's account was rejected
			6: {"Groupname:required"},   // members with no group
			7: {"Email:format"},         // yulia.fedorova@northwind
		},
		loaded: []spot{
			{"group_members", "group_name", "Sales", []string{"email"},
				"anna.kowalski@northwind.example, brian.oconnor@northwind.example, ivy.lee@northwind.example"},
			{"group_members", "group_name", "Engineering", []string{"email"},
				"chen.wei@northwind.example, diana.prince@northwind.example, ivan.petrov@northwind.example"},
			{"group_members", "group_name", "Support", []string{"email"}, "natalia.orlova@northwind.example, olga.smirnova@northwind.example"},
			{"group_members", "group_name", "Москва — офис", []string{"email"}, "dmitry.ivanov@northwind.example"},
			{"group_members", "group_name", "Marketing", []string{"email"}, ""},
		},
	},
	{
		// User-based groups (seed 003) saved as "Unicode text": UTF-16LE with
		// a byte order mark, tabs, CRLF; three Group Name columns.
		path:   "groups/projects-by-user-utf16le-tab-crlf.txt",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: "\t", encoding: "utf-16le",
		// Row 2 adds anna to Project Apollo (and Sales again): created; row
		// 3 only repeats brian in Sales: unchanged.
		counts: schemas.Counts{Rows: 8, Created: 3, Unchanged: 1, Rejected: 4},
		rejected: map[int][]string{
			5: {"email:no_account"},   // hiro.tanaka's account was rejected
			6: {"email:duplicate"},    // anna again (row 2): "put all of a user's groups in one row"
			7: {"LastName:format"},    // "Smirnova (HR)"
			8: {"Groupname:required"}, // a user with names but no group (seed 003: Groupname is mandatory)
		},
		loaded: []spot{
			{"group_members", "group_name", "Project Apollo", []string{"email"}, "anna.kowalski@northwind.example, ivan.petrov@northwind.example"},
			{"group_members", "group_name", "Project Zeus", []string{"email"}, "ivan.petrov@northwind.example, natalia.orlova@northwind.example"},
			{"group_members", "group_name", "Marketing", []string{"email"}, "natalia.orlova@northwind.example"},
			// Row 8 is rejected: no membership of a group with no name.
			{"group_members", "group_name", "", []string{"member"}, ""},
			{"group_members", "email", "yulia.fedorova@northwind.example", []string{"member"}, ""},
		},
	},
	{
		// The group_members folder (seed 000's "group and members" import):
		// Group Name / E-mail pairs, pipes, the CR line ends of an old Mac.
		path:   "group_members/pairs-utf8-pipe-cr.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: "|", encoding: "utf-8",
		counts: schemas.Counts{Rows: 8, Created: 3, Unchanged: 1, Rejected: 4},
		rejected: map[int][]string{
			4: {"Email:no_account"},   // sergey.volkov's account was rejected
			5: {"Email:format"},       // "chen.wei at northwind.example"
			8: {"Groupname:required"}, // a member with no group
			9: {"Groupname:too_long"}, // a 260-character description pasted as the name
		},
		loaded: []spot{
			{"group_members", "group_name", "Ops Team", []string{"email"}, "ivy.lee@northwind.example"},
			{"group_members", "group_name", "Project Apollo", []string{"email"},
				"anna.kowalski@northwind.example, ivan.petrov@northwind.example, yulia.fedorova@northwind.example"},
		},
	},
	{
		// A groups file with a column no layout has.
		path:   "groups/members-with-phones.csv",
		status: schemas.StatusRejected, reason: schemas.CodeUnknownColumn,
	},
	{
		// New hires with passwords, phones in US and international forms
		// (region US), Cyrillic names, groups of every earlier file; a row
		// for every rule of the users dataset.
		path:   "users/new-hires-utf8-comma-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 17, Created: 6, Rejected: 11},
		rejected: map[int][]string{
			6:  {"password:password_policy"}, // "password": no digit
			7:  {"password:password_policy"}, // six characters
			8:  {"login:format"},             // "natalia orlova": a space
			9:  {"phone:format"},             // 555-1234: no area code
			10: {"phone:duplicate"},          // 415-555-2671 is row 2's (415) 555-2671
			11: {"manager:format"},           // "yes"
			12: {"lastName:required"},        // a new user with no last name (load, update mode)
			13: {"team:no_group"},            // Research: no such group
			14: {"email:duplicate"},          // ANNA.KOWALSKI@... is row 2's
			15: {"login:duplicate"},          // WEI.CHEN is row 4's
			16: {"password:password_policy"}, // "Volkov 2024": a space
		},
		loaded: []spot{
			{"users", "login", "anna.k", []string{"email", "phone", "manager", "group_team", "group_department"},
				"anna.kowalski@northwind.example | +14155552671 | 1 | Sales | Engineering"},
			{"users", "login", "wei.chen", []string{"phone", "status"}, "+16502530002 | active"}, // the status of a new user is ignored
			{"users", "login", "ivan.petrov", []string{"phone", "first_name", "last_name", "group_region"}, "+79161234567 | Иван | Петров | Москва — офис"},
			{"users", "login", "m.curie", []string{"phone", "must_change_password", "status"}, "+33142685300 | 1 | active"},
			{"users", "login", "natalia.o", []string{"phone", "group_team", "group_department"}, "+18005550199 | Support | Project Zeus"},
		},
	},
	{
		// A partial update from a workbook, update mode said outright: empty
		// cells keep what is stored; an empty row between rows.
		path:     "users/hr-update.xlsx",
		metadata: map[string]string{"mode": "update"},
		status:   schemas.StatusCompletedWithErrors, format: "xlsx",
		counts: schemas.Counts{Rows: 7, Updated: 2, Unchanged: 1, Rejected: 4},
		rejected: map[int][]string{
			4: {"phone:duplicate"},                         // anna.k's number
			5: {"firstName:required", "lastName:required"}, // k.park is new
			7: {"login:nothing_to_update"},                 // ivan.petrov, nothing else
			9: {"team:no_group"},                           // Atlantis
		},
		loaded: []spot{
			{"users", "login", "anna.k", []string{"first_name", "last_name", "status", "phone"}, "Anna | Kowalska-Nowak | blocked | +14155552671"},
			{"users", "login", "m.curie", []string{"manager", "group_region", "group_team"}, "1 | Москва — офис | Engineering"},
			{"users", "login", "wei.chen", []string{"phone"}, "+16502530002"},
			{"users", "login", "k.park", []string{"email"}, ""},
		},
	},
	{
		// A users file with only the login and the column to change, in
		// update mode (seed 002: "you can not fill in all his data, but only
		// those that need to be updated"): every other stored value stays.
		path:   "users/phones-only.csv",
		status: schemas.StatusCompleted, format: "csv", delimiter: ";", encoding: "utf-8",
		counts: schemas.Counts{Rows: 1, Updated: 1},
		loaded: []spot{
			{"users", "login", "anna.k", []string{"email", "phone", "first_name", "last_name", "manager", "status", "group_team", "group_department"},
				"anna.kowalski@northwind.example | +14155552672 | Anna | Kowalska-Nowak | 1 | blocked | Sales | Engineering"},
		},
	},
	{
		// The seed's client export (seed 004): system ids, ISO times, quoted
		// commas, doubled quotes and a line break inside a cell, a blank line.
		path:   "clients/crm-export-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 12, Created: 7, Rejected: 5},
		rejected: map[int][]string{
			6:  {"active:format", "created:format"}, // "yes", 2024-02-30
			7:  {"email:format"},                    // sofia.rossi@contoso
			8:  {"firstName:required"},              // a new client with no first name (load, update mode)
			9:  {"project:format", "type:format"},   // 23 hex digits, VIP
			10: {"email:duplicate"},                 // john.doe again (row 2)
		},
		loaded: []spot{
			{"clients", "email", "john.doe@contoso.example", []string{"id", "active", "type", "created"},
				"666c2c2f32735479fd3e9a5c | 1 | Personal | 2024-06-13 15:06:02"},
			{"clients", "email", "michael.brown@contoso.example", []string{"last_name", "type"}, "Brown, Jr. | Corporate"},
			{"clients", "email", "maryann.oneil@contoso.example", []string{"first_name", "last_name"}, "Mary Ann | O'Neil\n(née Walsh)"},
			{"clients", "email", "olivia.johnson@contoso.example", []string{"first_name", "type", "created"}, `Olivia "Liv" | Partner | 2024-03-01 00:00:00`},
			{"clients", "email", "ava.taylor@contoso.example", []string{"last_name", "active"}, "Taylor-Brooke, PhD | 0"},
			{"clients", "email", "ethan.clarke@contoso.example", []string{"created"}, "2024-05-05 10:00:00"},
		},
	},
	{
		// Partners from a Western European Excel: Windows-1252, semicolons,
		// CRLF; it updates one client of the export and repeats another as
		// it is.
		path:   "clients/partners-cp1252-semicolon-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ";", encoding: "windows-1252",
		counts: schemas.Counts{Rows: 9, Created: 4, Updated: 1, Unchanged: 1, Rejected: 3},
		rejected: map[int][]string{
			5: {"active:format"},      // "ja"
			6: {"email:format"},       // renée.dubois@...: an accent in the address
			9: {"firstName:too_long"}, // 67 characters
		},
		loaded: []spot{
			{"clients", "email", "jose.garcia@fabrikam.example", []string{"first_name", "last_name", "type"}, "José | García | Partner"},
			{"clients", "email", "zoe.mueller@fabrikam.example", []string{"first_name", "last_name", "active", "type"}, "Zoë | Müller | 1 | Personal"},
			{"clients", "email", "soren.k@fabrikam.example", []string{"first_name", "last_name"}, "Søren | Kierkegaard"},
			{"clients", "email", "emma.smith@contoso.example", []string{"id", "active", "created"}, "66829b2e43c91e3ce480b6c4 | 1 | 2024-07-01 07:33:52"},
		},
	},
	{
		// Leads as a .txt: pipes, CR line ends, spaces after values.
		path:   "clients/leads-utf8-pipe-cr.txt",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: "|", encoding: "utf-8",
		counts: schemas.Counts{Rows: 6, Created: 4, Rejected: 2},
		rejected: map[int][]string{
			4: {"email:format"}, // jack.obrien@tailspin
			5: {"type:format"},  // Enterprise
		},
		loaded: []spot{
			{"clients", "email", "ingrid.berg@tailspin.example", []string{"first_name", "last_name", "type"}, "Ingrid | Berg | Personal"},
			{"clients", "email", "leila.haddad@tailspin.example", []string{"type"}, "Partner"},
			{"clients", "email", "mateo.fernandez@tailspin.example", []string{"last_name"}, "Fernández"},
		},
	},
	{
		// A workbook uploaded in create mode: a client that exists is
		// refused, and required cells are judged by validate.
		path:     "clients/q3-onboarding.xlsx",
		metadata: map[string]string{"mode": "create"},
		status:   schemas.StatusCompletedWithErrors, format: "xlsx",
		counts: schemas.Counts{Rows: 5, Created: 2, Rejected: 3},
		rejected: map[int][]string{
			3: {"email:exists"},       // emma.smith
			4: {"firstName:required"}, // create mode: validate
			5: {"created:format"},     // 2024-13-01
		},
		loaded: []spot{
			{"clients", "email", "paula.quinn@wideworld.example", []string{"active", "type", "created"}, "1 | Corporate | 2024-08-01 00:00:00"},
			{"clients", "email", "sara.lind@wideworld.example", []string{"type"}, "Partner"},
			{"clients", "email", "emma.smith@contoso.example", []string{"first_name", "active"}, "Emma | 1"},
		},
	},
	{
		// A CSV export saved under a workbook's name.
		path:   "clients/clients-export.xlsx",
		status: schemas.StatusRejected, reason: schemas.CodeWrongFormat,
	},
	{
		// A web form's export into which someone typed a formula, a script
		// and markup (seed 004: "no scripts, macros, or executable content").
		path:   "clients/web-form-utf8-comma-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 5, Created: 2, Rejected: 3},
		rejected: map[int][]string{
			3: {"firstName:" + schemas.CodeExecutable}, // =cmd|' /C calc'!A0
			4: {"lastName:" + schemas.CodeExecutable},  // <script>...</script>
			5: {"type:" + schemas.CodeExecutable},      // <b>Partner</b>, not a mere bad type
		},
		loaded: []spot{
			{"clients", "email", "grace.hopper@webform.example", []string{"first_name", "last_name", "type"}, "Grace | Hopper | Corporate"},
			{"clients", "email", "zoe.odegaard@webform.example", []string{"first_name", "last_name", "type"}, "Zoë | Ødegaard | Partner"},
		},
	},
	{
		// A users file in the words of seed 002 and of the issue ("is
		// manager", "must change password"), in update mode: an existing user
		// changes its flags, a new one needs its required cells (load), a
		// row of the login alone has nothing to update.
		path:   "users/seed-words-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 4, Created: 1, Updated: 1, Rejected: 2},
		rejected: map[int][]string{
			4: {"lastName:required"},       // r.ahmed is new
			5: {"login:nothing_to_update"}, // wei.chen, nothing else
		},
		loaded: []spot{
			{"users", "login", "b.oconnor", []string{"email", "phone", "first_name", "last_name", "manager", "must_change_password", "group_team"},
				"brian.oconnor@northwind.example | +16502530000 | Brian | O'Connor | 1 | 0 | Sales"},
			{"users", "login", "t.nguyen", []string{"email", "first_name", "last_name", "manager", "must_change_password", "group_team"},
				"tuan.nguyen@northwind.example | Tuan | Nguyen | 1 | 1 | Support"},
			{"users", "login", "r.ahmed", []string{"email"}, ""},
		},
	},
	{
		// The RUS version's headers (Логин, Пароль, Руководитель, ...),
		// saved by a Russian Excel: Windows-1251, semicolons, CRLF.
		path:   "users/russian-cp1251-semicolon-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ";", encoding: "windows-1251",
		counts: schemas.Counts{Rows: 4, Created: 1, Updated: 1, Rejected: 2},
		rejected: map[int][]string{
			4: {"region:no_group"}, // Атлантида
			5: {"email:required"},  // o.sidorova is new
		},
		loaded: []spot{
			{"users", "login", "s.kuznetsova", []string{"email", "phone", "first_name", "last_name", "manager", "group_region", "group_team"},
				"svetlana.kuznetsova@northwind.example | +79167654321 | Светлана | Кузнецова | 1 | Москва — офис | Engineering"},
			{"users", "login", "ivan.petrov", []string{"phone", "first_name", "last_name", "manager", "status", "group_region", "group_team"},
				"+79161234567 | Иван | Петров | 1 | blocked | Москва — офис | Support"},
		},
	},
	{
		// A partial update saved as "Unicode text" (UTF-16LE, tabs, CRLF),
		// its headers in synonyms and seed 002's words: no password, email
		// or name column, which only a new user needs.
		path:   "users/hr-changes-utf16le-tab-crlf.txt",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: "\t", encoding: "utf-16le",
		counts: schemas.Counts{Rows: 4, Updated: 2, Rejected: 2},
		rejected: map[int][]string{
			4: {"email:required", "firstName:required", "lastName:required"}, // z.new is new
			5: {"login:nothing_to_update"},                                   // b.oconnor, nothing else
		},
		loaded: []spot{
			{"users", "login", "m.curie", []string{"email", "phone", "first_name", "last_name", "manager", "must_change_password", "status", "group_region", "group_team"},
				"marie.curie@northwind.example | +33142685301 | Marie | Curie | 1 | 0 | active | Москва — офис | Engineering"},
			{"users", "login", "natalia.o", []string{"phone", "must_change_password", "status", "group_team", "group_department"},
				"+18005550199 | 1 | disabled | Support | Project Zeus"},
			{"users", "login", "z.new", []string{"email"}, ""},
		},
	},
	{
		// A partial clients update from a workbook, the key and two columns
		// with Russian headers: the rest of each client stays as stored.
		path:   "clients/status-update.xlsx",
		status: schemas.StatusCompletedWithErrors, format: "xlsx",
		counts: schemas.Counts{Rows: 4, Updated: 2, Rejected: 2},
		rejected: map[int][]string{
			4: {"firstName:required"},      // a new client
			5: {"email:nothing_to_update"}, // olivia.johnson, nothing else
		},
		loaded: []spot{
			{"clients", "email", "ava.taylor@contoso.example", []string{"first_name", "last_name", "active", "type"}, "Ava | Taylor-Brooke, PhD | 1 | Personal"},
			{"clients", "email", "ethan.clarke@contoso.example", []string{"first_name", "active", "type", "created"}, "Ethan | 1 | Corporate | 2024-05-05 10:00:00"},
			{"clients", "email", "new.client@contoso.example", []string{"type"}, ""},
		},
	},
	{
		// A partial accounts update with Russian headers, UTF-8 with a byte
		// order mark: a surname given, one unchanged, a new account without
		// its first name.
		path:   "accounts/surnames-utf8bom-semicolon-crlf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ";", encoding: "utf-8 (bom)",
		counts: schemas.Counts{Rows: 4, Updated: 1, Unchanged: 1, Rejected: 2},
		rejected: map[int][]string{
			4: {"firstName:required"},      // new.person is new
			5: {"email:nothing_to_update"}, // chen.wei, nothing else
		},
		loaded: []spot{
			{"accounts", "email", "natalia.orlova@northwind.example", []string{"first_name", "last_name"}, "Наталья | Орлова"},
			{"accounts", "email", "ivan.petrov@northwind.example", []string{"first_name", "last_name"}, "Иван | Петров"},
			{"accounts", "email", "new.person@northwind.example", []string{"last_name"}, ""},
		},
	},
	{
		// Uploaded for review first (X-Amz-Meta-Preview, seed 000's step 3):
		// every row decided, nothing loaded until `sluice confirm`
		// (preview_test.go).
		path:     "clients/review-first-utf8-comma-lf.csv",
		metadata: map[string]string{"preview": "true"},
		status:   schemas.StatusPreviewed, format: "csv", delimiter: ",", encoding: "utf-8",
		counts:   schemas.Counts{Rows: 3, Created: 1, Updated: 1, Rejected: 1},
		rejected: map[int][]string{4: {"email:format"}}, // omar@@review.example
		loaded: []spot{
			{"clients", "email", "emma.smith@contoso.example", []string{"first_name"}, "Emma"}, // would be Emily
			{"clients", "email", "nora.preview@review.example", []string{"first_name"}, ""},    // would be created
		},
	},
	{
		// Seed 001's template: first name, last name and email only. The
		// login is the email, lower-cased; with no password, a new user is
		// pending (invited to set one: invite_test.go).
		path:   "users/seed-001-template-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 7, Created: 3, Rejected: 4},
		rejected: map[int][]string{
			5: {"login:format"},                       // ada+math@...: a login has no +
			6: {"lastName:required"},                  // a new user with no last name (load, update mode)
			7: {"login:duplicate", "email:duplicate"}, // GRACE.HOPPER@... is row 2's
			8: {"login:too_long"},                     // an email of 60 characters: a login has 50 at most
		},
		loaded: []spot{
			{"users", "login", "grace.hopper@corpus.example", []string{"email", "first_name", "last_name", "status", "password_hash"},
				"grace.hopper@corpus.example | Grace | Hopper | pending | "},
			{"users", "login", "alan.turing@corpus.example", []string{"email", "status"}, "alan.turing@corpus.example | pending"},
			{"users", "login", "zoe.odegaard@corpus.example", []string{"first_name", "last_name"}, "Zoë | Ødegaard"},
		},
	},
	{
		// A nightly full export of group names alone uploaded as a sync: a
		// sync removes the memberships a file of members leaves out, and
		// this file names none, so nothing of it loads (sync_test.go syncs
		// members).
		path:     "groups/nightly-group-names-sync.csv",
		metadata: map[string]string{"mode": "sync"},
		status:   schemas.StatusRejected, reason: schemas.CodeSyncUnsupported,
	},
	{
		// Update by ID (seed 004: "If a record with the same unique ID
		// exists, it will be updated (e.g., email change)"): John keeps his
		// ID and changes his email; Emma's ID with Michael's email; John's
		// ID again; Ava with no ID, found by her email.
		path:   "clients/id-changes-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 4, Updated: 2, Rejected: 2},
		rejected: map[int][]string{
			3: {"email:" + schemas.CodeEmailTaken}, // michael.brown's (seed 004: "must be unique")
			4: {"ID:duplicate"},                    // John's ID again (row 2)
		},
		loaded: []spot{
			{"clients", "id", "666c2c2f32735479fd3e9a5c", []string{"first_name", "email"}, "John | john.doe@newmail.example"},
			{"clients", "email", "john.doe@contoso.example", []string{"id"}, ""}, // the old email is free
			{"clients", "id", "66829b2e43c91e3ce480b6c4", []string{"email"}, "emma.smith@contoso.example"},
			{"clients", "email", "ava.taylor@contoso.example", []string{"last_name", "type"}, "Taylor-Brooke, PhD | Corporate"},
		},
	},
	{
		// Managers by email (seed 002: "Email of the manager"): a stored
		// user; a user of a later row, in a later chunk; an address nobody
		// has; a new user whose manager's address has capitals.
		path:   "users/managers-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 4, Created: 1, Updated: 2, Rejected: 1},
		rejected: map[int][]string{
			4: {"managerEmail:" + schemas.CodeNoManager}, // nobody@northwind.example
		},
		loaded: []spot{
			{"users", "login", "wei.chen", []string{"manager_email"}, "anna.kowalski@northwind.example"},
			{"users", "login", "ivan.petrov", []string{"manager_email"}, "olga.s@northwind.example"},
			{"users", "login", "olga.s", []string{"first_name", "manager_email"}, "Olga | anna.kowalski@northwind.example"},
			{"users", "login", "x.ghost", []string{"email"}, ""},
		},
	},
	{
		// Leavers (seed 003: remove users from a group), uploaded in remove
		// mode: a membership that does not exist is left so, unchanged.
		path:     "group_members/leavers-remove-utf8-comma-crlf.csv",
		metadata: map[string]string{"mode": schemas.ModeRemove},
		status:   schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 4, Removed: 2, Unchanged: 1, Rejected: 1, RemovedMemberships: 2},
		rejected: map[int][]string{
			5: {"Email:format"}, // olga.smirnova at northwind.example
		},
		loaded: []spot{
			// A removal is a new version of the membership that says so.
			{"group_members", "member", "ivy.lee@northwind.example Sales", []string{"removed"}, "1"},
			{"group_members", "member", "yulia.fedorova@northwind.example Project Apollo", []string{"removed"}, "1"},
			{"group_members", "member", "anna.kowalski@northwind.example Sales", []string{"removed"}, "0"},
			{"group_members", "member", "nobody.here@northwind.example Sales", []string{"removed"}, ""},
		},
	},
	{
		// Renames (seed 003: edit the group's name): the members move with
		// their group; a group that does not exist, a name a group has and
		// a new name given twice are refused.
		path:   "groups/renames-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 4, Renamed: 1, Rejected: 3},
		rejected: map[int][]string{
			3: {"Groupname:" + schemas.CodeNoGroup},         // Nowhere
			4: {"New Groupname:" + schemas.CodeGroupExists}, // Support to Sales
			5: {"New Groupname:" + schemas.CodeDuplicate},   // Project Hera again (row 2)
		},
		loaded: []spot{
			{"groups", "name", "Project Zeus", []string{"removed"}, "1"},
			{"groups", "name", "Project Hera", []string{"removed"}, "0"},
			{"group_members", "group_name", "Project Zeus", []string{"email", "removed"},
				"ivan.petrov@northwind.example | 1, natalia.orlova@northwind.example | 1"},
			{"group_members", "group_name", "Project Hera", []string{"email", "removed"},
				"ivan.petrov@northwind.example | 0, natalia.orlova@northwind.example | 0"},
			{"groups", "name", "Support", []string{"removed"}, "0"},
		},
	},
	{
		// Closed groups (seed 003: remove groups): group names alone, in
		// remove mode, remove each group with its memberships; a group that
		// does not exist is left so.
		path:     "groups/closed-groups-utf8-lf.csv",
		metadata: map[string]string{"mode": schemas.ModeRemove},
		status:   schemas.StatusCompleted, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 2, Removed: 1, Unchanged: 1, RemovedGroups: 1, RemovedMemberships: 1},
		loaded: []spot{
			{"groups", "name", "Ops Team", []string{"removed"}, "1"},
			{"group_members", "group_name", "Ops Team", []string{"email", "removed"}, "ivy.lee@northwind.example | 1"},
			{"groups", "name", "Ghost Group", []string{"removed"}, ""},
		},
	},
	{
		// Only groups and their members can be removed.
		path:     "accounts/leavers-remove.csv",
		metadata: map[string]string{"mode": schemas.ModeRemove},
		status:   schemas.StatusRejected, reason: schemas.CodeBadMode,
	},
	{
		// Squads with several Email columns (seed 003: "add additional
		// email columns"): each member is judged on its own. The good ones
		// are added; each bad one is reported with its Email column; a
		// row with no good member is rejected.
		path:   "groups/squads-utf8-comma-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 5, Created: 1, Partial: 2, Rejected: 2},
		rejected: map[int][]string{
			2: {"Email (3):format"},                 // not-an-email, after an empty column
			3: {"Email:no_account"},                 // ghost has no account; ivan.petrov is added
			4: {"Email:format", "Email (2):format"}, // no good member: rejected
			5: {"Email:no_account"},                 // ghost alone: rejected
		},
		loaded: []spot{
			{"group_members", "group_name", "Squad A", []string{"email"}, "anna.kowalski@northwind.example"},
			{"group_members", "group_name", "Squad B", []string{"email"}, "ivan.petrov@northwind.example"},
			{"group_members", "group_name", "Squad C", []string{"email"}, ""},
			{"group_members", "group_name", "Squad D", []string{"email"}, ""},
			{"group_members", "group_name", "Squad E", []string{"email"}, "ivy.lee@northwind.example, natalia.orlova@northwind.example"},
			{"groups", "name", "Squad B", []string{"removed"}, "0"},
			{"groups", "name", "Squad D", []string{"removed"}, ""},
		},
	},
	{
		// Typed groups (seed 002: "one of the existing groups of each
		// type"): a file in the region folder gives its groups that type,
		// unless its type column gives another; Sales, untyped until now,
		// becomes a team.
		path:   "groups/region/offices-utf8-lf.csv",
		status: schemas.StatusCompletedWithErrors, format: "csv", delimiter: ",", encoding: "utf-8",
		counts: schemas.Counts{Rows: 4, Created: 2, Updated: 1, Rejected: 1},
		rejected: map[int][]string{
			5: {"type:format"}, // planet
		},
		loaded: []spot{
			{"groups", "name", "North America", []string{"type"}, "region"},
			{"groups", "name", "EMEA", []string{"type"}, "region"},
			{"groups", "name", "Sales", []string{"type"}, "team"},
			{"groups", "name", "Lab", []string{"type"}, ""},
		},
	},
}

// TestCorpus imports every file of testdata/corpus through the real
// pipeline, in order, and checks each import: its status, the format
// detected, its counts, and each rejected row with its reasons, in the audit
// and in the dead-letter stream; every row is audited exactly once.
func TestCorpus(t *testing.T) {
	t.Parallel()
	for _, f := range corpus {
		// Later files build on earlier ones (members need accounts, users
		// need groups): go on after a failure, to see all of them.
		t.Run(f.path, func(t *testing.T) { checkCorpusFile(t, f) })
	}
	// Research is the group row 13 of the new hires names: it is in the
	// dead-letter stream, the audit and the report.
	t.Run("no password in plain text", func(t *testing.T) { assertNoPlaintext(t, corpusPasswords, "Research") })
}

// corpusPasswords are the passwords of the users files, valid and refused
// alike (but row 6's "password", a word every table and stream has).
var corpusPasswords = []string{"Northwind2024", "Shamrock77", "Dragon8Boat", "Moskva2024", "Dm1try", "Nat4lia2024", "Yulia2024",
	"Amazon1941", "Ivy2024!", "Norton2024", "Cobol1906", "Tokyo2020", "Another9x", "Volkov 2024", "Radium1898",
	"Saigon2024", "Karachi2024", "Kazan2024", "Spb2024x", "Omsk2024", "Ghost2024x", "Olga2024x"}

func checkCorpusFile(t *testing.T, f corpusFile) {
	i := uploadWith(t, "corpus/"+f.path, readFile(t, filepath.Join("testdata", "corpus", f.path)), f.metadata)
	if i.Status != f.status || i.ReasonCode != f.reason {
		t.Errorf("import: got %s %q (%s), want %s %q", i.Status, i.ReasonCode, i.Reason, f.status, f.reason)
	}
	if i.Counts != f.counts {
		t.Errorf("counts: got %+v, want %+v", i.Counts, f.counts)
	}
	if f.status != schemas.StatusRejected {
		var enc string
		if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT encoding FROM sluice.imports FINAL WHERE import_id = ?", i.ID).Scan(&enc); err != nil {
			t.Fatal(err)
		}
		if i.Format != f.format || i.Delimiter != f.delimiter || enc != f.encoding {
			t.Errorf("file: got format %q delimiter %q encoding %q, want %q %q %q", i.Format, i.Delimiter, enc, f.format, f.delimiter, f.encoding)
		}
		if c := i.Counts; c.Loaded()+c.Rejected != c.Rows {
			t.Errorf("counts %+v do not add up to the rows", c)
		}
	}

	// Every row of the file is audited exactly once; the rejected ones are
	// those expected.
	outcomes := map[int]string{}
	query(t, "SELECT row, toString(outcome) FROM sluice.import_rows FINAL WHERE import_id = ?", func(r driver.Rows) error {
		var n uint32
		var o string
		err := r.Scan(&n, &o)
		if _, twice := outcomes[int(n)]; twice {
			t.Errorf("row %d audited twice", n)
		}
		outcomes[int(n)] = o
		return err
	}, i.ID)
	if len(outcomes) != i.Rows {
		t.Errorf("audited rows: got %d, want the import's %d", len(outcomes), i.Rows)
	}
	var rejectedRows []int // rejected whole, or partly (a group's members)
	for n, o := range outcomes {
		if o == warehouse.Rejected || o == warehouse.Partial {
			rejectedRows = append(rejectedRows, n)
		}
	}
	slices.Sort(rejectedRows)
	if want := sortedKeys(f.rejected); !slices.Equal(rejectedRows, want) {
		t.Errorf("rows audited as rejected: got %v, want %v", rejectedRows, want)
	}

	dataset, _, _ := strings.Cut(f.path, "/")
	assertRejected(t, "corpus", dataset, i.ID, f.rejected)

	for _, s := range f.loaded {
		if got := s.get(t); got != s.want {
			t.Errorf("%s where %s = %q, %v:\n got %q\nwant %q", s.table, s.where, s.value, s.columns, got, s.want)
		}
	}
	if t.Failed() {
		t.Logf("import %s of %s (the sluice log: %s)", i.ID, path.Base(f.path), stack.log)
	}
}

func (s spot) get(t *testing.T) string {
	t.Helper()
	cols := make([]string, len(s.columns))
	for k, c := range s.columns {
		cols[k] = "toString(" + c + ")"
	}
	var records []string
	query(t, fmt.Sprintf("SELECT %s FROM sluice.%s FINAL WHERE tenant = 'corpus' AND %s = ?", strings.Join(cols, ", "), s.table, s.where),
		func(r driver.Rows) error {
			vals := make([]string, len(cols))
			dest := make([]any, len(cols))
			for k := range vals {
				dest[k] = &vals[k]
			}
			err := r.Scan(dest...)
			records = append(records, strings.Join(vals, " | "))
			return err
		}, s.value)
	slices.Sort(records)
	return strings.Join(records, ", ")
}

func sortedKeys(m map[int][]string) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
