package schemas

import "strings"

var clientTypeFormat, clientTypeNormalize = OneOf("Personal", "Corporate", "Partner")

// ClientTypes are the account types a client may have.
var ClientTypes = []string{"Personal", "Corporate", "Partner"}

// Clients is the clients dataset (seed 004): only firstName and email are
// mandatory; every other field gets a default; email identifies the record
// within a tenant and must be unique in a file.
var Clients = &Dataset{
	Name:    "clients",
	Version: 1,
	Table:   "clients",
	Key:     "email",
	Fields: []Field{
		{Name: "ID", Column: "id", Format: IsHexID, Normalize: strings.ToLower,
			Default: func(dc DefaultContext) string { return DerivedID(dc.Tenant, dc.Key) }},
		{Name: "firstName", Column: "first_name", Required: true, MaxLen: 50},
		{Name: "lastName", Column: "last_name", MaxLen: 50},
		{Name: "email", Column: "email", Required: true, MaxLen: 100, Format: IsEmail, Normalize: strings.ToLower},
		{Name: "project", Column: "project", Format: IsHexID, Normalize: strings.ToLower},
		{Name: "desk", Column: "desk", Format: IsHexID, Normalize: strings.ToLower},
		{Name: "active", Column: "active", Kind: Bool, Format: IsBool, Normalize: NormalizeBool,
			Default: func(DefaultContext) string { return "1" }},
		{Name: "type", Column: "type", Format: clientTypeFormat, Normalize: clientTypeNormalize,
			Default: func(DefaultContext) string { return "Personal" }},
		{Name: "created", Column: "created", Kind: DateTime, Format: IsISOTime, Normalize: NormalizeISOTime,
			Default: func(dc DefaultContext) string { return dc.ReceivedAt.UTC().Format(DateTimeLayout) }},
	},
}
