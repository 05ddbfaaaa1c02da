package e2e

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// liveMembers lists the tenant's memberships that are not removed, as
// group/email, the way a reader sees them: each record's latest version.
func liveMembers(t *testing.T, tenant string) []string {
	t.Helper()
	return queryStrings(t, `SELECT concat(group_name, '/', email) FROM sluice.group_members FINAL
		WHERE tenant = ? AND removed = 0 ORDER BY group_name, email`, tenant)
}

// liveGroups lists the tenant's groups that are not removed.
func liveGroups(t *testing.T, tenant string) []string {
	t.Helper()
	return queryStrings(t, "SELECT name FROM sluice.groups FINAL WHERE tenant = ? AND removed = 0 ORDER BY name", tenant)
}

// TestRemoveAndRenameGroups (seed 003: remove users from a group, rename
// groups, remove groups) runs one tenant's groups through removals and a
// rename on the real stack. Every row ends removed, renamed, unchanged or
// rejected, audited once; what is removed stays removed for every reader
// (a users row naming a removed group is refused); a removed group can be
// added again; and the summary email says what was removed and renamed.
func TestRemoveAndRenameGroups(t *testing.T) {
	t.Parallel()
	const who = "admin@regroup.example"
	remove := map[string]string{"uploader": who, "mode": schemas.ModeRemove}
	step := func(name, key, body string, md map[string]string, want schemas.Counts, rejected map[int][]string) imp {
		t.Helper()
		if md == nil {
			md = map[string]string{"uploader": who}
		}
		got := uploadWith(t, "regroup/"+key, []byte(body), md)
		if got.Counts != want {
			t.Errorf("%s: got %s %+v, want %+v", name, got.Status, got.Counts, want)
		}
		if c := got.Counts; c.Loaded()+c.Rejected != c.Rows {
			t.Errorf("%s: counts %+v do not add up to the rows", name, c)
		}
		var audited int
		query(t, "SELECT count(), uniqExact(row) FROM sluice.import_rows FINAL WHERE import_id = ?", func(r driver.Rows) error {
			var n, distinct uint64
			err := r.Scan(&n, &distinct)
			if n != distinct {
				t.Errorf("%s: %d audit rows for %d rows", name, n, distinct)
			}
			audited = int(n)
			return err
		}, got.ID)
		if audited != got.Rows {
			t.Errorf("%s: %d rows audited, want %d", name, audited, got.Rows)
		}
		dataset, _, _ := strings.Cut(key, "/")
		assertRejected(t, "regroup", dataset, got.ID, rejected)
		return got
	}

	step("accounts", "accounts/accounts.csv", "email,firstName\nann@regroup.example,Ann\nbob@regroup.example,Bob\ncid@regroup.example,Cid\n",
		nil, schemas.Counts{Rows: 3, Created: 3}, nil)
	step("groups", "groups/teams.csv", "Groupname,Email,Email\nSales,ann@regroup.example,bob@regroup.example\nSupport,cid@regroup.example,\nOps,ann@regroup.example,cid@regroup.example\n",
		nil, schemas.Counts{Rows: 3, Created: 3}, nil)

	// Remove Bob from Sales; Ann was never in Support: unchanged.
	step("remove members", "groups/leavers.csv", "Groupname,Email\nSales,bob@regroup.example\nSupport,ann@regroup.example\n",
		remove, schemas.Counts{Rows: 2, Removed: 1, Unchanged: 1, RemovedMemberships: 1}, nil)
	if got, want := liveMembers(t, "regroup"), []string{"Ops/ann@regroup.example", "Ops/cid@regroup.example", "Sales/ann@regroup.example", "Support/cid@regroup.example"}; !slices.Equal(got, want) {
		t.Errorf("after removing members: %v, want %v", got, want)
	}

	// Rename Support; renaming a group that does not exist, or to a name a
	// group has, is refused.
	step("rename", "groups/rename.csv", "Groupname,New Groupname\nSupport,Help Desk\nNowhere,Anywhere\nSales,Ops\n",
		nil, schemas.Counts{Rows: 3, Renamed: 1, Rejected: 2},
		map[int][]string{3: {"Groupname:" + schemas.CodeNoGroup}, 4: {"New Groupname:" + schemas.CodeGroupExists}})
	if got, want := liveMembers(t, "regroup"), []string{"Help Desk/cid@regroup.example", "Ops/ann@regroup.example", "Ops/cid@regroup.example", "Sales/ann@regroup.example"}; !slices.Equal(got, want) {
		t.Errorf("after the rename: %v, want %v", got, want)
	}

	// Remove the whole Ops group, with its two memberships.
	step("remove groups", "groups/closed.csv", "Groupname\nOps\n",
		remove, schemas.Counts{Rows: 1, Removed: 1, RemovedGroups: 1, RemovedMemberships: 2}, nil)
	if got, want := liveMembers(t, "regroup"), []string{"Help Desk/cid@regroup.example", "Sales/ann@regroup.example"}; !slices.Equal(got, want) {
		t.Errorf("after removing Ops: %v, want %v", got, want)
	}
	if groups, want := liveGroups(t, "regroup"), []string{"Help Desk", "Sales"}; !slices.Equal(groups, want) {
		t.Errorf("groups: %v, want %v", groups, want)
	}
	mails := mailsAbout(t, who, "closed.csv")
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "Removed:   1 (2 memberships, 1 groups removed)") {
		t.Errorf("the summary of the removal does not say what it removed: %+v", mails)
	}
	if mails := mailsAbout(t, who, "rename.csv"); len(mails) != 1 || !strings.Contains(mails[0].Text, "Renamed:   1") {
		t.Errorf("the summary of the rename does not say what it renamed: %+v", mails)
	}

	// A users row naming a removed group, or the old name of a renamed one,
	// is refused; the new name is a group.
	step("users", "users/users.csv", "login,password,email,firstName,lastName,team\n"+
		"ann,Quokka7Zebra,ann@regroup.example,Ann,Avery,Ops\n"+
		"bob,Wombat5Lynx,bob@regroup.example,Bob,Berg,Support\n"+
		"cid,Okapi3Heron,cid@regroup.example,Cid,Cole,Help Desk\n",
		nil, schemas.Counts{Rows: 3, Created: 1, Rejected: 2},
		map[int][]string{2: {"team:" + schemas.CodeNoGroup}, 3: {"team:" + schemas.CodeNoGroup}})

	// A removed group is added again by a new membership.
	step("add again", "groups/ops-again.csv", "Groupname,Email\nOps,bob@regroup.example\n",
		nil, schemas.Counts{Rows: 1, Created: 1}, nil)
	if got, want := liveMembers(t, "regroup"), []string{"Help Desk/cid@regroup.example", "Ops/bob@regroup.example", "Sales/ann@regroup.example"}; !slices.Equal(got, want) {
		t.Errorf("after adding Ops again: %v, want %v", got, want)
	}
}

// TestEachMemberOnItsOwn (seed 003: "add additional email columns to add
// more users"): in a group-based row each member is judged on its own. The
// good ones are added, each bad one is rejected with its Email column and
// value, and a row with no good member is rejected. Every member of every
// row ends added or rejected with a reason, exactly once, and the error
// report lists every bad member. With on_error abort nothing is added.
func TestEachMemberOnItsOwn(t *testing.T) {
	t.Parallel()
	const who = "admin@squads.example"
	accounts := upload(t, "squads/accounts/accounts.csv", []byte("email,firstName\nann@squads.example,Ann\nbob@squads.example,Bob\n"), who)
	if want := (schemas.Counts{Rows: 2, Created: 2}); accounts.Counts != want {
		t.Fatalf("accounts: got %s %+v, want %+v", accounts.Status, accounts.Counts, want)
	}
	file := "Groupname,Email,Email,Email\n" +
		"Red,ann@squads.example,,ghost@squads.example\n" + // ghost has no account
		"Blue,bad@,bob@squads.example,ann@squads.example\n" + // bad@ is no address
		"Green,bad@,ghost@squads.example\n" // no good member
	members := map[int][]string{
		2: {"ann@squads.example", "ghost@squads.example"},
		3: {"bad@", "ann@squads.example", "bob@squads.example"},
		4: {"bad@", "ghost@squads.example"},
	}
	rejected := map[int][]string{
		2: {"Email (3):" + schemas.CodeNoAccount},
		3: {"Email:" + schemas.CodeFormat},
		4: {"Email:" + schemas.CodeFormat, "Email (2):" + schemas.CodeNoAccount},
	}

	// Abort: the partial rows keep every row from loading.
	aborted := uploadWith(t, "squads/groups/aborted.csv", []byte(file), map[string]string{"uploader": who, "on-error": schemas.OnErrorAbort})
	if want := (schemas.Counts{Rows: 3, Partial: 2, Rejected: 1}); aborted.Status != schemas.StatusRequiresIntervention || aborted.Counts != want {
		t.Errorf("abort: got %s %+v, want %s %+v", aborted.Status, aborted.Counts, schemas.StatusRequiresIntervention, want)
	}
	assertRejected(t, "squads", "groups", aborted.ID, rejected)
	var n uint64
	query(t, "SELECT count() FROM sluice.group_members FINAL WHERE tenant = 'squads'", func(r driver.Rows) error { return r.Scan(&n) })
	if n != 0 {
		t.Errorf("abort: %d memberships added, want none", n)
	}

	imported := upload(t, "squads/groups/squads.csv", []byte(file), who)
	if want := (schemas.Counts{Rows: 3, Partial: 2, Rejected: 1}); imported.Status != schemas.StatusCompletedWithErrors || imported.Counts != want {
		t.Errorf("continue: got %s %+v, want %s %+v", imported.Status, imported.Counts, schemas.StatusCompletedWithErrors, want)
	}
	assertRejected(t, "squads", "groups", imported.ID, rejected)
	outcomes := map[int]string{}
	query(t, "SELECT row, toString(outcome) FROM sluice.import_rows FINAL WHERE import_id = ?", func(r driver.Rows) error {
		var n uint32
		var o string
		err := r.Scan(&n, &o)
		outcomes[int(n)] = o
		return err
	}, imported.ID)
	if want := map[int]string{2: "partial", 3: "partial", 4: "rejected"}; !reflect.DeepEqual(outcomes, want) {
		t.Errorf("row outcomes: %v, want %v", outcomes, want)
	}

	// Every member of every row: added, or rejected with its reason, once.
	ended := map[int][]string{}
	query(t, "SELECT row, email FROM sluice.group_members FINAL WHERE tenant = 'squads' AND import_id = ?", func(r driver.Rows) error {
		var n uint32
		var e string
		err := r.Scan(&n, &e)
		ended[int(n)] = append(ended[int(n)], e)
		return err
	}, imported.ID)
	query(t, "SELECT row, values FROM sluice.import_rejections FINAL WHERE import_id = ?", func(r driver.Rows) error {
		var n uint32
		var vals []string
		err := r.Scan(&n, &vals)
		ended[int(n)] = append(ended[int(n)], vals...)
		return err
	}, imported.ID)
	for n, want := range members {
		got, want := slices.Sorted(slices.Values(ended[n])), slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("row %d: members added or rejected %v, want each of %v once", n, got, want)
		}
	}
	mails := mailsAbout(t, who, "squads.csv")
	if len(mails) != 1 {
		t.Fatalf("%d emails about squads.csv, want 1", len(mails))
	}
	report := string(mails[0].Attachments["errors-squads.csv"])
	for _, want := range []string{"Email (3)", "Email (2)", "ghost@squads.example", "bad@", schemas.MsgNoAccount} {
		if !strings.Contains(report, want) {
			t.Errorf("the error report does not say %q:\n%s", want, report)
		}
	}
}

// groupTypes lists the typed tenant's live groups as name:type.
func groupTypes(t *testing.T) []string {
	t.Helper()
	var out []string
	query(t, "SELECT name, type FROM sluice.groups FINAL WHERE tenant = 'typed' AND removed = 0 ORDER BY name", func(r driver.Rows) error {
		var n, typ string
		err := r.Scan(&n, &typ)
		out = append(out, n+":"+typ)
		return err
	})
	return out
}

// TestTypedGroups (seed 002: "the values of one of the existing groups of
// each type"): a groups file gives its groups a type by its folder or its
// type column; a file that gives none leaves the type as it is (a
// members file does not untype a group), and a renamed group keeps it. A
// users column names a group of its own type, or an untyped one.
func TestTypedGroups(t *testing.T) {
	t.Parallel()
	const who = "admin@typed.example"
	step := func(name, key, body string, want schemas.Counts, rejected map[int][]string) imp {
		t.Helper()
		got := upload(t, "typed/"+key, []byte(body), who)
		if got.Counts != want {
			t.Errorf("%s: got %s %+v (%s), want %+v", name, got.Status, got.Counts, got.Reason, want)
		}
		dataset, _, _ := strings.Cut(key, "/")
		assertRejected(t, "typed", dataset, got.ID, rejected)
		return got
	}
	step("accounts", "accounts/accounts.csv", "email,firstName\nann@typed.example,Ann\n", schemas.Counts{Rows: 1, Created: 1}, nil)
	step("regions by folder", "groups/region/regions.csv", "Groupname\nNorth\nSouth\n", schemas.Counts{Rows: 2, Created: 2}, nil)
	step("types by column", "groups/types.csv", "Groupname,Type\nSales,TEAM\nMisc,\nLab,planet\n",
		schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, map[int][]string{4: {"type:" + schemas.CodeFormat}})
	step("members", "groups/members.csv", "Groupname,Email\nSales,ann@typed.example\nNorth,ann@typed.example\nMisc,ann@typed.example\n",
		schemas.Counts{Rows: 3, Created: 3}, nil)
	if got, want := groupTypes(t), []string{"Misc:", "North:region", "Sales:team", "South:region"}; !slices.Equal(got, want) {
		t.Errorf("groups after the members file: %v, want %v (it gives no type: each keeps its own)", got, want)
	}
	step("users", "users/users.csv", "login,password,email,firstName,lastName,region,team,department\n"+
		"ann,Quokka7Zebra,ann@typed.example,Ann,Avery,North,Sales,Misc\n"+
		"bob,Wombat5Lynx,bob@typed.example,Bob,Berg,Sales,,\n"+
		"cid,Okapi3Heron,cid@typed.example,Cid,Cole,,North,\n",
		schemas.Counts{Rows: 3, Created: 1, Rejected: 2},
		map[int][]string{3: {"region:" + schemas.CodeNoGroup}, 4: {"team:" + schemas.CodeNoGroup}})
	step("rename", "groups/rename.csv", "Groupname,New Groupname\nSales,Sales EMEA\n", schemas.Counts{Rows: 1, Renamed: 1}, nil)
	if got, want := groupTypes(t), []string{"Misc:", "North:region", "Sales EMEA:team", "South:region"}; !slices.Equal(got, want) {
		t.Errorf("groups after the rename: %v, want %v", got, want)
	}
	bad := upload(t, "typed/groups/planet/moons.csv", []byte("Groupname\nIo\n"), who)
	if bad.Status != schemas.StatusRejected || bad.ReasonCode != schemas.CodeBadKey {
		t.Errorf("a folder that is no group type: got %s %q, want rejected %s", bad.Status, bad.ReasonCode, schemas.CodeBadKey)
	}
	// The file is in typed's folder: typed's uploader is told, and the
	// import is typed's (its console lists it).
	if got := queryStrings(t, "SELECT tenant FROM sluice.imports FINAL WHERE import_id = ?", bad.ID); !slices.Equal(got, []string{"typed"}) {
		t.Errorf("the rejected import's tenant: %q, want typed", got)
	}
	if msgs := mailsAbout(t, who, "moons.csv"); len(msgs) != 1 || !strings.Contains(msgs[0].Text, schemas.MsgBadKey("typed/groups/planet/moons.csv")) {
		t.Errorf("mails about moons.csv: %d, want 1 with the reason %q", len(msgs), schemas.MsgBadKey("typed/groups/planet/moons.csv"))
	}
}
