package load

import (
	"context"

	"github.com/sluicehq/sluice/schemas"
)

// checkRelations rejects, with every reason, the records that name what the
// tenant does not have (a Ref field: a group, an account, a manager; a cell
// that names another row of the file, as ingest marked it, needs nothing
// stored: Ref.InFile), or that give a
// Unique field a value another of the tenant's records has ("the phone
// number or email address has already been confirmed with another existing
// or imported user"). Records of the same import written by earlier writes
// count as the tenant's: a file's later row cannot take an earlier row's
// value (ingest also finds that within the file). Cells the file left empty
// are not checked: they keep what is stored; nor are removals, which name
// what is removed.
func (s *Stage) checkRelations(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, records []Record) error {
	key := ds.IdentityIndex()
	for i := range ds.Fields {
		f := &ds.Fields[i]
		unique := f.Unique && i != key && i != ds.KeyIndex() // a key identify resolved
		if f.Ref == nil && !unique {
			continue
		}
		values := filled(records, i)
		if len(values) == 0 {
			continue
		}
		if f.Ref != nil {
			found, err := s.wh.Existing(ctx, f.Ref, imp.Tenant, values)
			if err != nil {
				return err
			}
			for j := range records {
				r := &records[j]
				if v := r.Row.Cells[i]; !r.Row.IsEmpty(i) && v != "" && !found[v] && !r.Row.NamesInFile(i) && !ds.IsRemoval(r.Row.Cells) {
					r.reject(schemas.Violation{Column: f.Name, Code: f.Ref.Code, Message: f.Ref.Message, Value: f.Show(v)})
				}
			}
		}
		if unique {
			owners, err := s.wh.Owners(ctx, ds, i, imp.Tenant, values, imp.Version)
			if err != nil {
				return err
			}
			for j := range records {
				r := &records[j]
				v := r.Row.Cells[i]
				if owner, ok := owners[v]; ok && !r.Row.IsEmpty(i) && v != "" && owner != r.Row.Cells[key] {
					r.reject(schemas.Violation{Column: f.Name, Code: schemas.CodeDuplicate, Message: schemas.MsgDuplicate, Value: f.Show(v)})
				}
			}
		}
	}
	return nil
}

// filled returns the distinct values the records give field i (rejected
// records' too: each is told every reason).
func filled(records []Record, i int) []string {
	seen := map[string]bool{}
	var values []string
	for _, r := range records {
		if v := r.Row.Cells[i]; !r.Row.IsEmpty(i) && v != "" && !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	return values
}
