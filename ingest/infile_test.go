package ingest

import (
	"hash/maphash"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestInFile: a users row's managerEmail names another row of the file
// wherever that row is (before it or after it), whatever its case; not the
// row itself, and not an address no row has.
func TestInFile(t *testing.T) {
	s := &Stage{seed: maphash.MakeSeed()}
	in := s.newInFile(schemas.Users, schemas.Context{})
	if in == nil {
		t.Fatal("users: no field may name a row of the file; want managerEmail")
	}
	if s.newInFile(schemas.Clients, schemas.Context{}) != nil {
		t.Error("clients: a field may name a row of the file; want none")
	}
	email, manager := schemas.Users.Index("email"), schemas.Users.Index("managerEmail")
	row := func(n int, address, boss string) schemas.Row {
		cells := make([]string, len(schemas.Users.Fields))
		cells[email], cells[manager] = address, boss
		return schemas.Row{N: n, Cells: cells}
	}
	rows := []schemas.Row{
		row(2, "ann@acme.example", "Bob@ACME.example "), // a later row
		row(3, " BOB@acme.example", ""),
		row(4, "cid@acme.example", "ann@acme.example"), // an earlier row
		row(5, "dan@acme.example", "dan@acme.example"), // itself
		row(6, "eve@acme.example", "zed@acme.example"), // no row
	}
	malformed := row(7, "zed@acme.example", "")
	malformed.Problem = &schemas.Violation{Code: schemas.CodeMalformed}
	for _, r := range append(rows, malformed) {
		if err := in.add(r); err != nil {
			t.Fatal(err)
		}
	}
	want := map[int]bool{2: true, 4: true}
	for _, r := range rows {
		in.mark(&r)
		if got := r.NamesInFile(manager); got != want[r.N] || r.InFile&^(1<<manager) != 0 {
			t.Errorf("row %d: InFile %b, want the managerEmail bit %v only", r.N, r.InFile, want[r.N])
		}
	}
	var none *inFile
	r := row(2, "ann@acme.example", "ann@acme.example")
	none.mark(&r)
	if r.InFile != 0 {
		t.Error("a nil inFile marked a cell")
	}
}
