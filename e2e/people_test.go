package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// The passwords of testdata/people/users.csv, valid and refused alike: none
// may be found in plain text anywhere once ingest has read the file.
var plainPasswords = []string{"Quokka7Zebra", "Wombat5Lynx", "Tiny9pw", "Okapi3Heron", "Gecko8Mantis", "Tapir4Ibis", "Heron2Kiwi7"}

// TestPeople imports a tenant's people as a partner would, in order:
// accounts (seed 000), groups in both layouts (seed 003), users (seeds 001
// and 002), then a partial update of the users; and checks each from
// ClickHouse, the dead-letter stream and the report. Then it searches every
// stream, table, log and email for the passwords.
func TestPeople(t *testing.T) {
	t.Parallel()
	const who = "hr@initech.example"
	accounts := upload(t, "initech/accounts/accounts.csv", readFile(t, "testdata/people/accounts.csv"), who)
	if want := (schemas.Counts{Rows: 4, Created: 3, Rejected: 1}); accounts.Counts != want {
		t.Fatalf("accounts: got %s %+v, want %+v", accounts.Status, accounts.Counts, want)
	}
	assertRejected(t, "initech", "accounts", accounts.ID, map[int][]string{5: {"email:format"}})

	byGroup := upload(t, "initech/groups/by-group.csv", readFile(t, "testdata/people/groups-by-group.csv"), who)
	// The Ghosts row adds ann; nobody, who has no account, is refused on
	// its own (seed 003: each member is judged on its own).
	if want := (schemas.Counts{Rows: 3, Created: 2, Partial: 1}); byGroup.Counts != want {
		t.Errorf("group-based groups: got %s %+v, want %+v", byGroup.Status, byGroup.Counts, want)
	}
	assertRejected(t, "initech", "groups", byGroup.ID, map[int][]string{4: {"Email:" + schemas.CodeNoAccount}})

	byUser := upload(t, "initech/groups/by-user.csv", readFile(t, "testdata/people/groups-by-user.csv"), who)
	if want := (schemas.Counts{Rows: 3, Created: 1, Unchanged: 1, Rejected: 1}); byUser.Counts != want {
		t.Errorf("user-based groups: got %s %+v, want %+v", byUser.Status, byUser.Counts, want)
	}
	assertRejected(t, "initech", "groups", byUser.ID, map[int][]string{3: {"email:" + schemas.CodeDuplicate}})
	var members []string
	query(t, "SELECT group_name, email FROM sluice.group_members FINAL WHERE tenant = 'initech' ORDER BY group_name, email", func(r driver.Rows) error {
		var g, e string
		err := r.Scan(&g, &e)
		members = append(members, g+"/"+e)
		return err
	})
	wantMembers := []string{"Ghosts/ann@initech.example", "North/ann@initech.example", "Sales/ann@initech.example", "Sales/bob@initech.example",
		"Support/ann@initech.example", "Support/cid@initech.example"}
	if !slices.Equal(members, wantMembers) {
		t.Errorf("group members:\n got %v\nwant %v (of the Ghosts row, the member with an account is added)", members, wantMembers)
	}
	var groups []string
	query(t, "SELECT name FROM sluice.groups FINAL WHERE tenant = 'initech' ORDER BY name", func(r driver.Rows) error {
		var g string
		err := r.Scan(&g)
		groups = append(groups, g)
		return err
	})
	if want := []string{"Ghosts", "North", "Sales", "Support"}; !slices.Equal(groups, want) {
		t.Errorf("groups: %v, want %v (none from a rejected row)", groups, want)
	}

	users := uploadWith(t, "initech/users/users.csv", readFile(t, "testdata/people/users.csv"), map[string]string{"uploader": who, "invite": "true"})
	if want := (schemas.Counts{Rows: 6, Created: 2, Rejected: 4}); users.Counts != want {
		t.Errorf("users: got %s %+v, want %+v", users.Status, users.Counts, want)
	}
	assertRejected(t, "initech", "users", users.ID, map[int][]string{
		3: {"region:" + schemas.CodeNoGroup},
		4: {"password:" + schemas.CodePasswordPolicy},
		5: {"phone:" + schemas.CodeDuplicate},
		7: {"email:" + schemas.CodeDuplicate},
	})
	report := mailsAbout(t, who, "users.csv")
	if len(report) != 1 {
		t.Fatalf("users: %d emails to the uploader, want 1", len(report))
	}
	for _, msg := range []string{schemas.MsgNoGroup, schemas.MsgPasswordPolicy(schemas.DefaultPasswordPolicy), schemas.MsgDuplicate} {
		if !bytes.Contains(report[0].Attachments["errors-users.csv"], []byte(msg)) {
			t.Errorf("the users report does not say %q", msg)
		}
	}
	// Invitations (seed 002): one to each user created, none to the others.
	// They go out after the import's status is saved: wait for them.
	invitations := func(addr string) []string {
		var got []string
		for _, m := range testkit.Messages(t, stack.mail, addr) {
			if strings.Contains(m.Subject, "You are invited to initech") {
				got = append(got, m.Text)
			}
		}
		return got
	}
	_ = parts.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		return len(invitations("ann@initech.example")) > 0 && len(invitations("eve@initech.example")) > 0, nil
	})
	for addr, want := range map[string]int{"ann@initech.example": 1, "eve@initech.example": 1, "bob@initech.example": 0, "cid@initech.example": 0, "dup@initech.example": 0} {
		got := invitations(addr)
		if len(got) != want {
			t.Errorf("invitations to %s: %d, want %d", addr, len(got), want)
		}
		if want == 1 && len(got) == 1 && !strings.Contains(got[0], "Your login is ") {
			t.Errorf("invitation to %s does not give the login:\n%s", addr, got[0])
		}
	}

	ann := userRecord(t, "ann.a")
	hash := ann.Hash
	want := user{Email: "ann@initech.example", Phone: "+79161234567", FirstName: "Ann", LastName: "Avery", Manager: 1, MustChange: 0,
		Status: "active", Region: "North", Team: "Sales"}
	if got := ann; got.Hash == "" || !strings.HasPrefix(got.Hash, "$argon2id$v=19$") {
		t.Errorf("ann.a's password_hash %q is not an argon2id hash", got.Hash)
	}
	ann.Hash = ""
	if ann != want {
		t.Errorf("ann.a:\n got %+v\nwant %+v (status given on creation is ignored)", ann, want)
	}

	// Update mode: a row changes the cells it fills and no other; a phone
	// another user has is refused; a new user needs its required fields.
	update := upload(t, "initech/users/update.csv", readFile(t, "testdata/people/users-update.csv"), who)
	if want := (schemas.Counts{Rows: 3, Updated: 1, Rejected: 2}); update.Counts != want {
		t.Errorf("users update: got %s %+v, want %+v", update.Status, update.Counts, want)
	}
	assertRejected(t, "initech", "users", update.ID, map[int][]string{
		3: {"phone:" + schemas.CodeDuplicate},
		4: {"firstName:required", "lastName:required"},
	})
	ann = userRecord(t, "ann.a")
	if ann.Hash != hash {
		t.Errorf("ann.a's password hash changed from %q to %q: the update left the password empty", hash, ann.Hash)
	}
	ann.Hash = ""
	want.LastName, want.Status = "Avery-Smith", "blocked"
	if ann != want {
		t.Errorf("ann.a after a partial update:\n got %+v\nwant %+v", ann, want)
	}
	if eve := userRecord(t, "eve"); eve.Phone != "" {
		t.Errorf("eve's phone %q: the refused update must not have landed", eve.Phone)
	}

	// Permissions (seed 001): a user to mirror gives its group cells and
	// its groups; assigned groups are joined too. One that does not exist
	// rejects every row.
	perms := uploadWith(t, "initech/users/permissions.csv", readFile(t, "testdata/people/users-permissions.csv"),
		map[string]string{"uploader": who, "mirror-user": "ann.a", "assign-groups": "Support"})
	if want := (schemas.Counts{Rows: 1, Created: 1}); perms.Counts != want {
		t.Errorf("permissions: got %s %+v, want %+v", perms.Status, perms.Counts, want)
	}
	if fay := userRecord(t, "fay"); fay.Region != "North" || fay.Team != "Sales" {
		t.Errorf("fay's groups: region %q team %q, want ann.a's North and Sales", fay.Region, fay.Team)
	}
	var fays []string
	query(t, "SELECT group_name FROM sluice.group_members FINAL WHERE tenant = 'initech' AND email = 'fay@initech.example' ORDER BY group_name", func(r driver.Rows) error {
		var g string
		err := r.Scan(&g)
		fays = append(fays, g)
		return err
	})
	if want := []string{"Ghosts", "North", "Sales", "Support"}; !slices.Equal(fays, want) {
		t.Errorf("fay's memberships: %v, want %v (ann.a's and the assigned one)", fays, want)
	}
	ghost := uploadWith(t, "initech/users/permissions-ghost.csv", readFile(t, "testdata/people/users-permissions.csv"),
		map[string]string{"uploader": who, "mirror-user": "ghost", "assign-groups": "Nowhere"})
	if want := (schemas.Counts{Rows: 1, Rejected: 1}); ghost.Counts != want {
		t.Errorf("permissions that cannot be given: got %s %+v, want %+v", ghost.Status, ghost.Counts, want)
	}
	assertRejected(t, "initech", "users", ghost.ID, map[int][]string{2: {"assign-groups:" + schemas.CodeNoGroup, "mirror-user:" + schemas.CodeNoMirrorUser}})

	assertNoPlaintext(t, plainPasswords, "Atlantis")
}

type user struct {
	Email, Phone, FirstName, LastName string
	Manager, MustChange               uint8
	Status, Region, Team, Hash        string
}

func userRecord(t *testing.T, login string) user {
	t.Helper()
	var u user
	query(t, `SELECT email, phone, first_name, last_name, manager, must_change_password, status, group_region, group_team, password_hash
		FROM sluice.users FINAL WHERE tenant = 'initech' AND login = ?`, func(r driver.Rows) error {
		return r.Scan(&u.Email, &u.Phone, &u.FirstName, &u.LastName, &u.Manager, &u.MustChange, &u.Status, &u.Region, &u.Team, &u.Hash)
	}, login)
	return u
}

// assertRejected checks an import's rejected rows, from the audit and from
// the dead-letter stream, each row once: row -> column:code of each
// violation.
func assertRejected(t *testing.T, tenant, dataset, importID string, want map[int][]string) {
	t.Helper()
	if want == nil {
		want = map[int][]string{}
	}
	audit := map[int][]string{}
	query(t, "SELECT row, columns, codes FROM sluice.import_rejections FINAL WHERE import_id = ?", func(r driver.Rows) error {
		var n uint32
		var cols, codes []string
		err := r.Scan(&n, &cols, &codes)
		audit[int(n)] = pairs(cols, codes)
		return err
	}, importID)
	if !reflect.DeepEqual(audit, want) {
		t.Errorf("%s import: rejected rows in the audit:\n got %v\nwant %v", dataset, audit, want)
	}
	dlq := map[int][]string{}
	for _, d := range dlqRows(t, tenant, dataset, importID) {
		for _, r := range d.Rejected {
			if _, twice := dlq[r.N]; twice {
				t.Errorf("%s import: row %d in the dead-letter stream twice", dataset, r.N)
			}
			for _, v := range r.Violations {
				dlq[r.N] = append(dlq[r.N], v.Column+":"+v.Code)
			}
		}
	}
	if !reflect.DeepEqual(dlq, want) {
		t.Errorf("%s import: rejected rows in the dead-letter stream:\n got %v\nwant %v", dataset, dlq, want)
	}
}

// assertNoPlaintext searches what sluice keeps and sends for secrets: the
// JetStream store (every stream, the dead-letter one too, and messages
// already acknowledged that its files still hold), every ClickHouse table,
// sluice's log and every email with its attachments. canary is a value
// that is in them, to show that the search can find what it looks for.
func assertNoPlaintext(t *testing.T, secrets []string, canary string) {
	t.Helper()
	places := map[string][]byte{}
	err := filepath.WalkDir(stack.natsStore, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		places["nats store "+path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for table, dump := range dumpTables(t) {
		places["clickhouse "+table] = dump
	}
	places["sluice log"] = readFile(t, stack.log)
	for _, m := range testkit.All(t, stack.mail) {
		places["email "+m.Subject] = []byte(m.Subject + m.Text)
		for name, a := range m.Attachments {
			places["email "+m.Subject+" "+name] = a
		}
	}
	found := map[string]bool{}
	for place, b := range places {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("the password %q is in plain text in %s", s, place)
			}
		}
		if bytes.Contains(b, []byte(canary)) {
			kind, _, _ := strings.Cut(place, " ")
			found[kind] = true
		}
	}
	for _, kind := range []string{"nats", "clickhouse", "email"} {
		if !found[kind] {
			t.Errorf("the canary %q is in no %s place: the search does not see what it should", canary, kind)
		}
	}
}

// dumpTables returns every row of every table of sluice's database, as text.
func dumpTables(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	var tables []string
	query(t, "SELECT name FROM system.tables WHERE database = 'sluice'", func(r driver.Rows) error {
		var name string
		err := r.Scan(&name)
		tables = append(tables, name)
		return err
	})
	sort.Strings(tables)
	out := map[string][]byte{}
	for _, table := range tables {
		rows, err := stack.ch.Conn.Query(ctx, "SELECT * FROM sluice."+table)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		types := rows.ColumnTypes()
		for rows.Next() {
			dest := make([]any, len(types))
			for i, ct := range types {
				dest[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			for _, d := range dest {
				fmt.Fprintf(&b, "%v\t", reflect.ValueOf(d).Elem().Interface())
			}
			b.WriteByte('\n')
		}
		rows.Close()
		out[table] = b.Bytes()
	}
	return out
}
