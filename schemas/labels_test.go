package schemas_test

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// shapes are the datasets and layouts a file may have: each is matched to
// a header on its own.
func shapes() map[string]*schemas.Dataset {
	out := map[string]*schemas.Dataset{}
	for name, ds := range schemas.Datasets {
		if ds.Layouts == nil {
			out[name] = ds
		}
		for _, l := range ds.Layouts {
			out[name+"/"+l.Name] = l
		}
	}
	return out
}

// assertUnambiguous fails t if two fields of ds fold a name or a label to
// the same header, or a label folds to nothing (filler words only).
func assertUnambiguous(t *testing.T, ds *schemas.Dataset) {
	t.Helper()
	owner := map[string]string{}
	for _, f := range ds.Fields {
		for _, h := range append([]string{f.Name}, f.Labels...) {
			n := schemas.NormalizeHeader(h)
			if n == "" {
				t.Errorf("%s: label %q of %s is filler words only", ds.Name, h, f.Name)
			}
			if o, ok := owner[n]; ok && o != f.Name {
				t.Errorf("%s: %q of %s folds to %q, as a header of %s does", ds.Name, h, f.Name, n, o)
			}
			owner[n] = f.Name
		}
	}
}

// TestLabelsAreUnambiguous: no header matches two fields of a dataset or a
// layout, whatever filler words it drops.
func TestLabelsAreUnambiguous(t *testing.T) {
	for name, ds := range shapes() {
		t.Run(name, func(t *testing.T) { assertUnambiguous(t, ds) })
	}
}

// TestLabelsCanTellTheManagersEmail: the labels the manager's email
// (managerEmail, seed 002's "Email of the manager") takes fold apart from
// the manager flag's and the user's email's.
func TestLabelsCanTellTheManagersEmail(t *testing.T) {
	users := *schemas.Users
	users.Fields = append(slices.Clone(users.Fields), schemas.Field{Name: "managerEmail", Column: "manager_email",
		Labels: []string{"Email of the manager", "Manager email", "Manager's email", "Email руководителя", "Почта руководителя",
			"Электронная почта руководителя"}})
	assertUnambiguous(t, &users)
	h, v := users.Match([]string{"login", "Руководитель", "E-mail of the manager", "Электронная почта руководителя", "Почта"}, schemas.ModeUpdate)
	if v == nil {
		t.Fatalf("two columns of the manager's email: accepted as %v, want duplicate_column", h.Cols)
	}
	if v.Code != schemas.CodeDuplicateColumn || v.Column != "Электронная почта руководителя" {
		t.Errorf("got %+v, want duplicate_column naming the second column", *v)
	}
	h, v = users.Match([]string{"login", "Руководитель", "Email of the manager", "Почта"}, schemas.ModeUpdate)
	if v != nil {
		t.Fatalf("got %+v, want the header accepted", *v)
	}
	var got []string
	for _, i := range h.Cols {
		got = append(got, users.Fields[i].Name)
	}
	if want := []string{"login", "manager", "managerEmail", "email"}; !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}
}

// TestUsersHeaders: users headers as partners write them, in the seeds'
// words, in synonyms and in Russian, match the fields they mean.
func TestUsersHeaders(t *testing.T) {
	cases := []struct {
		name   string
		header []string
		want   []string // the fields, column by column
	}{
		{name: "seed 002's words",
			header: []string{"Login", "Password", "Email", "Phone number", "First Name", "Last Name", "*The user is a manager",
				"User status", "The user needs to change the password", "Region", "City", "Role", "Position", "Team", "Department", "Appointments"},
			want: []string{"login", "password", "email", "phone", "firstName", "lastName", "manager", "status", "mustChangePassword",
				"region", "city", "role", "position", "team", "department", "appointments"}},
		{name: "the issue's words", header: []string{"login", "password", "email", "first name", "last name", "is manager", "must change password"},
			want: []string{"login", "password", "email", "firstName", "lastName", "manager", "mustChangePassword"}},
		{name: "synonyms", header: []string{"User name", "Password", "Mail", "Mobile", "Given name", "Family name", "Job title"},
			want: []string{"login", "password", "email", "phone", "firstName", "lastName", "position"}},
		{name: "more synonyms", header: []string{"Username", "Password", "e-mail address", "Telephone", "given_name", "Surname"},
			want: []string{"login", "password", "email", "phone", "firstName", "lastName"}},
		{name: "Russian", header: []string{"Логин", "Пароль", "Электронная почта", "Телефон", "Имя", "Фамилия", "Руководитель",
			"Статус", "Сменить пароль", "Регион", "Город", "Роль", "Должность", "Команда", "Отдел", "Назначения"},
			want: []string{"login", "password", "email", "phone", "firstName", "lastName", "manager", "status", "mustChangePassword",
				"region", "city", "role", "position", "team", "department", "appointments"}},
		{name: "Russian sentences", header: []string{"Имя пользователя", "Пароль", "E-mail", "Имя", "Фамилия",
			"Пользователь является руководителем", "Пользователь должен сменить пароль", "Статус пользователя"},
			want: []string{"login", "password", "email", "firstName", "lastName", "manager", "mustChangePassword", "status"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, v := schemas.Users.Match(tc.header, schemas.ModeCreate)
			if v != nil {
				t.Fatalf("Match(%q): %+v", tc.header, *v)
			}
			var got []string
			for _, i := range h.Cols {
				got = append(got, schemas.Users.Fields[i].Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Match(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

// TestHeadersNotFields: a header that names no field is still rejected,
// with its column named: a patronymic (Отчество) is no field, and filler
// words alone name nothing.
func TestHeadersNotFields(t *testing.T) {
	for _, h := range []string{"Отчество", "The user", "Name", "Manager phone"} {
		t.Run(h, func(t *testing.T) {
			_, v := schemas.Users.Match([]string{"login", h}, schemas.ModeUpdate)
			if v == nil || v.Code != schemas.CodeUnknownColumn || v.Column != h {
				t.Errorf("got %+v, want unknown_column naming %q", v, h)
			}
		})
	}
}

// TestPartialHeaders: in update mode a file needs only its key column
// (seed 002: "you can not fill in all his data, but only those that need to
// be updated"); in create mode, and in a layout whose rows are whole, every
// required column.
func TestPartialHeaders(t *testing.T) {
	cases := []struct {
		name    string
		ds      *schemas.Dataset
		header  []string
		mode    string
		missing string // the code's column, when the header is refused
	}{
		{name: "users update", ds: schemas.Users, header: []string{"login", "phone"}, mode: schemas.ModeUpdate},
		{name: "users create", ds: schemas.Users, header: []string{"login", "phone"}, mode: schemas.ModeCreate, missing: "email"},
		{name: "users update without the key", ds: schemas.Users, header: []string{"firstName", "phone"}, mode: schemas.ModeUpdate, missing: "login"},
		{name: "clients update", ds: schemas.Clients, header: []string{"email", "type"}, mode: schemas.ModeUpdate},
		{name: "accounts update", ds: schemas.Accounts, header: []string{"Почта", "Фамилия"}, mode: schemas.ModeUpdate},
		{name: "accounts create", ds: schemas.Accounts, header: []string{"email", "lastName"}, mode: schemas.ModeCreate, missing: "firstName"},
		{name: "groups update: a layout's rows are whole", ds: schemas.Groups, header: []string{"email", "FirstName"}, mode: schemas.ModeUpdate,
			missing: "Groupname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, v := tc.ds.Match(tc.header, tc.mode)
			switch {
			case tc.missing == "" && v != nil:
				t.Errorf("got %+v, want the header accepted", *v)
			case tc.missing != "" && (v == nil || v.Code != schemas.CodeMissingColumn || v.Column != tc.missing):
				t.Errorf("got %+v, want missing_column %s", v, tc.missing)
			}
		})
	}
}

// TestGroupsHeaders: a groups file's layout is told apart by headers in any
// of their labels.
func TestGroupsHeaders(t *testing.T) {
	cases := []struct {
		header []string
		layout string
		labels []string
	}{
		{[]string{"Группа", "Почта", "Почта"}, "group-based", []string{"Группа -> Groupname", "Почта -> Email", "Почта -> Email"}},
		{[]string{"Group name", "E-mail", "Email address"}, "group-based", []string{"Group name -> Groupname", "E-mail -> Email", "Email address -> Email"}},
		{[]string{"Email", "Имя", "Фамилия", "Название группы", "Group"}, "user-based",
			[]string{"Email -> email", "Имя -> FirstName", "Фамилия -> LastName", "Название группы -> Groupname", "Group -> Groupname"}},
	}
	for _, tc := range cases {
		h, v := schemas.Groups.Match(tc.header, schemas.ModeUpdate)
		if v != nil {
			t.Errorf("Match(%q): %+v", tc.header, *v)
			continue
		}
		if h.Shape.Name != tc.layout || !slices.Equal(h.Labels, tc.labels) {
			t.Errorf("Match(%q) = %s %q, want %s %q", tc.header, h.Shape.Name, h.Labels, tc.layout, tc.labels)
		}
	}
}
