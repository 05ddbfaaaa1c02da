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
// so, until the same file is forced; users a sync leaves out are blocked;
// groups cannot be synced. Each summary lists what was deactivated, and
// every row of every file ends loaded or rejected, once.
func TestSyncDeactivatesWhatTheFileLeavesOut(t *testing.T) {
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

	groups := uploadWith(t, "syncer/groups/all.csv", []byte("Groupname\nSales\n"), sync)
	if groups.Status != schemas.StatusRejected || groups.ReasonCode != schemas.CodeSyncUnsupported {
		t.Errorf("groups sync: %s %q, want rejected %q", groups.Status, groups.ReasonCode, schemas.CodeSyncUnsupported)
	}
}
