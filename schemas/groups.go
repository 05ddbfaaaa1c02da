package schemas

import (
	"slices"
	"strings"
)

// GroupRecords are a tenant's groups: load writes one with every
// membership, so a group exists once it has had a member, or once a file of
// group names (GroupList) names it. A group is removed (Removed) by a
// groups file in remove mode, or renamed by a file of RenameGroups.
//
// A group has a type (seed 002: "the values of one of the existing groups
// of each type"): one of UserGroupTypes, given by a groups file's type
// column or its folder (<tenant>/groups/<type>/<file>, Import.GroupType).
// A users column names a group of its own type, or an untyped group: a
// group no file gave a type is untyped, and any users column may name it,
// as before groups had types. A file that gives no type leaves a group's
// type as it is.
var GroupRecords = &Dataset{
	Name:    "group",
	Version: 1,
	Table:   "groups",
	Key:     "name",
	Fields:  []Field{{Name: "name", Column: "name"}, removedField, {Name: GroupType, Column: GroupType}},
}

// GroupType is the name and the column of a group's type.
const GroupType = "type"

var groupTypeFormat, groupTypeNormalize = OneOf(UserGroupTypes...)

// ValidGroupType reports whether t is a group type, written as
// UserGroupTypes writes it (lower case).
func ValidGroupType(t string) bool { return slices.Contains(UserGroupTypes, t) }

func typeField() Field {
	return Field{Name: GroupType, Column: GroupType, MaxLen: 20, Format: groupTypeFormat, Normalize: groupTypeNormalize,
		Help: "the group's type: " + strings.Join(UserGroupTypes, ", ") + "; a users column of that type may name it. " +
			"Empty: the type the folder gives (<company>/groups/<type>/), else the group's type is kept; " +
			"a group that never had one is untyped and any users column may name it", Example: "team"}
}

// Memberships are the records the groups dataset loads: one per member of a
// group (and the group's, GroupRecords). Member is the record's key: the
// email, a space, the group name (an email has no space, so the key reads
// back unambiguously). The member must have an account. A membership is
// removed (Removed) by a groups file in remove mode, with its group, or by
// a sync of members that leaves it out; or moved to the new name of its
// group (RenameGroups).
var Memberships = &Dataset{
	Name:    "memberships",
	Version: 1,
	Table:   "group_members",
	Key:     "member",
	Fields: []Field{
		{Name: "member", Column: "member"},
		{Name: "Groupname", Column: "group_name"},
		{Name: "email", Column: "email", Ref: &Ref{Table: "accounts", Column: "email", Code: CodeNoAccount, Message: MsgNoAccount}},
		removedField,
	},
	Also: []*Dataset{GroupRecords},
	// A sync of a groups file of members removes the memberships it
	// leaves out; groups stay, even with no member left.
	Deactivate: &Deactivation{Field: Removed, Value: "1", Verb: "removed"},
}

// Group returns the cells of the group record of name, of type typ ("":
// untyped, or the type it has).
func Group(name, typ string) []string { return []string{name, "0", typ} }

// Membership returns the cells of the membership record of email in group.
func Membership(group, email string) []string {
	return []string{email + " " + group, group, email, "0"}
}

func groupField(repeated bool) Field {
	return Field{Name: "Groupname", Labels: []string{"Group", "Группа", "Название группы"}, Column: "group_name", Required: true, MaxLen: 255, Repeated: repeated,
		Help: "the name of a group to add the user to; it is created if the company does not have it", Example: "Sales"}
}

func memberField(name string, repeated bool) Field {
	help := "the address of a user who already has an account (linked to an existing subscription)"
	if repeated {
		help += "; each address is judged on its own: the good ones are added, a bad one is reported with its column (Email, Email (2)...)"
	}
	return Field{Name: name, Labels: emailLabels, Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower, Repeated: repeated,
		Help: help, Example: "jane.roe@example.com"}
}

// GroupBased is the group-based layout of a groups file (seed 003): a group
// per row, its members in one or more Email columns. A group may take more
// than one row. A file of Groupname and Email alone is a list of pairs, which
// reads the same either way. Each member is judged on its own (EachItem):
// the good ones are added, the bad ones rejected with their Email column.
var GroupBased = &Dataset{
	Name:         "group-based",
	Version:      1,
	Key:          "Groupname",
	MayRepeatKey: true,
	Fields:       []Field{groupField(false), memberField("Email", true)},
	Records:      Memberships,
	EachItem:     true,
	Pivot: func(cells []string) [][]string {
		var out [][]string
		for email := range strings.SplitSeq(cells[1], ListSep) {
			var m []string
			if email != "" {
				m = Membership(cells[0], email)
			}
			out = append(out, m)
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
			var m []string
			if group != "" {
				m = Membership(group, cells[0])
			}
			out = append(out, m)
		}
		return out
	},
}

// GroupList is a groups file of group names alone: it creates the groups
// it names, or, in remove mode, removes them with all their memberships.
var GroupList = &Dataset{
	Name:    "group-list",
	Version: 1,
	Key:     "Groupname",
	Fields: []Field{
		{Name: "Groupname", Column: "group_name", Required: true, MaxLen: 255, Example: "Sales",
			Help: "the name of a group to create (uploaded in remove mode: to remove, with all its members)"},
		typeField(),
	},
	Records: GroupRecords,
	Pivot:   func(cells []string) [][]string { return [][]string{Group(cells[0], cells[1])} },
}

// RenameGroups is a groups file of Groupname and New Groupname (seed 003:
// "edit the group's name"): each row renames a group, its memberships
// included. The group must exist and the new name must not; the file's
// mode does not apply. Its rows pivot into the removal of the old group and
// the new one; load moves the memberships.
var RenameGroups = &Dataset{
	Name:    "rename",
	Version: 1,
	Key:     "Groupname",
	Fields: []Field{
		{Name: "Groupname", Column: "group_name", Required: true, MaxLen: 255,
			Help: "the name of the group to rename (whatever the upload's mode); it must exist", Example: "Sales"},
		{Name: "New Groupname", Column: "new_group_name", Required: true, MaxLen: 255, Unique: true,
			Help: "the group's new name; no group may have it yet", Example: "Sales EMEA"},
	},
	Records: GroupRecords,
	Pivot: func(cells []string) [][]string {
		return [][]string{Removal(GroupRecords, Group(cells[0], "")), Group(cells[1], "")}
	},
}

// Groups is the groups dataset (seeds 000 and 003): groups and their
// members, in either layout, told apart by the header; or group names
// alone (GroupList); or renames (RenameGroups). Uploaded in remove mode
// (ModeRemove), a file of either members layout removes those memberships,
// and a GroupList removes whole groups.
var Groups = &Dataset{
	Name:    "groups",
	Version: 1,
	Layouts: []*Dataset{GroupBased, UserBased, GroupList, RenameGroups},
	Records: Memberships,
}

// removedField is the field of a dataset whose records may be removed: "1"
// on the version of a record that says it is removed (see Removal).
var removedField = Field{Name: Removed, Column: Removed, Kind: Bool}

// Removed is the name and the column of the field that says a record is
// removed. ClickHouse keeps every version of a record
// (ReplacingMergeTree) and load may not delete rows, so a record is removed
// by writing a new version of it with Removed set: every reader takes the
// latest version of a record and skips it when it is removed.
const Removed = "removed"

// Removable reports whether d's records may be removed (it has the Removed
// field).
func (d *Dataset) Removable() bool { return d.Index(Removed) >= 0 }

// Removal returns the cells of the version of a record of d (given by its
// cells) that says it is removed. d must be Removable.
func Removal(d *Dataset, cells []string) []string {
	out := slices.Clone(cells)
	out[d.Index(Removed)] = "1"
	return out
}

// IsRemoval reports whether the cells of a record of d say it is removed.
func (d *Dataset) IsRemoval(cells []string) bool {
	i := d.Index(Removed)
	return i >= 0 && cells[i] == "1"
}

// Removing returns the dataset whose table is table and whose records may
// be removed, if there is one: readers of that table skip removed records.
func Removing(table string) (*Dataset, bool) {
	for _, ds := range Datasets {
		for _, d := range ds.Writes() {
			if d.Table == table && d.Removable() {
				return d, true
			}
		}
	}
	return nil, false
}
