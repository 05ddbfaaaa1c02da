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

// Users is the users dataset (seeds 001 and 002): login identifies the user;
// a new user needs a password, an email and both names; email and phone may
// belong to one user of the tenant only; the password is hashed (argon2id)
// before it is stored, and never travels or rests in plain text.
//
// The seeds differ on what a new user must have: seed 001's template
// requires names and email, seed 002 marks the manager flag and the groups.
// sluice requires what both need to reach a user (login, password, email,
// names); the manager flag defaults to 0, and a group, when given, must
// exist, of the column's type or untyped (GroupRecords). A user's group cells are its groups by type; the groups dataset's
// memberships (group_members) are who is in a group, and a users import's
// permission options add memberships (load/permissions.go).
var Users = &Dataset{
	Name:    "users",
	Version: 1,
	Table:   "users",
	Key:     "login",
	// A users import's permission options give its users memberships.
	Also: []*Dataset{Memberships},
	Fields: append([]Field{
		{Name: "login", Column: "login", Required: true, MaxLen: 50, Format: IsLogin, Normalize: strings.ToLower,
			Help: "Latin letters, digits, / \\ _ . - and @; identifies the user (any case)", Example: "j.doe"},
		{Name: "password", Column: "password_hash", Required: true, Secret: true, Parse: checkPassword,
			Help: "the tenant's password policy; by default 8-100 characters, at least one digit and one Latin letter, no spaces; stored only as an argon2id hash", Example: "Welcome2024"},
		{Name: "email", Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower, Unique: true,
			Help: "of the form A@B.C, where invitations are sent; no other user may have it", Example: "john.doe@example.com"},
		{Name: "phone", Column: "phone", MaxLen: 30, Parse: parsePhone, Unique: true,
			Help: "in any form (+7..., 7..., 8..., other countries' too), stored as +<country><number>; no other user may have it", Example: "+7 916 123-45-67"},
		{Name: "firstName", Column: "first_name", Required: true, MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "John"},
		{Name: "lastName", Column: "last_name", Required: true, MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "Doe"},
		{Name: "manager", Column: "manager", Kind: Bool, Format: Is01, Normalize: NormalizeBool, Default: func(Context) string { return "0" },
			Help: "1 if the user is a manager, 0 (the default) if not", Example: "0"},
		{Name: "mustChangePassword", Column: "must_change_password", Kind: Bool, Format: Is01, Normalize: NormalizeBool,
			Default: func(Context) string { return "0" },
			Help:    "1 to make the user change the password at the next login, 0 (the default) not to", Example: "1"},
		{Name: "status", Column: "status", Format: userStatusFormat, Normalize: userStatusNormalize, IgnoredOnCreate: true,
			Default: func(Context) string { return "active" },
			Help:    "active, pending, expired, blocked or disabled; changes an existing user only: a new user is active", Example: "active"},
	}, userGroupFields()...),
}

// groupExamples are the template's example groups, by type.
var groupExamples = map[string]string{"region": "North-West", "city": "Saint Petersburg", "role": "Employee",
	"position": "Engineer", "team": "Platform", "department": "Engineering", "appointments": "Onboarding"}

func userGroupFields() []Field {
	fields := make([]Field, len(UserGroupTypes))
	for i, t := range UserGroupTypes {
		fields[i] = Field{Name: t, Column: "group_" + t, MaxLen: 255,
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
		{Name: "email", Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower,
			Help: "the account's address, of the form A@B.C; it identifies the account", Example: "jane.roe@example.com"},
		{Name: "firstName", Column: "first_name", Required: true, MaxLen: 50, Format: IsPersonName,
			Help: "Latin (accented too) and Cyrillic letters, digits, spaces, / \\ ' and -", Example: "Jane"},
		{Name: "lastName", Column: "last_name", MaxLen: 50, Format: IsPersonName,
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
