package schemas_test

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// field returns the Clients field with the given name.
func field(t *testing.T, name string) *schemas.Field {
	t.Helper()
	i := schemas.Clients.Index(name)
	if i < 0 {
		t.Fatalf("Clients has no field %q", name)
	}
	return &schemas.Clients.Fields[i]
}

func TestFieldCheck(t *testing.T) {
	const hexID = "666c2c2f32735479fd3e9a5c"
	email100 := strings.Repeat("a", 88) + "@example.com" // 100 characters
	cases := []struct {
		name    string
		field   string
		value   string
		code    string // "" when the value is accepted
		message string
	}{
		// firstName: required, 1-50 characters.
		{name: "firstName filled", field: "firstName", value: "John"},
		{name: "firstName one character", field: "firstName", value: "J"},
		{name: "firstName empty", field: "firstName", value: "",
			code: schemas.CodeRequired, message: "the value of the field firstName cannot be empty"},
		{name: "firstName only spaces", field: "firstName", value: "   ",
			code: schemas.CodeRequired, message: "the value of the field firstName cannot be empty"},
		{name: "firstName 50 characters", field: "firstName", value: strings.Repeat("a", 50)},
		{name: "firstName 51 characters", field: "firstName", value: strings.Repeat("a", 51),
			code: schemas.CodeTooLong, message: "the field firstName can contain no more than 50 characters"},
		{name: "firstName 50 Cyrillic letters (100 bytes)", field: "firstName", value: strings.Repeat("ж", 50)},
		{name: "firstName 50 accented letters", field: "firstName", value: strings.Repeat("é", 50)},
		{name: "firstName 51 Cyrillic letters", field: "firstName", value: strings.Repeat("ж", 51),
			code: schemas.CodeTooLong, message: "the field firstName can contain no more than 50 characters"},
		{name: "firstName 50 characters inside spaces", field: "firstName", value: "  " + strings.Repeat("a", 50) + "  "},
		{name: "firstName invalid UTF-8", field: "firstName", value: "Jo\xffhn",
			code: schemas.CodeFormat, message: "the entered value does not match the format"},

		// lastName: optional, 0-50 characters.
		{name: "lastName empty", field: "lastName", value: ""},
		{name: "lastName 50 characters", field: "lastName", value: strings.Repeat("b", 50)},
		{name: "lastName 51 characters", field: "lastName", value: strings.Repeat("b", 51),
			code: schemas.CodeTooLong, message: "the field lastName can contain no more than 50 characters"},

		// email: required, A@B.C, at most 100 characters.
		{name: "email valid", field: "email", value: "john.doe@example.com"},
		{name: "email shortest A@B.C", field: "email", value: "a@b.c"},
		{name: "email empty", field: "email", value: "",
			code: schemas.CodeRequired, message: "the value of the field email cannot be empty"},
		{name: "email without domain dot", field: "email", value: "john@example",
			code: schemas.CodeFormat, message: "the entered value does not match the format"},
		{name: "email without at", field: "email", value: "john.example.com",
			code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "email without local part", field: "email", value: "@example.com",
			code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "email with space", field: "email", value: "john doe@example.com",
			code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "email with two ats", field: "email", value: "a@b@example.com",
			code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "email 100 characters", field: "email", value: email100},
		{name: "email 101 characters", field: "email", value: "a" + email100,
			code: schemas.CodeTooLong, message: "the field email can contain no more than 100 characters"},

		// ID: optional, 24 hex digits.
		{name: "ID empty", field: "ID", value: ""},
		{name: "ID from the template", field: "ID", value: hexID},
		{name: "ID upper case", field: "ID", value: strings.ToUpper(hexID)},
		{name: "ID 23 digits", field: "ID", value: hexID[:23], code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "ID 25 digits", field: "ID", value: hexID + "0", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "ID not hex", field: "ID", value: "666c2c2f32735479fd3e9a5g", code: schemas.CodeFormat, message: schemas.MsgFormat},

		// project and desk: 24 hex digits.
		{name: "project id", field: "project", value: "66524609caa3558dd8f8da65"},
		{name: "project name instead of id", field: "project", value: "Main project",
			code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "desk id", field: "desk", value: "67a346ad8092c651c919337e"},
		{name: "desk short", field: "desk", value: "67a346ad", code: schemas.CodeFormat, message: schemas.MsgFormat},

		// active: True/False in any case, 1/0.
		{name: "active True", field: "active", value: "True"},
		{name: "active FALSE", field: "active", value: "FALSE"},
		{name: "active true", field: "active", value: "true"},
		{name: "active 1", field: "active", value: "1"},
		{name: "active 0", field: "active", value: "0"},
		{name: "active empty", field: "active", value: ""},
		{name: "active yes", field: "active", value: "yes", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "active 2", field: "active", value: "2", code: schemas.CodeFormat, message: schemas.MsgFormat},

		// type: Personal, Corporate or Partner in any case.
		{name: "type Personal", field: "type", value: "Personal"},
		{name: "type corporate", field: "type", value: "corporate"},
		{name: "type PARTNER", field: "type", value: "PARTNER"},
		{name: "type unknown", field: "type", value: "Business", code: schemas.CodeFormat, message: schemas.MsgFormat},

		// created: ISO 8601 within what ClickHouse DateTime holds.
		{name: "created from the template", field: "created", value: "2024-06-13T15:06:02.802Z"},
		{name: "created with offset", field: "created", value: "2025-01-15T09:30:00+01:00"},
		{name: "created date only", field: "created", value: "2024-08-01"},
		{name: "created with space", field: "created", value: "2024-09-10 12:00:00"},
		{name: "created month 13", field: "created", value: "2024-13-01", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "created word", field: "created", value: "yesterday", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "created before 1970", field: "created", value: "1969-12-31", code: schemas.CodeFormat, message: schemas.MsgFormat},
		{name: "created day first", field: "created", value: "13/06/2024", code: schemas.CodeFormat, message: schemas.MsgFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := field(t, tc.field)
			v, ok := f.Check(tc.value, schemas.Context{}, f.Required)
			if wantOK := tc.code == ""; ok != wantOK {
				t.Fatalf("Check(%q) ok = %v, want %v (violation %+v)", tc.value, ok, wantOK, v)
			}
			if ok {
				if v != (schemas.Violation{}) {
					t.Errorf("Check(%q) accepted with violation %+v, want none", tc.value, v)
				}
				return
			}
			want := schemas.Violation{Column: tc.field, Code: tc.code, Message: tc.message, Value: tc.value}
			if v != want {
				t.Errorf("Check(%q) =\n %+v\nwant\n %+v", tc.value, v, want)
			}
		})
	}
}

func TestFieldCanonical(t *testing.T) {
	received := time.Date(2025, 3, 1, 12, 30, 45, 0, time.FixedZone("CET", 3600))
	dc := schemas.Context{Tenant: "acme", ReceivedAt: received, Key: "john@example.com"}
	cases := []struct {
		name  string
		field string
		value string
		want  string
	}{
		{name: "firstName trimmed", field: "firstName", value: "  John \t", want: "John"},
		{name: "firstName keeps case", field: "firstName", value: "McDonald", want: "McDonald"},
		{name: "lastName empty stays empty", field: "lastName", value: "  ", want: ""},
		{name: "email lower-cased and trimmed", field: "email", value: " John.Doe@Example.COM ", want: "john.doe@example.com"},
		{name: "ID lower-cased", field: "ID", value: "666C2C2F32735479FD3E9A5C", want: "666c2c2f32735479fd3e9a5c"},
		{name: "ID default derived from tenant and key", field: "ID", value: "",
			want: schemas.DerivedID("acme", "john@example.com")},
		{name: "project lower-cased", field: "project", value: "66524609CAA3558DD8F8DA65", want: "66524609caa3558dd8f8da65"},
		{name: "project empty has no default", field: "project", value: "", want: ""},
		{name: "active True", field: "active", value: "True", want: "1"},
		{name: "active false", field: "active", value: "false", want: "0"},
		{name: "active 0", field: "active", value: "0", want: "0"},
		{name: "active default", field: "active", value: "", want: "1"},
		{name: "type canonical case", field: "type", value: "corporate", want: "Corporate"},
		{name: "type upper case", field: "type", value: "PARTNER", want: "Partner"},
		{name: "type default", field: "type", value: " ", want: "Personal"},
		{name: "created Z with milliseconds", field: "created", value: "2024-06-13T15:06:02.802Z", want: "2024-06-13 15:06:02"},
		{name: "created offset to UTC", field: "created", value: "2025-01-15T09:30:00+01:00", want: "2025-01-15 08:30:00"},
		{name: "created date only", field: "created", value: "2024-08-01", want: "2024-08-01 00:00:00"},
		{name: "created no zone is UTC", field: "created", value: " 2024-09-10 12:00:00 ", want: "2024-09-10 12:00:00"},
		{name: "created default is ReceivedAt in UTC", field: "created", value: "", want: "2025-03-01 11:30:45"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := field(t, tc.field).Canonical(tc.value, dc); got != tc.want {
				t.Errorf("Canonical(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestFieldCanonicalDerivedID(t *testing.T) {
	id := field(t, "ID")
	base := schemas.Context{Tenant: "acme", Key: "john@example.com"}
	got := id.Canonical("", base)
	if v, ok := id.Check(got, schemas.Context{}, id.Required); !ok {
		t.Fatalf("derived ID %q fails the ID rule: %+v", got, v)
	}
	cases := []struct {
		name string
		dc   schemas.Context
		same bool
	}{
		{name: "same tenant and key", dc: base, same: true},
		{name: "other received time", dc: schemas.Context{Tenant: "acme", Key: "john@example.com", ReceivedAt: time.Unix(1e9, 0)}, same: true},
		{name: "other tenant", dc: schemas.Context{Tenant: "beta", Key: "john@example.com"}},
		{name: "other key", dc: schemas.Context{Tenant: "acme", Key: "jane@example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := id.Canonical("", tc.dc)
			if (other == got) != tc.same {
				t.Errorf("ID for %+v = %q, for %+v = %q; want same = %v", base, got, tc.dc, other, tc.same)
			}
		})
	}
}

func TestNormalizeHeader(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   string
	}{
		{name: "template", header: "firstName", want: "firstname"},
		{name: "words", header: "First Name", want: "firstname"},
		{name: "snake case", header: "first_name", want: "firstname"},
		{name: "upper kebab case", header: "FIRST-NAME", want: "firstname"},
		{name: "surrounding spaces", header: "  email ", want: "email"},
		{name: "byte order mark", header: "\ufeffID", want: "id"},
		{name: "other word kept", header: "Full Name", want: "fullname"},
		{name: "punctuation", header: "E-mail:", want: "email"},
		{name: "seed 002's filler words", header: "*The user is a manager", want: "manager"},
		{name: "filler words inside", header: "Email of the manager", want: "emailmanager"},
		{name: "user name is a term", header: "The User Name", want: "username"},
		{name: "Russian", header: "Фамилия", want: "фамилия"},
		{name: "Russian filler words", header: "Пользователь является руководителем", want: "руководителем"},
		{name: "Russian term", header: "Имя пользователя", want: "имяпользователя"},
		{name: "Russian filler after a word", header: "Статус пользователя", want: "статус"},
		{name: "yo as ye", header: "Учётная запись", want: "учетнаязапись"},
		{name: "filler words only", header: "The user", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schemas.NormalizeHeader(tc.header); got != tc.want {
				t.Errorf("NormalizeHeader(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestDatasetMatch(t *testing.T) {
	const expected = "expected headers: ID, firstName, lastName, email, project, desk, active, type, created"
	idx := schemas.Clients.Index
	cases := []struct {
		name   string
		header []string
		mode   string             // create unless set
		want   []int              // when the header is accepted
		labels []string           // and its columns matched by a label
		err    *schemas.Violation // when it is not
	}{
		{name: "template order", header: schemas.Clients.Headers(),
			want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
		{name: "required only", header: []string{"firstName", "email"},
			want: []int{idx("firstName"), idx("email")}},
		{name: "other order and spellings", header: []string{"E-Mail", "created", "First Name", "last_name", "ACTIVE"},
			want:   []int{idx("email"), idx("created"), idx("firstName"), idx("lastName"), idx("active")},
			labels: []string{"E-Mail -> email", "First Name -> firstName", "last_name -> lastName", "ACTIVE -> active"}},
		{name: "byte order mark on first header", header: []string{"\ufeffFIRST-NAME", "email"},
			want: []int{idx("firstName"), idx("email")}, labels: []string{"\ufeffFIRST-NAME -> firstName"}},
		{name: "byte order mark on a name", header: []string{"\ufefffirstName", "email"},
			want: []int{idx("firstName"), idx("email")}},
		{name: "labels", header: []string{"Given name", "Surname", "Email address", "Is active", "Account type"},
			want:   []int{idx("firstName"), idx("lastName"), idx("email"), idx("active"), idx("type")},
			labels: []string{"Given name -> firstName", "Surname -> lastName", "Email address -> email", "Is active -> active", "Account type -> type"}},
		{name: "Russian labels", header: []string{"Имя", "Фамилия", "Электронная почта", "Активен", "Тип", "Проект", "Создан"},
			want: []int{idx("firstName"), idx("lastName"), idx("email"), idx("active"), idx("type"), idx("project"), idx("created")},
			labels: []string{"Имя -> firstName", "Фамилия -> lastName", "Электронная почта -> email", "Активен -> active",
				"Тип -> type", "Проект -> project", "Создан -> created"}},
		{name: "unknown column", header: []string{"firstName", "email", "phone"},
			err: &schemas.Violation{Column: "phone", Code: schemas.CodeUnknownColumn,
				Message: `the file has an unknown column "phone"; ` + expected}},
		{name: "not a field of this dataset", header: []string{"firstName", "email", "Телефон"},
			err: &schemas.Violation{Column: "Телефон", Code: schemas.CodeUnknownColumn,
				Message: `the file has an unknown column "Телефон"; ` + expected}},
		{name: "duplicate column", header: []string{"email", "firstName", "Email"},
			err: &schemas.Violation{Column: "Email", Code: schemas.CodeDuplicateColumn,
				Message: `the columns "email" and "Email" are both the field email; ` + expected}},
		{name: "duplicate column in other spelling", header: []string{"first_name", "email", "First Name"},
			err: &schemas.Violation{Column: "First Name", Code: schemas.CodeDuplicateColumn,
				Message: `the columns "first_name" and "First Name" are both the field firstName; ` + expected}},
		{name: "a name and a label of one field", header: []string{"firstName", "email", "Почта"},
			err: &schemas.Violation{Column: "Почта", Code: schemas.CodeDuplicateColumn,
				Message: `the columns "email" and "Почта" are both the field email; ` + expected}},
		{name: "missing email", header: []string{"firstName", "lastName"},
			err: &schemas.Violation{Column: "email", Code: schemas.CodeMissingColumn,
				Message: "the file has no column email; " + expected}},
		{name: "missing firstName", header: []string{"email", "lastName"},
			err: &schemas.Violation{Column: "firstName", Code: schemas.CodeMissingColumn,
				Message: "the file has no column firstName; " + expected}},
		{name: "missing both", header: []string{"lastName"},
			err: &schemas.Violation{Column: "email", Code: schemas.CodeMissingColumn,
				Message: "the file has no column email, firstName; " + expected}},
		{name: "update mode: the key and what changes", header: []string{"email", "lastName"}, mode: schemas.ModeUpdate,
			want: []int{idx("email"), idx("lastName")}},
		{name: "update mode: the key alone", header: []string{"E-mail"}, mode: schemas.ModeUpdate,
			want: []int{idx("email")}, labels: []string{"E-mail -> email"}},
		{name: "update mode: still the key", header: []string{"firstName", "lastName"}, mode: schemas.ModeUpdate,
			err: &schemas.Violation{Column: "email", Code: schemas.CodeMissingColumn,
				Message: "the file has no column email; " + expected}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mode := cmp.Or(tc.mode, schemas.ModeCreate)
			got, v := schemas.Clients.Match(tc.header, mode)
			if tc.err != nil {
				if v == nil {
					t.Fatalf("Match(%q) = %+v, nil; want violation %+v", tc.header, got, *tc.err)
				}
				if *v != *tc.err {
					t.Errorf("Match(%q) violation =\n %+v\nwant\n %+v", tc.header, *v, *tc.err)
				}
				if got.Shape != nil || got.Cols != nil {
					t.Errorf("Match(%q) = %+v with a violation, want none", tc.header, got)
				}
				return
			}
			if v != nil {
				t.Fatalf("Match(%q) violation %+v, want none", tc.header, *v)
			}
			if got.Shape != schemas.Clients || !slices.Equal(got.Cols, tc.want) {
				t.Errorf("Match(%q) = %s %v, want clients %v", tc.header, got.Shape.Name, got.Cols, tc.want)
			}
			if !slices.Equal(got.Labels, tc.labels) {
				t.Errorf("Match(%q) labels = %q, want %q", tc.header, got.Labels, tc.labels)
			}
		})
	}
}

func TestDatasetCanonicalKey(t *testing.T) {
	email := schemas.Clients.KeyIndex()
	row := func(v string) []string {
		cells := make([]string, len(schemas.Clients.Fields))
		cells[email] = v
		return cells
	}
	cases := []struct {
		name  string
		email string
		want  string
	}{
		{name: "canonical already", email: "a@x.com", want: "a@x.com"},
		{name: "upper case", email: "A@X.COM", want: "a@x.com"},
		{name: "spaces", email: "  a@x.com\t", want: "a@x.com"},
		{name: "empty", email: "", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schemas.Clients.CanonicalKey(row(tc.email)); got != tc.want {
				t.Errorf("CanonicalKey(email %q) = %q, want %q", tc.email, got, tc.want)
			}
		})
	}
}
