package load_test

import (
	"testing"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestIdentifyClients: a clients row names a client by its ID, or, with no
// ID, by its email (seed 004); an email belongs to one client; a file
// changes a client once; an email a client gave up is free for a new one.
func TestIdentifyClients(t *testing.T) {
	const (
		ann, bob = "aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb"
		tenant   = "acme"
	)
	imp := &schemas.Import{ID: "imp-1", Tenant: tenant, Mode: schemas.ModeUpdate}
	id, email := schemas.Clients.IdentityIndex(), schemas.Clients.KeyIndex()
	// row is a record as transform makes it: with no ID, the ID derived
	// from the email, marked empty.
	row := func(n int, givenID, address string) load.Record {
		cells := clientCells(t, map[string]string{"ID": givenID, "email": address})
		r := load.Record{Row: schemas.Row{N: n, Cells: cells}, Chunk: 1}
		if givenID == "" {
			r.Row.Cells[id] = schemas.DerivedID(tenant, address)
			r.Row.SetEmpty(id)
		}
		return r
	}
	// Stored: Ann (created by ID) has ann@; Bob has bob@; the client made
	// from old@ with no ID has since changed its email to moved@.
	derivedOld := schemas.DerivedID(tenant, "old@example.com")
	owners := map[string]string{"ann@example.com": ann, "bob@example.com": bob, "moved@example.com": derivedOld}
	stored := map[string]load.Stored{ann: {Hash: 1}, bob: {Hash: 2}, derivedOld: {Hash: 3}}

	cases := []struct {
		name    string
		records []load.Record
		wantIDs []string
		// wantRejected is the code each record is rejected with, "" if not.
		wantRejected []string
		wantMessage  string
	}{
		{name: "no ID: the client with the email", records: []load.Record{row(2, "", "ann@example.com")},
			wantIDs: []string{ann}, wantRejected: []string{""}},
		{name: "no ID, a new email: the derived ID", records: []load.Record{row(2, "", "new@example.com")},
			wantIDs: []string{schemas.DerivedID(tenant, "new@example.com")}, wantRejected: []string{""}},
		{name: "the ID and its own email", records: []load.Record{row(2, ann, "ann@example.com")},
			wantIDs: []string{ann}, wantRejected: []string{""}},
		{name: "the ID with a new email: the email changes", records: []load.Record{row(2, ann, "ann.new@example.com")},
			wantIDs: []string{ann}, wantRejected: []string{""}},
		{name: "the ID with another client's email", records: []load.Record{row(2, ann, "bob@example.com")},
			wantIDs: []string{ann}, wantRejected: []string{schemas.CodeEmailTaken}, wantMessage: schemas.MsgEmailTaken(bob)},
		{name: "a new ID with another client's email", records: []load.Record{row(2, "cccccccccccccccccccccccc", "bob@example.com")},
			wantIDs: []string{"cccccccccccccccccccccccc"}, wantRejected: []string{schemas.CodeEmailTaken}, wantMessage: schemas.MsgEmailTaken(bob)},
		{name: "an email given up is free: a new client, not the one that had it", records: []load.Record{row(2, "", "old@example.com")},
			wantIDs: []string{schemas.DerivedID(tenant, "old@example.com\x00imp-1")}, wantRejected: []string{""}},
		{name: "one client named by ID and by email: the later row rejected",
			records: []load.Record{row(2, ann, "ann.new@example.com"), row(3, "", "ann@example.com")},
			wantIDs: []string{ann, ann}, wantRejected: []string{"", schemas.CodeDuplicate}, wantMessage: schemas.MsgSameRecord(2, "ID", ann)},
		{name: "a rejected row names no client", records: []load.Record{row(2, bob, "ann@example.com"), row(3, "", "bob@example.com")},
			wantIDs: []string{bob, bob}, wantRejected: []string{schemas.CodeEmailTaken, ""}, wantMessage: schemas.MsgEmailTaken(ann)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			load.Identify(schemas.Clients, tc.records, owners)
			load.Separate(schemas.Clients, imp, tc.records, owners, stored)
			for i, r := range tc.records {
				if got := r.Row.Cells[id]; got != tc.wantIDs[i] {
					t.Errorf("row %d: ID %q, want %q", r.Row.N, got, tc.wantIDs[i])
				}
				if tc.wantRejected[i] == "" {
					if r.Outcome != "" {
						t.Errorf("row %d: %s %+v, want not decided yet", r.Row.N, r.Outcome, r.Violations)
					}
					continue
				}
				want := []schemas.Violation{{Column: "email", Code: tc.wantRejected[i], Message: tc.wantMessage, Value: r.Row.Cells[email]}}
				if tc.wantRejected[i] == schemas.CodeDuplicate {
					want[0].Column, want[0].Value = "ID", r.Row.Cells[id]
				}
				if r.Outcome != warehouse.Rejected || len(r.Violations) != 1 || r.Violations[0] != want[0] {
					t.Errorf("row %d: %s %+v, want rejected %+v", r.Row.N, r.Outcome, r.Violations, want)
				}
			}
		})
	}
}

// TestDecideEmailChangeByID: a row that keeps a client's ID and changes its
// email updates that client, email included (seed 004).
func TestDecideEmailChangeByID(t *testing.T) {
	john := clientCells(t, nil)
	moved := clientCells(t, map[string]string{"email": "john.doe@example.com"})
	id := john[schemas.Clients.IdentityIndex()]
	records := []load.Record{{Row: schemas.Row{N: 2, Cells: append([]string(nil), moved...)}, Chunk: 1}}
	stored := map[string]load.Stored{id: {Hash: schemas.RowHash(john), Cells: john}}
	load.Identify(schemas.Clients, records, map[string]string{"john@example.com": id})
	load.Separate(schemas.Clients, &schemas.Import{ID: "imp-2", Tenant: "acme"}, records, nil, stored)
	load.Decide(schemas.Clients, &schemas.Import{Mode: schemas.ModeUpdate}, records, nil, stored)
	if r := records[0]; r.Outcome != warehouse.Updated || r.Row.Cells[schemas.Clients.KeyIndex()] != "john.doe@example.com" || r.Row.Cells[schemas.Clients.IdentityIndex()] != id {
		t.Errorf("got %s %q, want updated, the same ID, the new email", r.Outcome, r.Row.Cells)
	}
}
