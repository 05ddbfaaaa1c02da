package schemas

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// UserGroupTypes are the kinds of group a user belongs to (seed 002), one
// column each, and the types a group may have (GroupRecords): each column
// names an existing group of the tenant of its own type, or an untyped one.
var UserGroupTypes = []string{"region", "city", "role", "position", "team", "department", "appointments"}

// UserStatuses are the statuses a user may have (seeds 001 and 002). Blocked
// and disabled are legacy: a new user never gets them, as a status given on
// creation is ignored.
var UserStatuses = []string{"active", "pending", "expired", "blocked", "disabled"}

var userStatusFormat, userStatusNormalize = OneOf(UserStatuses...)

// The statuses of seed 001 that sluice gives: a user created with a
// password is active; one created without is pending until they set one by
// their invitation (notify), and expired when it lapses first.
const (
	UserActive  = "active"
	UserPending = "pending"
	UserExpired = "expired"
)

// Users is the users dataset (seeds 001 and 002): login identifies the user
// (the email when the file gives none); a new user needs an email and both
// names; email and phone may belong to one user of the tenant only; the
// manager's email names a user of the tenant or another row of the file; the
// password is hashed (argon2id) before it is stored, and never travels or
// rests in plain text.
//
// The seeds differ on what a new user must have: seed 001's template
// requires names and email, seed 002 marks the manager flag and the groups.
// sluice requires what both need to reach a user (login, email, names): a
// file of seed 001's template (names and email) creates users whose login is
// their email, pending until they set a password by the invitation notify
// mails them (pendingWithoutPassword); the manager flag defaults to 0, and
// a group, when given, must exist, of the column's type or untyped
// (GroupRecords). A user's group cells are its groups by
// type; the groups dataset's memberships (group_members) are who is in a
// group, and a users import's permission options add memberships
// (load/permissions.go).
var Users = &Dataset{
	Name:    "users",
	Version: 3, // 2: the login defaults to the email, the password is optional; 3: the manager's email
	Table:   "users",
	Key:     "login",
	// A users import's permission options give its users memberships.
	Also:     []*Dataset{Memberships},
	OnCreate: pendingWithoutPassword,
	// A sync blocks the users it leaves out.
	Deactivate: &Deactivation{Field: "status", Value: "blocked", Verb: "deactivated"},
	Fields: append([]Field{
		{Name: "login", Labels: []string{"Username", "User name", "Логин", "Имя пользователя"}, Column: "login", Required: true, MaxLen: 50, Format: IsLogin, Normalize: strings.ToLower, From: "email",
			Help: "Latin letters, digits, / \\ _ . - and @; identifies the user (any case)", Example: "j.doe"},
		{Name: "password", Labels: []string{"Пароль"}, Column: "password_hash", Secret: true, Parse: checkPassword,
			Help: "the tenant's password policy; by default 8-100 characters, at least one digit and one Latin letter, no spaces; stored only as an argon2id hash; when empty, a new user is invited to set one", Example: "Welcome2024"},
		{Name: "email", Labels: emailLabels, Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower, Unique: true,
			Help: "of the form A@B.C, where invitations are sent; no other user may have it", Example: "john.doe@example.com"},
		{Name: "phone", Labels: []string{"Phone number", "Telephone", "Mobile", "Mobile phone", "Телефон", "Номер телефона", "Мобильный телефон"}, Column: "phone", MaxLen: 30, Parse: parsePhone, Unique: true,
			Help: "in any form (+7..., 7..., 8..., other countries' too), stored as +<country><number>; no other user may have it", Example: "+7 916 123-45-67"},
		{Name: "firstName", Labels: firstNameLabels, Column: "first_name", Required: true, MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "John"},
		{Name: "lastName", Labels: lastNameLabels, Column: "last_name", Required: true, MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "Doe"},
		{Name: "manager", Labels: []string{"The user is a manager", "Руководитель", "Пользователь является руководителем"}, Column: "manager", Kind: Bool, Format: Is01, Normalize: NormalizeBool, Default: func(Context) string { return "0" },
			Help: "1 if the user is a manager, 0 (the default) if not", Example: "0"},
		{Name: "managerEmail", Labels: []string{"Email of the manager", "Manager email", "Manager's email", "Email руководителя", "Почта руководителя", "Электронная почта руководителя"}, Column: "manager_email", MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower, Ref: managerRef,
			Help: "the email of the user's manager (seed 002's \"Email of the manager\"), of the form A@B.C: a user of the company, or another row of the file, in any row", Example: "anna.smith@example.com"},
		{Name: "mustChangePassword", Labels: []string{"The user needs to change the password", "Change password", "Force password change",
			"Сменить пароль", "Смена пароля", "Пользователь должен сменить пароль"}, Column: "must_change_password", Kind: Bool, Format: Is01, Normalize: NormalizeBool,
			Default: func(Context) string { return "0" },
			Help:    "1 to make the user change the password at the next login, 0 (the default) not to", Example: "1"},
		{Name: "status", Labels: []string{"User status", "Статус"}, Column: "status", Format: userStatusFormat, Normalize: userStatusNormalize, IgnoredOnCreate: true,
			Default: func(Context) string { return "active" },
			Help:    "active, pending, expired, blocked or disabled; changes an existing user only: a new user is active, or pending without a password", Example: "active"},
	}, userGroupFields()...),
	MoreExamples: []map[string]string{{"login": "a.smith", "password": "Manager2024", "email": "anna.smith@example.com",
		"firstName": "Anna", "lastName": "Smith", "manager": "1"}},
}

// groupTypeLabels are the other headers of each group type's column: the
// Russian version's, and synonyms.
var groupTypeLabels = map[string][]string{"region": {"Регион"}, "city": {"Город"}, "role": {"Роль"},
	"position": {"Job title", "Должность"}, "team": {"Команда"}, "department": {"Отдел", "Подразделение"},
	"appointments": {"Appointment", "Назначения", "Назначение"}}

// The labels of fields that several datasets have (see Field.Labels).
var (
	emailLabels     = []string{"Mail", "Email address", "Access email", "Электронная почта", "Эл. почта", "Почта", "Адрес электронной почты"}
	firstNameLabels = []string{"Given name", "Имя"}
	lastNameLabels  = []string{"Surname", "Family name", "Фамилия"}
)

// pendingWithoutPassword makes a new user with no password pending (seed
// 001): they set one by their invitation.
func pendingWithoutPassword(d *Dataset, cells []string) {
	if cells[d.Index("password")] == "" {
		cells[d.Index("status")] = UserPending
	}
}

// managerRef: a manager is a user of the tenant, or a row of the same file.
var managerRef = &Ref{Table: "users", Column: "email", Code: CodeNoManager, Message: MsgNoManager("managerEmail"), InFile: "email"}

// groupExamples are the template's example groups, by type.
var groupExamples = map[string]string{"region": "North-West", "city": "Saint Petersburg", "role": "Employee",
	"position": "Engineer", "team": "Platform", "department": "Engineering", "appointments": "Onboarding"}

func userGroupFields() []Field {
	fields := make([]Field, len(UserGroupTypes))
	for i, t := range UserGroupTypes {
		fields[i] = Field{Name: t, Labels: groupTypeLabels[t], Column: "group_" + t, MaxLen: 255,
			Ref:     &Ref{Table: GroupRecords.Table, Column: "name", Type: t, Code: CodeNoGroup, Message: MsgNoGroup},
			Help:    "the name of one of the company's groups of type " + t + ", or of an untyped group (it must exist: the groups import creates them)",
			Example: groupExamples[t]}
	}
	return fields
}

// Accounts is the accounts dataset (seed 000): the people of a tenant's
// subscription, by email. Group members must have an account.
var Accounts = &Dataset{
	Name:    "accounts",
	Version: 1,
	Table:   "accounts",
	Key:     "email",
	Fields: []Field{
		{Name: "email", Labels: emailLabels, Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower,
			Help: "the account's address, of the form A@B.C; it identifies the account", Example: "jane.roe@example.com"},
		{Name: "firstName", Labels: firstNameLabels, Column: "first_name", Required: true, MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "Jane"},
		{Name: "lastName", Labels: lastNameLabels, Column: "last_name", MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "Roe"},
	},
}

// IsLogin reports whether v has only Latin letters, digits and / \ _ . - @
// (seed 002).
func IsLogin(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !strings.ContainsRune(`/\_.-@`, rune(c)) {
			return false
		}
	}
	return true
}

// IsPersonName reports whether v has only Latin and Cyrillic letters,
// digits, spaces and / \ ' - (seed 002). Latin letters include those with
// diacritics (José, Zoë, Łukasz): they are letters of the Latin alphabet as
// the partners who write them know it.
func IsPersonName(v string) bool {
	for _, r := range v {
		switch {
		case r < 0x80 && (isAlnum(byte(r)) || strings.ContainsRune(` /\'-`, r)):
		case (unicode.Is(unicode.Cyrillic, r) || unicode.Is(unicode.Latin, r)) && unicode.IsLetter(r):
		default:
			return false
		}
	}
	return true
}

// Is01 accepts 0 and 1 only (seed 002's flags).
func Is01(v string) bool { return v == "0" || v == "1" }

// parsePhone reads a number as written in the tenant's region (8 916 ...
// in Russia), or with its country code with or without the + (+7 916 ...,
// 7916...), and returns it in E.164.
func parsePhone(v string, c Context) (string, *Violation) {
	for _, s := range []string{v, "+" + v} {
		n, err := phonenumbers.Parse(s, c.Region)
		if err == nil && phonenumbers.IsValidNumber(n) {
			return phonenumbers.Format(n, phonenumbers.E164), nil
		}
		if strings.HasPrefix(v, "+") {
			break
		}
	}
	return "", &Violation{Code: CodeFormat, Message: MsgFormat}
}

// ValidRegion reports whether r is a phone region: a country code (ISO 3166
// alpha-2) with a calling code.
func ValidRegion(r string) bool { return phonenumbers.GetCountryCodeForRegion(r) != 0 }

// PasswordPolicy is what a tenant asks of a password (seed 002: "depends on
// the password policy settings"). Spaces are never allowed.
type PasswordPolicy struct {
	MinLen int `json:"min_len"`
	MaxLen int `json:"max_len"`
	// Digit, Letter and Upper ask for at least one digit, one Latin letter
	// and one upper-case Latin letter; Symbol for one character that is
	// none of those.
	Digit  bool `json:"digit"`
	Letter bool `json:"letter"`
	Upper  bool `json:"upper"`
	Symbol bool `json:"symbol"`
}

// DefaultPasswordPolicy is seed 002's: 8-100 characters, at least one digit
// and one Latin letter.
var DefaultPasswordPolicy = PasswordPolicy{MinLen: 8, MaxLen: 100, Digit: true, Letter: true}

// String says the policy as a partner reads it.
func (p PasswordPolicy) String() string {
	parts := []string{fmt.Sprintf("%d to %d characters", p.MinLen, p.MaxLen)}
	for _, r := range []struct {
		on   bool
		what string
	}{{p.Digit, "a digit"}, {p.Letter, "a Latin letter"}, {p.Upper, "an upper-case Latin letter"}, {p.Symbol, "a character that is not a letter or a digit"}} {
		if r.on {
			parts = append(parts, "at least "+r.what)
		}
	}
	return strings.Join(parts, ", ") + ", no spaces"
}

// Check returns the rule a password breaks, or nil.
func (p PasswordPolicy) Check(pw string) *Violation {
	n := len([]rune(pw))
	if n > p.MaxLen {
		return &Violation{Code: CodeTooLong, Message: MsgTooLong("password", p.MaxLen)}
	}
	var digit, letter, upper, symbol, space bool
	for _, r := range pw {
		switch {
		case '0' <= r && r <= '9':
			digit = true
		case 'a' <= r && r <= 'z':
			letter = true
		case 'A' <= r && r <= 'Z':
			letter, upper = true, true
		case unicode.IsSpace(r):
			space = true
		default:
			symbol = true
		}
	}
	if n < p.MinLen || space || p.Digit && !digit || p.Letter && !letter || p.Upper && !upper || p.Symbol && !symbol {
		return &Violation{Code: CodePasswordPolicy, Message: MsgPasswordPolicy(p)}
	}
	return nil
}

func checkPassword(v string, c Context) (string, *Violation) {
	if bad := c.Password.Check(v); bad != nil {
		return "", bad
	}
	return v, nil
}
