package schemas

import "strings"

// GroupRecords are a tenant's groups: load writes one with every
// membership, so a group exists once it has had a member.
var GroupRecords = &Dataset{
	Name:    "group",
	Version: 1,
	Table:   "groups",
	Key:     "name",
	Fields:  []Field{{Name: "name", Column: "name"}},
}

// Memberships are the records the groups dataset loads: one per member of a
// group (and the group's, GroupRecords). Member is the record's key: the
// email, a space, the group name (an email has no space, so the key reads
// back unambiguously). The member must have an account.
var Memberships = &Dataset{
	Name:    "memberships",
	Version: 1,
	Table:   "group_members",
	Key:     "member",
	Fields: []Field{
		{Name: "member", Column: "member"},
		{Name: "Groupname", Column: "group_name"},
		{Name: "email", Column: "email", Ref: &Ref{Table: "accounts", Column: "email", Code: CodeNoAccount, Message: MsgNoAccount}},
	},
	Also: []*Dataset{GroupRecords},
}

// Membership returns the cells of the membership record of email in group.
func Membership(group, email string) []string {
	return []string{email + " " + group, group, email}
}

func groupField(repeated bool) Field {
	return Field{Name: "Groupname", Labels: []string{"Group", "Группа", "Название группы"}, Column: "group_name", Required: true, MaxLen: 255, Repeated: repeated,
		Help: "the name of a group to add the user to; it is created if the company does not have it", Example: "Sales"}
}

func memberField(name string, repeated bool) Field {
	return Field{Name: name, Labels: emailLabels, Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower, Repeated: repeated,
		Help: "the address of a user who already has an account (linked to an existing subscription)", Example: "jane.roe@example.com"}
}

// GroupBased is the group-based layout of a groups file (seed 003): a group
// per row, its members in one or more Email columns. A group may take more
// than one row. A file of Groupname and Email alone is a list of pairs, which
// reads the same either way.
var GroupBased = &Dataset{
	Name:         "group-based",
	Version:      1,
	Key:          "Groupname",
	MayRepeatKey: true,
	Fields:       []Field{groupField(false), memberField("Email", true)},
	Records:      Memberships,
	Pivot: func(cells []string) [][]string {
		var out [][]string
		for email := range strings.SplitSeq(cells[1], ListSep) {
			if email != "" {
				out = append(out, Membership(cells[0], email))
			}
		}
		return out
	},
}

// UserBased is the user-based layout of a groups file (seed 003): a user per
// row, the groups in one or more Groupname columns. A user may take one row
// only ("be careful not to repeat users in the email column"). FirstName and
// LastName are checked but not loaded: the account has its own.
var UserBased = &Dataset{
	Name:        "user-based",
	Version:     1,
	Key:         "email",
	RepeatedKey: MsgRepeatedUser,
	Fields: []Field{
		memberField("email", false),
		{Name: "FirstName", Labels: firstNameLabels, Column: "first_name", MaxLen: 50, Format: IsPersonName, Help: "the user's first name (not loaded)", Example: "Jane"},
		{Name: "LastName", Labels: lastNameLabels, Column: "last_name", MaxLen: 50, Format: IsPersonName, Help: "the user's last name (not loaded)", Example: "Roe"},
		groupField(true),
	},
	Records: Memberships,
	Pivot: func(cells []string) [][]string {
		var out [][]string
		for group := range strings.SplitSeq(cells[3], ListSep) {
			if group != "" {
				out = append(out, Membership(group, cells[0]))
			}
		}
		return out
	},
}

// Groups is the groups dataset (seeds 000 and 003): groups and their
// members, in either layout, told apart by the header.
var Groups = &Dataset{
	Name:    "groups",
	Version: 1,
	Layouts: []*Dataset{GroupBased, UserBased},
	Records: Memberships,
}
