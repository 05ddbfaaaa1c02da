package load

import (
	"context"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// Removing and renaming. Load may not delete rows (its ClickHouse user runs
// no DDL, and on 18.16 ALTER DELETE is DDL), so a record is removed by a new
// version of it that says so (schemas.Removal), which Decide gives the
// outcome removed when the record exists and unchanged when it does not.
// Every reader takes a record's latest version and skips it when removed:
// Stored (Stored.Removed), Existing, GroupsOf and Members here, notify's
// counts (import_chunks, not the records), and the queries partners read.
//
// The pieces, for whatever removes records (a groups file in remove mode,
// a rename, a nightly sync that removes what its file lacks):
//   - markRemovals turns a write's records into their removals;
//   - Decide decides a removal like any record, so the audit counts it;
//   - membersOf gives the memberships of the groups a write removes or
//     renames, as records of their own (the Also of the write).

// markRemovals turns every record of ds into its removal: the records of a
// file in remove mode.
func markRemovals(ds *schemas.Dataset, records []Record) {
	for i := range records {
		records[i].Row.Cells = schemas.Removal(ds, records[i].Row.Cells)
	}
}

// checkRenames rejects the renames (schemas.RenameGroups: a row's records
// are its group's removal, then the group of the new name) whose group
// does not exist or whose new name a group has.
func checkRenames(records []Record, stored map[string]Stored) {
	exists := func(name string) bool { s, ok := stored[name]; return ok && !s.Removed }
	for i := range records {
		r := &records[i]
		name := r.Row.Cells[schemas.GroupRecords.KeyIndex()]
		switch removal := schemas.GroupRecords.IsRemoval(r.Row.Cells); {
		case removal && !exists(name):
			r.reject(schemas.Violation{Column: "Groupname", Code: schemas.CodeNoGroup, Message: schemas.MsgNoGroup, Value: schemas.Echo(name)})
		case !removal && exists(name):
			r.reject(schemas.Violation{Column: "New Groupname", Code: schemas.CodeGroupExists, Message: schemas.MsgGroupExists, Value: schemas.Echo(name)})
		}
	}
}

// membersOf returns the membership records of the groups the write removes
// or renames (after settle): each member of a removed group removed, and
// each member of a renamed group removed from the old name and added to
// the new one. A rename's group records are renamed too.
func (s *Stage) membersOf(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, records []Record) ([]Record, error) {
	if ds != schemas.GroupRecords {
		return nil, nil
	}
	rename, _ := imp.Schema()
	renames := rename == schemas.RenameGroups
	var groups []string
	for _, r := range records {
		// A retried chunk's renames keep their audited outcome.
		if (r.Outcome == warehouse.Removed || r.Outcome == warehouse.Renamed) && ds.IsRemoval(r.Row.Cells) {
			groups = append(groups, r.Row.Cells[ds.KeyIndex()])
		}
	}
	if renames {
		t := ds.Index(schemas.GroupType)
		for i := range records {
			r := &records[i]
			if r.Outcome == warehouse.Rejected {
				continue
			}
			r.Outcome = warehouse.Renamed
			if next := i + 1; ds.IsRemoval(r.Row.Cells) && next < len(records) && records[next].Row.Cells[t] == "" {
				records[next].Row.Cells[t] = r.Row.Cells[t] // a renamed group keeps its type
				records[next].Hash = schemas.RowHash(records[next].Row.Cells)
			}
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	members, err := s.wh.Members(ctx, imp.Tenant, groups, imp.Version)
	if err != nil {
		return nil, err
	}
	var out []Record
	add := func(r *Record, cells []string, outcome string) {
		out = append(out, Record{Row: schemas.Row{N: r.Row.N, Cells: cells}, Chunk: r.Chunk, Hash: schemas.RowHash(cells), Outcome: outcome})
	}
	for i := range records {
		r := &records[i]
		if r.Outcome == warehouse.Rejected || !ds.IsRemoval(r.Row.Cells) {
			continue
		}
		old := r.Row.Cells[ds.KeyIndex()]
		for _, email := range members[old] {
			if !renames {
				add(r, schemas.Removal(schemas.Memberships, schemas.Membership(old, email)), warehouse.Removed)
				continue
			}
			add(r, schemas.Removal(schemas.Memberships, schemas.Membership(old, email)), warehouse.Renamed)
			add(r, schemas.Membership(records[i+1].Row.Cells[ds.KeyIndex()], email), warehouse.Renamed)
		}
	}
	return out, nil
}
