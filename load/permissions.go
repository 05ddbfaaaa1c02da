package load

import (
	"context"
	"slices"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// permissions are what a users import's permission options (seed 001:
// assign groups, mirror a user) give every user of its file: groups to join,
// and the mirrored user's group cells for the ones the row leaves empty.
type permissions struct {
	groups []string
	cells  []string // the mirrored user's, or nil
}

// permissionsOf resolves the import's permission options. A group the tenant
// does not have, or a user to mirror that does not exist, rejects every
// record of the write: the file asked for permissions that cannot be given.
func (s *Stage) permissionsOf(ctx context.Context, imp *schemas.Import, records []Record) (*permissions, error) {
	if len(imp.AssignGroups) == 0 && imp.MirrorUser == "" {
		return nil, nil
	}
	p := &permissions{groups: slices.Clone(imp.AssignGroups)}
	var why []schemas.Violation
	if len(p.groups) > 0 {
		found, err := s.wh.Existing(ctx, &schemas.Ref{Table: schemas.GroupRecords.Table, Column: "name"}, imp.Tenant, p.groups)
		if err != nil {
			return nil, err
		}
		for _, g := range p.groups {
			if !found[g] {
				why = append(why, schemas.Violation{Column: "assign-groups", Code: schemas.CodeNoGroup, Message: schemas.MsgNoGroup, Value: g})
			}
		}
	}
	if imp.MirrorUser != "" {
		stored, err := s.wh.Stored(ctx, schemas.Users, imp.Tenant, []string{imp.MirrorUser}, imp.Version, true)
		if err != nil {
			return nil, err
		}
		m, ok := stored[imp.MirrorUser]
		if !ok {
			why = append(why, schemas.Violation{Column: "mirror-user", Code: schemas.CodeNoMirrorUser, Message: schemas.MsgNoMirrorUser(imp.MirrorUser)})
		} else {
			p.cells = m.Cells
			email := m.Cells[schemas.Users.Index("email")]
			member, err := s.wh.GroupsOf(ctx, imp.Tenant, email)
			if err != nil {
				return nil, err
			}
			for _, g := range member {
				if !slices.Contains(p.groups, g) {
					p.groups = append(p.groups, g)
				}
			}
		}
	}
	for _, v := range why {
		for i := range records {
			records[i].reject(v)
		}
	}
	return p, nil
}

// mirror gives each record the mirrored user's group cells where the row
// leaves them empty (before Decide, so that they are what is stored).
func (p *permissions) mirror(records []Record) {
	if p == nil || p.cells == nil {
		return
	}
	for i, f := range schemas.Users.Fields {
		if f.Ref == nil {
			continue
		}
		for j := range records {
			r := &records[j]
			if r.Row.IsEmpty(i) && r.Outcome != warehouse.Rejected {
				r.Row.Cells[i] = p.cells[i]
				r.Row.ClearEmpty(i)
			}
		}
	}
}

// memberships returns the memberships the loaded users get (after Decide:
// a user's email may be its stored one).
func (p *permissions) memberships(records []Record) []Record {
	if p == nil {
		return nil
	}
	email := schemas.Users.Index("email")
	var out []Record
	for _, r := range records {
		if r.Outcome == warehouse.Rejected || r.Row.Cells[email] == "" {
			continue
		}
		for _, g := range p.groups {
			cells := schemas.Membership(g, r.Row.Cells[email]) // the email is canonical: lower case
			out = append(out, Record{Row: schemas.Row{N: r.Row.N, Cells: cells}, Chunk: r.Chunk, Hash: schemas.RowHash(cells), Outcome: warehouse.Created})
		}
	}
	return out
}
