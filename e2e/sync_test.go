package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// syncState returns key:state of every record of syncer's dataset table,
// FINAL: state is the column a sync deactivates.
func syncState(t *testing.T, table, key, state string) []string {
	t.Helper()
	var out []string
	query(t, fmt.Sprintf("SELECT concat(%s, ':', toString(%s)) FROM sluice.%s FINAL WHERE tenant = 'syncer' ORDER BY %s", key, state, table, key),
		func(r driver.Rows) error {
			var s string
			err := r.Scan(&s)
			out = append(out, s)
			return err
		})
	return out
}

// deactivatedBy is the imports table's count of what an import deactivated,
// and the audit's keys.
func deactivatedBy(t *testing.T, id string) (int, []string) {
	t.Helper()
	var n uint32
	query(t, "SELECT deactivated FROM sluice.imports FINAL WHERE import_id = ?", func(r driver.Rows) error { return r.Scan(&n) }, id)
	var keys []string
	query(t, "SELECT record_key FROM sluice.import_deactivations FINAL WHERE import_id = ? ORDER BY record_key", func(r driver.Rows) error {
		var k string
		err := r.Scan(&k)
		keys = append(keys, k)
		return err
	}, id)
	return int(n), keys
}

// TestSyncDeactivatesWhatTheFileLeavesOut: a clients file uploaded with
// X-Amz-Meta-Mode: sync is the tenant's whole list: the client it leaves
// out is set inactive, not the one whose row is rejected; a sync that would
// deactivate more than the tenant's limit (30%) deactivates none and says
// so, until the same file is forced; users a sync leaves out are blocked.
// Each summary lists what was deactivated, and every row of every file
// ends loaded or rejected, once.
func TestSyncDeactivatesWhatTheFileLeavesOut(t *testing.T) {
	t.Parallel()
	const who = "ops@syncer.example"
	row := func(i int, first string) string { return fmt.Sprintf("%s,Doe,c%d@syncer.example\n", first, i) }
	var base strings.Builder
	base.WriteString("firstName,lastName,email\n")
	for i := range 10 {
		base.WriteString(row(i, fmt.Sprintf("C%d", i)))
	}
	if got := upload(t, "syncer/clients/base.csv", []byte(base.String()), who); got.Status != schemas.StatusCompleted || got.Counts.Created != 10 {
		t.Fatalf("base: %s %+v, want 10 created", got.Status, got.Counts)
	}
	active := func(ids ...int) []string {
		var out []string
		for i := range 10 {
			out = append(out, fmt.Sprintf("c%d@syncer.example:%d", i, map[bool]int{true: 1}[slices.Contains(ids, i)]))
		}
		return out
	}

	// c8's row is rejected (a first name too long): it is in the file, so
	// c8 stays active; c9 is left out: 1 of 10, within 30%.
	var file strings.Builder
	file.WriteString("firstName,lastName,email\n")
	for i := range 8 {
		file.WriteString(row(i, fmt.Sprintf("C%d", i)))
	}
	file.WriteString(row(8, strings.Repeat("x", 51)))
	sync := map[string]string{"mode": "sync", "uploader": who}
	first := uploadWith(t, "syncer/clients/full.csv", []byte(file.String()), sync)
	if want := (schemas.Counts{Rows: 9, Unchanged: 8, Rejected: 1}); first.Status != schemas.StatusCompletedWithErrors || first.Counts != want {
		t.Errorf("sync: %s %+v, want completed_with_errors %+v", first.Status, first.Counts, want)
	}
	if got, want := syncState(t, "clients", "email", "active"), active(0, 1, 2, 3, 4, 5, 6, 7, 8); !slices.Equal(got, want) {
		t.Errorf("after the sync: %v, want %v", got, want)
	}
	if n, keys := deactivatedBy(t, first.ID); n != 1 || !slices.Equal(keys, []string{"c9@syncer.example"}) {
		t.Errorf("sync deactivated %d %v, want c9", n, keys)
	}
	msgs := mailsAbout(t, who, "full.csv")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Deactivated: 1 ") || !strings.Contains(msgs[0].Text, "The records deactivated:") ||
		!strings.Contains(msgs[0].Text, "  c9@syncer.example") {
		t.Errorf("sync mails: %+v, want one listing c9 as deactivated", msgs)
	}

	// Only c0: c1..c8 would go, 8 of 9 active, over 30%: none does.
	only := "firstName,lastName,email\n" + row(0, "C0")
	over := uploadWith(t, "syncer/clients/only.csv", []byte(only), sync)
	if over.Status != schemas.StatusCompleted || over.ReasonCode != schemas.CodeSyncLimit || over.Reason != schemas.MsgSyncLimit(8, 9, 30) {
		t.Errorf("over the limit: %s %q %q, want completed, %q", over.Status, over.ReasonCode, over.Reason, schemas.MsgSyncLimit(8, 9, 30))
	}
	if got, want := syncState(t, "clients", "email", "active"), active(0, 1, 2, 3, 4, 5, 6, 7, 8); !slices.Equal(got, want) {
		t.Errorf("after the refused sync: %v, want %v", got, want)
	}
	if msgs := mailsAbout(t, who, "only.csv"); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Note: nothing was deactivated") ||
		!strings.Contains(msgs[0].Text, "X-Amz-Meta-Force: true") {
		t.Errorf("refused sync mails: %+v, want one saying nothing was deactivated, and how to force it", msgs)
	}

	// Forced, the same file deactivates them.
	forced := uploadWith(t, "syncer/clients/only.csv", []byte(only), map[string]string{"mode": "sync", "force": "true", "uploader": who})
	if forced.Status != schemas.StatusCompleted || forced.ReasonCode != "" {
		t.Errorf("forced: %s %q, want completed", forced.Status, forced.ReasonCode)
	}
	if got, want := syncState(t, "clients", "email", "active"), active(0); !slices.Equal(got, want) {
		t.Errorf("after the forced sync: %v, want %v", got, want)
	}
	if n, keys := deactivatedBy(t, forced.ID); n != 8 || len(keys) != 8 {
		t.Errorf("forced sync deactivated %d %v, want c1..c8", n, keys)
	}

	// Users are blocked.
	users := "login,password,email,firstName,lastName\n" +
		"ann,Welcome2024,ann@syncer.example,Ann,Lee\nbob,Welcome2024,bob@syncer.example,Bob,Lee\n" +
		"cat,Welcome2024,cat@syncer.example,Cat,Lee\ndan,Welcome2024,dan@syncer.example,Dan,Lee\n"
	if got := upload(t, "syncer/users/base.csv", []byte(users), who); got.Counts.Created != 4 {
		t.Fatalf("users: %s %+v, want 4 created", got.Status, got.Counts)
	}
	kept := users[:strings.Index(users, "dan,")]
	if got := uploadWith(t, "syncer/users/kept.csv", []byte(kept), sync); got.Status != schemas.StatusCompleted || got.Counts.Rows != 3 || got.Counts.Rejected != 0 {
		t.Errorf("users sync: %s %+v, want 3 rows loaded", got.Status, got.Counts)
	}
	if got, want := syncState(t, "users", "login", "status"), []string{"ann:active", "bob:active", "cat:active", "dan:blocked"}; !slices.Equal(got, want) {
		t.Errorf("users after the sync: %v, want %v", got, want)
	}
}

// TestSyncRemovesMembershipsTheFileLeavesOut: a groups file of members
// uploaded as a sync is the tenant's whole list of memberships: those it
// leaves out are removed (its groups stay), not those of a row it rejects;
// over the tenant's limit none is removed; a file of group names alone
// cannot be a sync. The summary lists what was removed, and every row ends
// loaded or rejected, once.
func TestSyncRemovesMembershipsTheFileLeavesOut(t *testing.T) {
	t.Parallel()
	const who = "ops@crew.example"
	sync := map[string]string{"mode": "sync", "uploader": who}
	if got := upload(t, "crew/accounts/people.csv", []byte("email,firstName\nann@crew.example,Ann\nbob@crew.example,Bob\n"+
		"cid@crew.example,Cid\ndan@crew.example,Dan\neve@crew.example,Eve\n"), who); got.Counts.Created != 5 {
		t.Fatalf("accounts: %s %+v, want 5 created", got.Status, got.Counts)
	}
	members := func(rows ...string) []byte {
		return []byte("email,FirstName,LastName,Groupname,Groupname\n" + strings.Join(rows, "\n") + "\n")
	}
	both := func(who, first string) string { return who + "@crew.example," + first + ",Lee,Sales,Ops" }
	base := members(both("ann", "Ann"), both("bob", "Bob"), both("cid", "Cid"), both("dan", "Dan"), both("eve", "Eve"))
	if got := upload(t, "crew/groups/base.csv", base, who); got.Status != schemas.StatusCompleted || got.Counts.Created != 5 {
		t.Fatalf("groups: %s %+v, want 5 rows created", got.Status, got.Counts)
	}

	// Bob leaves Ops, Eve leaves both groups: 3 of 10, within 30%. Cid's
	// row is rejected (a first name with "!"): Cid's memberships stay.
	full := uploadWith(t, "crew/groups/members-full.csv", members(both("ann", "Ann"), "bob@crew.example,Bob,Lee,Sales,",
		both("cid", "Cid!"), both("dan", "Dan")), sync)
	if want := (schemas.Counts{Rows: 4, Unchanged: 3, Rejected: 1}); full.Status != schemas.StatusCompletedWithErrors || full.Counts != want {
		t.Errorf("members sync: %s %+v, want completed_with_errors %+v", full.Status, full.Counts, want)
	}
	assertRejected(t, "crew", "groups", full.ID, map[int][]string{4: {"FirstName:" + schemas.CodeFormat}})
	kept := []string{"Ops/ann@crew.example", "Ops/cid@crew.example", "Ops/dan@crew.example",
		"Sales/ann@crew.example", "Sales/bob@crew.example", "Sales/cid@crew.example", "Sales/dan@crew.example"}
	if got := liveMembers(t, "crew"); !slices.Equal(got, kept) {
		t.Errorf("after the members sync: %v, want %v", got, kept)
	}
	removed := []string{"bob@crew.example Ops", "eve@crew.example Ops", "eve@crew.example Sales"}
	if n, keys := deactivatedBy(t, full.ID); n != 3 || !slices.Equal(keys, removed) {
		t.Errorf("members sync removed %d %v, want %v", n, keys, removed)
	}
	if msgs := mailsAbout(t, who, "members-full.csv"); len(msgs) != 1 || !strings.Contains(msgs[0].Subject, ", 3 removed") ||
		!strings.Contains(msgs[0].Text, "Removed: 3 ") || !strings.Contains(msgs[0].Text, "The records removed:") ||
		!strings.Contains(msgs[0].Text, "  eve@crew.example Sales") {
		t.Errorf("members sync mails: %+v, want one listing Eve's and Bob's memberships as removed", msgs)
	}
	if groups, want := liveGroups(t, "crew"), []string{"Ops", "Sales"}; !slices.Equal(groups, want) {
		t.Errorf("groups after the sync: %v, want %v", groups, want)
	}

	// A file of Sales alone, by group, would remove 5 of 7: none goes.
	over := uploadWith(t, "crew/groups/sales.csv", []byte("Groupname,Email,Email\nSales,ann@crew.example,bob@crew.example\n"), sync)
	if over.Status != schemas.StatusCompleted || over.ReasonCode != schemas.CodeSyncLimit || over.Reason != schemas.MsgSyncLimit(5, 7, 30) {
		t.Errorf("over the limit: %s %q %q, want completed, %q", over.Status, over.ReasonCode, over.Reason, schemas.MsgSyncLimit(5, 7, 30))
	}
	if got := liveMembers(t, "crew"); !slices.Equal(got, kept) {
		t.Errorf("after the refused sync: %v, want %v", got, kept)
	}

	names := uploadWith(t, "crew/groups/all.csv", []byte("Groupname\nSales\n"), sync)
	if names.Status != schemas.StatusRejected || names.ReasonCode != schemas.CodeSyncUnsupported || names.Reason != schemas.MsgSyncUnsupported(schemas.GroupList) {
		t.Errorf("group names sync: %s %q %q, want rejected %q", names.Status, names.ReasonCode, names.Reason, schemas.CodeSyncUnsupported)
	}
}
