package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// TestUpdateByID follows seed 004's "If a record with the same unique ID
// exists, it will be updated (e.g., email change)" through the pipeline:
// a row that keeps a client's ID and changes its email updates that client,
// and the tenant then has one client with that ID; a row with no ID names
// the client by its email; an email another client has, an ID twice in a
// file, and one client named by ID and by email in one file are rejected
// with their reasons; and the email a client gave up is free for a new
// client.
func TestUpdateByID(t *testing.T) {
	t.Parallel()
	const (
		who    = "ops@acme.example"
		omarID = "dddddddddddddddddddddd01"
		newID  = "dddddddddddddddddddddd02"
	)
	first := upload(t, "acme/clients/ident-1.csv", []byte("ID,firstName,lastName,email\n"+
		",Nora,Vance,nora@ident.acme.example\n"+
		omarID+",Omar,Reyes,omar@ident.acme.example\n"+
		",Pia,Lund,pia@ident.acme.example\n"), who)
	if want := (schemas.Counts{Rows: 3, Created: 3}); first.Counts != want {
		t.Fatalf("first file: got %s %+v, want %+v", first.Status, first.Counts, want)
	}
	noraID, piaID := identClientID(t, "nora@ident.acme.example"), identClientID(t, "pia@ident.acme.example")
	if noraID != schemas.DerivedID("acme", "nora@ident.acme.example") {
		t.Errorf("Nora, sent with no ID: ID %q, want the one derived from the email", noraID)
	}

	// The e2e chunks are 3 rows: rows 5 and 6 share a chunk, so one write.
	second := upload(t, "acme/clients/ident-2.csv", []byte("ID,firstName,lastName,email\n"+
		noraID+",Nora,,nora.vance@ident.acme.example\n"+ // 2: the email changes
		noraID+",Nora,,nv@ident.acme.example\n"+ // 3: the same ID again
		omarID+",Omar,,nora@ident.acme.example\n"+ // 4: Nora's email before this file
		",,Lund-Berg,pia@ident.acme.example\n"+ // 5: Pia, by her email
		piaID+",Pia,,pia.lund@ident.acme.example\n"+ // 6: Pia again, by her ID
		",Omar J,,omar@ident.acme.example\n"+ // 7: Omar, by his email
		newID+",Olga,Ng,olga@ident.acme.example\n"), who) // 8: a new client with its own ID
	if want := (schemas.Counts{Rows: 7, Created: 1, Updated: 3, Rejected: 3}); second.Counts != want {
		t.Errorf("second file: got %s %+v, want %+v", second.Status, second.Counts, want)
	}
	assertRejected(t, "acme", "clients", second.ID, map[int][]string{
		3: {"ID:" + schemas.CodeDuplicate},
		4: {"email:" + schemas.CodeEmailTaken},
		6: {"ID:" + schemas.CodeDuplicate},
	})
	var messages []string
	query(t, "SELECT row, messages FROM sluice.import_rejections FINAL WHERE import_id = ? ORDER BY row", func(r driver.Rows) error {
		var n uint32
		var m []string
		err := r.Scan(&n, &m)
		messages = append(messages, fmt.Sprintf("%d: %s", n, strings.Join(m, "; ")))
		return err
	}, second.ID)
	wantMessages := []string{
		"3: " + schemas.MsgSameRecord(2, "ID", noraID),
		"4: " + schemas.MsgEmailTaken(noraID),
		"6: " + schemas.MsgSameRecord(5, "ID", piaID),
	}
	if !slices.Equal(messages, wantMessages) {
		t.Errorf("messages:\n got %q\nwant %q", messages, wantMessages)
	}

	// Nora's old address is free: a row with it and no ID is a new client.
	third := upload(t, "acme/clients/ident-3.csv", []byte("ID,firstName,lastName,email\n,Nell,Hart,nora@ident.acme.example\n"), who)
	if want := (schemas.Counts{Rows: 1, Created: 1}); third.Counts != want {
		t.Errorf("third file: got %s %+v, want %+v", third.Status, third.Counts, want)
	}
	nellID := identClientID(t, "nora@ident.acme.example")
	if nellID == "" || nellID == noraID {
		t.Errorf("Nell, a new client with Nora's old address: ID %q, want a new one (Nora's is %s)", nellID, noraID)
	}
	// The same file again: Nell, found by her email, unchanged.
	if again := upload(t, "acme/clients/ident-3.csv", []byte("ID,firstName,lastName,email\n,Nell,Hart,nora@ident.acme.example\n"), who); again.Counts != (schemas.Counts{Rows: 1, Unchanged: 1}) {
		t.Errorf("third file again: got %s %+v, want 1 unchanged", again.Status, again.Counts)
	}

	var got []string
	query(t, `SELECT id, first_name, last_name, email FROM sluice.clients FINAL
		WHERE tenant = 'acme' AND endsWith(email, '@ident.acme.example') ORDER BY email`, func(r driver.Rows) error {
		var id, first, last, email string
		err := r.Scan(&id, &first, &last, &email)
		got = append(got, strings.Join([]string{id, first, last, email}, " | "))
		return err
	})
	want := []string{
		noraID + " | Nora | Vance | nora.vance@ident.acme.example",
		nellID + " | Nell | Hart | nora@ident.acme.example",
		newID + " | Olga | Ng | olga@ident.acme.example",
		omarID + " | Omar J | Reyes | omar@ident.acme.example",
		piaID + " | Pia | Lund-Berg | pia@ident.acme.example",
	}
	if !slices.Equal(got, want) {
		t.Errorf("clients:\n got %q\nwant %q", got, want)
	}
	// One client per ID, whatever ClickHouse has merged yet.
	var ids, records uint64
	query(t, `SELECT uniqExact(id), count() FROM sluice.clients FINAL WHERE tenant = 'acme' AND id IN (?, ?, ?, ?, ?)`, func(r driver.Rows) error {
		return r.Scan(&ids, &records)
	}, nellID, noraID, omarID, newID, piaID)
	if ids != 5 || records != 5 {
		t.Errorf("clients with the five IDs: %d records of %d IDs, want one each", records, ids)
	}
}

// identClientID returns the ID of acme's client with the email, or "".
func identClientID(t *testing.T, email string) string {
	t.Helper()
	var id string
	query(t, "SELECT id FROM sluice.clients FINAL WHERE tenant = 'acme' AND email = ?", func(r driver.Rows) error { return r.Scan(&id) }, email)
	return id
}
