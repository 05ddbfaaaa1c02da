package schemas

import "strings"

var clientTypeFormat, clientTypeNormalize = OneOf("Personal", "Corporate", "Partner")

// ClientTypes are the account types a client may have.
var ClientTypes = []string{"Personal", "Corporate", "Partner"}

// Clients is the clients dataset (seed 004): only firstName and email are
// mandatory; every other field gets a default. The ID identifies a client
// within a tenant ("If a record with the same unique ID exists, it will be
// updated (e.g., email change)"); a row with no ID names the client that
// has its email, or a new one, whose ID is derived from the tenant and the
// email. An email belongs to one client of the tenant; ID and email are
// each unique in a file.
var Clients = &Dataset{
	Name:     "clients",
	Version:  2,
	Table:    "clients",
	Key:      "email",
	Identity: "ID",
	// A sync sets the clients it leaves out inactive.
	Deactivate: &Deactivation{Field: "active", Value: "0", Verb: "deactivated"},
	// Seed 004: "Security restrictions: No scripts, macros, or executable
	// content", in any cell.
	Fields: noCode([]Field{
		{Name: "ID", Labels: []string{"Client ID", "Идентификатор"}, Column: "id", Format: IsHexID, Normalize: strings.ToLower,
			Default: func(dc Context) string { return DerivedID(dc.Tenant, dc.Key) },
			Help:    "the client's system id, 24 hexadecimal digits: a row with the id of an existing client updates it, email included; leave it empty to name the client by its email, or for a new client", Example: "666c2c2f32735479fd3e9a5c"},
		{Name: "firstName", Labels: firstNameLabels, Column: "first_name", Required: true, MaxLen: 50,
			Help: "the client's first name", Example: "John"},
		{Name: "lastName", Labels: lastNameLabels, Column: "last_name", MaxLen: 50,
			Help: "the client's last name", Example: "Doe"},
		{Name: "email", Labels: emailLabels, Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower,
			Help: "the client's address, of the form A@B.C; it must be unique: no other row of the file and no other client may have it", Example: "john.doe@example.com"},
		{Name: "project", Labels: []string{"Project ID", "Проект"}, Column: "project", Format: IsHexID, Normalize: strings.ToLower,
			Help: "the id of the client's project, 24 hexadecimal digits", Example: "66524609caa3558dd8f8da65"},
		{Name: "desk", Labels: []string{"Desk ID"}, Column: "desk", Format: IsHexID, Normalize: strings.ToLower,
			Help: "the id of the client's desk, 24 hexadecimal digits", Example: "67a346ad8092c651c919337e"},
		{Name: "active", Labels: []string{"Активен"}, Column: "active", Kind: Bool, Format: IsBool, Normalize: NormalizeBool,
			Default: func(Context) string { return "1" },
			Help:    "whether the client is active: True or False (any case), or 1 or 0; True when empty", Example: "True"},
		{Name: "type", Labels: []string{"Account type", "Client type", "Тип"}, Column: "type", Format: clientTypeFormat, Normalize: clientTypeNormalize,
			Default: func(Context) string { return "Personal" },
			Help:    "the type of account: Personal, Corporate or Partner; Personal when empty", Example: "Personal"},
		{Name: "created", Labels: []string{"Created at", "Creation date", "Создан", "Дата создания"}, Column: "created", Kind: DateTime, Format: IsISOTime, Normalize: NormalizeISOTime,
			Default: func(dc Context) string { return dc.ReceivedAt.UTC().Format(DateTimeLayout) },
			Help:    "when the account was created, ISO 8601 (2024-06-13 or 2024-06-13T15:06:02Z); the upload time when empty", Example: "2024-06-13T15:06:02Z"},
	}),
}

// noCode marks every field NoCode.
func noCode(fields []Field) []Field {
	for i := range fields {
		fields[i].NoCode = true
	}
	return fields
}
