package load_test

import (
	"cmp"
	"fmt"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// clientCells returns canonical cells in field order: a stored John, with
// some cells replaced.
func clientCells(t *testing.T, replace map[string]string) []string {
	t.Helper()
	cells := map[string]string{
		"ID": "666c2c2f32735479fd3e9a5c", "firstName": "John", "lastName": "Doe", "email": "john@example.com",
		"active": "1", "type": "Personal", "created": "2024-06-13 15:06:02",
	}
	for k, v := range replace {
		cells[k] = v
	}
	out := make([]string, len(schemas.Clients.Fields))
	for i, f := range schemas.Clients.Fields {
		out[i] = cells[f.Name]
	}
	return out
}

// mask returns the Empty bits of the named fields.
func mask(t *testing.T, names ...string) uint64 {
	t.Helper()
	var m uint64
	for _, name := range names {
		i := schemas.Clients.Index(name)
		if i < 0 {
			t.Fatalf("no field %q", name)
		}
		m |= 1 << i
	}
	return m
}

func TestDecide(t *testing.T) {
	john := clientCells(t, nil)
	// What transform makes of a re-upload of John that leaves ID, active,
	// type and created empty: their defaults, marked as such.
	defaulted := clientCells(t, map[string]string{"ID": "0123456789abcdef01234567", "active": "1", "type": "Personal", "created": "2025-03-01 11:30:45"})
	defaultedMask := mask(t, "ID", "active", "type", "created")
	storedInactive := clientCells(t, map[string]string{"active": "0"})
	cases := []struct {
		name      string
		mode      string // update unless set
		cells     []string
		defaulted uint64
		audited   map[int]load.Audit
		stored    []string // the stored record of the key, if any
		want      string
		wantCells []string // the cells once decided
	}{
		{name: "no stored record: created", cells: john, want: warehouse.Created, wantCells: john},
		{name: "no stored record: defaults kept", cells: defaulted, defaulted: defaultedMask,
			want: warehouse.Created, wantCells: defaulted},
		{name: "stored the same: unchanged", cells: john, stored: john, want: warehouse.Unchanged, wantCells: john},
		{name: "stored differs: updated", cells: john, stored: storedInactive, want: warehouse.Updated, wantCells: john},
		{name: "defaulted cells take the stored values: unchanged", cells: defaulted, defaulted: defaultedMask,
			stored: storedInactive, want: warehouse.Unchanged, wantCells: storedInactive},
		{name: "defaulted cells take the stored values, a filled cell changed: updated",
			cells:     clientCells(t, map[string]string{"lastName": "Smith", "active": "1"}),
			defaulted: mask(t, "active"), stored: storedInactive, want: warehouse.Updated,
			wantCells: clientCells(t, map[string]string{"lastName": "Smith", "active": "0"})},
		{name: "audited created stands over the same hash", cells: john, audited: map[int]load.Audit{2: {Outcome: warehouse.Created}},
			stored: john, want: warehouse.Created, wantCells: john},
		{name: "audited updated stands over no stored record", cells: john, audited: map[int]load.Audit{2: {Outcome: warehouse.Updated}},
			want: warehouse.Updated, wantCells: john},
		{name: "audited unchanged stands over another hash", cells: john, audited: map[int]load.Audit{2: {Outcome: warehouse.Unchanged}},
			stored: storedInactive, want: warehouse.Unchanged, wantCells: john},
		{name: "audit of another row ignored", cells: john, audited: map[int]load.Audit{3: {Outcome: warehouse.Unchanged}},
			want: warehouse.Created, wantCells: john},
		{name: "audited rejected stands, with its reasons", cells: john,
			audited: map[int]load.Audit{2: {Outcome: warehouse.Rejected, Violations: []schemas.Violation{{Column: "email", Code: schemas.CodeNoAccount}}}},
			stored:  storedInactive, want: warehouse.Rejected, wantCells: john},
		{name: "create mode, no stored record: created", mode: schemas.ModeCreate, cells: john, want: warehouse.Created, wantCells: john},
		{name: "create mode, a stored record: rejected", mode: schemas.ModeCreate, cells: john, stored: john,
			want: warehouse.Rejected, wantCells: john},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stored map[string]load.Stored
			if tc.stored != nil {
				// Keyed by the record's identity, as Identify resolved it.
				stored = map[string]load.Stored{tc.cells[schemas.Clients.IdentityIndex()]: {Hash: schemas.RowHash(tc.stored), Cells: tc.stored}}
			}
			cells := append([]string(nil), tc.cells...)
			records := []load.Record{{Row: schemas.Row{N: 2, Cells: cells, Empty: tc.defaulted}, Chunk: 1}}
			mode := cmp.Or(tc.mode, schemas.ModeUpdate)
			load.Decide(schemas.Clients, &schemas.Import{Mode: mode}, records, tc.audited, stored)
			r := records[0]
			if r.Outcome != tc.want {
				t.Errorf("Outcome = %q, want %q", r.Outcome, tc.want)
			}
			if !reflect.DeepEqual(r.Row.Cells, tc.wantCells) {
				t.Errorf("cells =\n %q\nwant\n %q", r.Row.Cells, tc.wantCells)
			}
			if want := schemas.RowHash(tc.wantCells); r.Outcome != warehouse.Rejected && r.Hash != want {
				t.Errorf("Hash = %x, want RowHash of the decided cells %x", r.Hash, want)
			}
		})
	}
}

// TestDecideNewRecords: in update mode, only load knows that a row creates a
// record, so it is load that rejects a new record whose required cells the
// file left empty; and a new record takes the default of a field it cannot
// be given (a user's status), where an existing one takes the file's.
func TestDecideNewRecords(t *testing.T) {
	noName := clientCells(t, map[string]string{"firstName": ""})
	records := []load.Record{
		{Row: schemas.Row{N: 2, Cells: noName, Empty: mask(t, "firstName")}},
		{Row: schemas.Row{N: 3, Cells: clientCells(t, map[string]string{"ID": "bbbbbbbbbbbbbbbbbbbbbbbb", "email": "known@example.com", "firstName": ""}), Empty: mask(t, "firstName")}},
	}
	stored := map[string]load.Stored{"bbbbbbbbbbbbbbbbbbbbbbbb": {Hash: 1, Cells: clientCells(t, map[string]string{"ID": "bbbbbbbbbbbbbbbbbbbbbbbb", "email": "known@example.com"})}}
	load.Decide(schemas.Clients, &schemas.Import{Mode: schemas.ModeUpdate}, records, nil, stored)
	if r := records[0]; r.Outcome != warehouse.Rejected || len(r.Violations) != 1 ||
		r.Violations[0] != (schemas.Violation{Column: "firstName", Code: schemas.CodeRequired, Message: "the value of the field firstName cannot be empty"}) {
		t.Errorf("new record without firstName: %s %+v", r.Outcome, r.Violations)
	}
	if r := records[1]; r.Outcome != warehouse.Updated || r.Row.Cells[schemas.Clients.Index("firstName")] != "John" {
		t.Errorf("stored record without firstName: %s, firstName %q; want updated, the stored John kept", r.Outcome, r.Row.Cells[1])
	}

	status := schemas.Users.Index("status")
	user := func(login string) load.Record {
		cells := make([]string, len(schemas.Users.Fields))
		for i, f := range schemas.Users.Fields {
			cells[i] = "x"
			if f.Kind == schemas.Bool {
				cells[i] = "0"
			}
		}
		cells[0], cells[status] = login, "blocked"
		return load.Record{Row: schemas.Row{N: 2, Cells: cells}}
	}
	users := []load.Record{user("new"), user("old")}
	load.Decide(schemas.Users, &schemas.Import{Mode: schemas.ModeUpdate}, users, nil, map[string]load.Stored{"old": {Hash: 1}})
	if got := users[0].Row.Cells[status]; users[0].Outcome != warehouse.Created || got != "active" {
		t.Errorf("new user given status blocked: %s %q, want created active (seed 002: ignored on creation)", users[0].Outcome, got)
	}
	if got := users[1].Row.Cells[status]; users[1].Outcome != warehouse.Updated || got != "blocked" {
		t.Errorf("existing user given status blocked: %s %q, want updated blocked", users[1].Outcome, got)
	}
}

// TestDecideUserWithoutPassword: a new user with no password is created
// pending (seed 001), whatever status the file gives; an existing one keeps
// its stored password and status.
func TestDecideUserWithoutPassword(t *testing.T) {
	u := schemas.Users
	status, password := u.Index("status"), u.Index("password")
	user := func(login string) load.Record {
		cells := make([]string, len(u.Fields))
		cells[u.Index("login")], cells[u.Index("email")] = login, login
		cells[u.Index("firstName")], cells[u.Index("lastName")] = "Ann", "Avery"
		cells[u.Index("manager")], cells[u.Index("mustChangePassword")], cells[status] = "0", "0", "active"
		return load.Record{Row: schemas.Row{N: 2, Cells: cells, Empty: 1 << password}}
	}
	stored := user("old@initech.example").Row.Cells
	stored[password], stored[status] = "$argon2id$stored", "active"
	records := []load.Record{user("new@initech.example"), user("old@initech.example")}
	load.Decide(u, &schemas.Import{Mode: schemas.ModeCreate}, records[:1], nil, nil)
	load.Decide(u, &schemas.Import{Mode: schemas.ModeUpdate}, records[1:], nil, map[string]load.Stored{"old@initech.example": {Hash: 1, Cells: stored}})
	if r := records[0]; r.Outcome != warehouse.Created || r.Row.Cells[status] != schemas.UserPending || r.Row.Cells[password] != "" {
		t.Errorf("new user without a password: %s %+v, status %q; want created pending", r.Outcome, r.Violations, r.Row.Cells[status])
	}
	if r := records[1]; r.Row.Cells[status] != "active" || r.Row.Cells[password] != "$argon2id$stored" {
		t.Errorf("existing user without a password in the file: status %q, password %q; want the stored ones", r.Row.Cells[status], r.Row.Cells[password])
	}
}

// TestDecideEachRecord checks that each record of a batch is decided on its
// own identity and row number.
func TestDecideEachRecord(t *testing.T) {
	cells := func(n int, more ...string) []string {
		replace := map[string]string{"ID": fmt.Sprintf("%024x", n), "email": fmt.Sprintf("c%d@example.com", n)}
		for i := 0; i < len(more); i += 2 {
			replace[more[i]] = more[i+1]
		}
		return clientCells(t, replace)
	}
	row := func(n int) load.Record { return load.Record{Row: schemas.Row{N: n, Cells: cells(n)}, Chunk: 1} }
	records := []load.Record{row(2), row(3), row(4), row(5)}
	stored := map[string]load.Stored{
		fmt.Sprintf("%024x", 3): {Hash: schemas.RowHash(cells(3))},
		fmt.Sprintf("%024x", 4): {Hash: schemas.RowHash(cells(4, "lastName", "Roe"))},
		fmt.Sprintf("%024x", 5): {Hash: schemas.RowHash(cells(5))},
	}
	audited := map[int]load.Audit{5: {Outcome: warehouse.Updated}}
	load.Decide(schemas.Clients, &schemas.Import{Mode: schemas.ModeUpdate}, records, audited, stored)
	want := []string{warehouse.Created, warehouse.Unchanged, warehouse.Updated, warehouse.Updated}
	for i, r := range records {
		if r.Outcome != want[i] {
			t.Errorf("row %d (%s): Outcome = %q, want %q", r.Row.N, r.Row.Cells[schemas.Clients.KeyIndex()], r.Outcome, want[i])
		}
	}
}
