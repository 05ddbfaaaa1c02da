package load

import (
	"context"

	"github.com/sluicehq/sluice/schemas"
)

// Typed groups (schemas.GroupRecords): a group's type is the one its file
// gives (a group-list's type column), else its folder's
// (schemas.Import.GroupType), else the one the group has: a file that gives
// none leaves it as it is. A renamed group keeps its type (membersOf).

// typeGroups readies the type of a write's own group records, before
// Decide: the folder's where the row gives none, else marked empty, so that
// Decide keeps the stored one.
func typeGroups(imp *schemas.Import, records []Record) {
	t := schemas.GroupRecords.Index(schemas.GroupType)
	for i := range records {
		r := &records[i]
		switch {
		case r.Row.Cells[t] != "":
		case imp.GroupType != "" && !schemas.GroupRecords.IsRemoval(r.Row.Cells):
			r.Row.Cells[t] = imp.GroupType
		default:
			r.Row.SetEmpty(t)
		}
	}
}

// typeAlso gives the group records a write of memberships makes (also) the
// folder's type, else the type their group has.
func (s *Stage) typeAlso(ctx context.Context, imp *schemas.Import, groups []Record) error {
	t := schemas.GroupRecords.Index(schemas.GroupType)
	var untyped []string
	for i := range groups {
		if imp.GroupType != "" {
			groups[i].Row.Cells[t] = imp.GroupType
			groups[i].Hash = schemas.RowHash(groups[i].Row.Cells)
			continue
		}
		untyped = append(untyped, groups[i].Row.Cells[schemas.GroupRecords.KeyIndex()])
	}
	if len(untyped) == 0 {
		return nil
	}
	stored, err := s.wh.Stored(ctx, schemas.GroupRecords, imp.Tenant, untyped, imp.Version, true)
	if err != nil {
		return err
	}
	for i := range groups {
		if st, ok := stored[groups[i].Row.Cells[schemas.GroupRecords.KeyIndex()]]; ok && len(st.Cells) > t {
			groups[i].Row.Cells[t] = st.Cells[t]
			groups[i].Hash = schemas.RowHash(groups[i].Row.Cells)
		}
	}
	return nil
}
