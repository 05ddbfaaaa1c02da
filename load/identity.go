package load

import (
	"context"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// identify finds the stored record each record names, and returns the
// stored records by identity (see stored). A dataset whose key identifies
// its stored records needs nothing more. One whose Identity is another field
// (clients: the ID identifies a client, and the email, the key, may change)
// first looks up, in one query for the whole write, which record has each
// key value (Identify), then keeps the records apart (Separate).
//
// Key values are owned as the tenant's records had them before the import
// (the latest version older than the import's, as Stored reads them), so
// that how the file's chunks fall into writes, and a retried or redelivered
// chunk, change nothing: a file that changes a client's email and gives
// another client the old one is rejected ("must be unique") whatever the
// order of its rows; an email is free for another client from the next
// import on. Two rows of one file that name one client, one by its ID and
// one by its email, are told apart when one write holds both (Separate);
// rows far apart in a large file may be written apart, and then both are
// audited as updates and the client keeps one of the two (the versions are
// equal).
func (s *Stage) identify(ctx context.Context, ds *schemas.Dataset, imp *schemas.Import, records []Record) (map[string]Stored, error) {
	key := ds.KeyIndex()
	if ds.IdentityIndex() == key {
		return s.stored(ctx, ds, imp, records)
	}
	owners, err := s.wh.Owners(ctx, ds, key, imp.Tenant, filled(records, key), imp.Version-1)
	if err != nil {
		return nil, err
	}
	Identify(ds, records, owners)
	stored, err := s.stored(ctx, ds, imp, records)
	if err != nil {
		return nil, err
	}
	Separate(ds, imp, records, owners, stored)
	return stored, nil
}

// Identify resolves the identity of the records of a dataset with an
// Identity, from owners (key value -> the identity of the stored record
// that has it). A record whose file left its identity empty names the
// record that has its key value, if any (else it keeps the identity its
// default derived). A record that gives its identity keeps it, and may so
// change its key value (seed 004: "If a record with the same unique ID
// exists, it will be updated (e.g., email change)"), unless another record
// has that value: it is rejected (CodeEmailTaken, naming that record).
func Identify(ds *schemas.Dataset, records []Record, owners map[string]string) {
	id, key := ds.IdentityIndex(), ds.KeyIndex()
	for i := range records {
		r := &records[i]
		owner, owned := owners[r.Row.Cells[key]]
		switch {
		case !owned:
		case r.Row.IsEmpty(id):
			r.Row.Cells[id] = owner
		case owner != r.Row.Cells[id]:
			f := &ds.Fields[key]
			r.reject(schemas.Violation{Column: f.Name, Code: schemas.CodeEmailTaken, Message: schemas.MsgEmailTaken(owner), Value: f.Show(r.Row.Cells[key])})
		}
	}
}

// Separate keeps the records of a write apart, once Identify has resolved
// them and stored holds the stored records by identity. A new record (no
// identity given, a key value nobody has) whose derived identity a stored
// record has gets one of its own, derived from its key value and the
// import: that record had the key value once and has given it up (an email
// change), so the value is free for a new record. A record whose identity
// an earlier record of the write has (a row that names a client by its ID,
// and another that names it by its email) is rejected (MsgSameRecord): a
// file changes a record once.
func Separate(ds *schemas.Dataset, imp *schemas.Import, records []Record, owners map[string]string, stored map[string]Stored) {
	id, key := ds.IdentityIndex(), ds.KeyIndex()
	first := make(map[string]int, len(records))
	for i := range records {
		r := &records[i]
		if r.Outcome == warehouse.Rejected {
			continue
		}
		if _, taken := stored[r.Row.Cells[id]]; taken && r.Row.IsEmpty(id) {
			if _, owned := owners[r.Row.Cells[key]]; !owned {
				r.Row.Cells[id] = schemas.DerivedID(imp.Tenant, r.Row.Cells[key]+"\x00"+imp.ID)
			}
		}
		if n, seen := first[r.Row.Cells[id]]; seen {
			f := &ds.Fields[id]
			v := r.Row.Cells[id]
			r.reject(schemas.Violation{Column: f.Name, Code: schemas.CodeDuplicate, Message: schemas.MsgSameRecord(n, f.Name, v), Value: f.Show(v)})
			continue
		}
		first[r.Row.Cells[id]] = r.Row.N
	}
}
