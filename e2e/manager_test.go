package e2e

import (
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// TestManagerEmail follows seed 002's "Email of the manager" through the
// pipeline: a user's managerEmail names a user of the tenant, or another
// row of the same file wherever that row is (the e2e chunks are 3 rows, so
// a row names one in a later chunk); anything else is rejected with a
// reason that names the column; the address is stored lower-cased.
func TestManagerEmail(t *testing.T) {
	t.Parallel()
	const who = "ops@acme.example"
	first := upload(t, "acme/users/managers.csv", []byte("login,password,email,firstName,lastName,managerEmail\n"+
		"mgr.dana,Welcome2024,dana@mgr.acme.example,Dana,Fox,eve@mgr.acme.example\n"+ // 2: row 6, a later chunk
		"mgr.finn,Welcome2024,finn@mgr.acme.example,Finn,Gray,nobody@mgr.acme.example\n"+ // 3: nobody
		"mgr.gus,Welcome2024,gus@mgr.acme.example,Gus,Hill,Dana@MGR.acme.example\n"+ // 4: row 2, with capitals
		"mgr.hal,Welcome2024,hal@mgr.acme.example,Hal,Ives,hal@mgr.acme.example\n"+ // 5: itself, not another row
		"mgr.eve,Welcome2024,eve@mgr.acme.example,Eve,Jones,\n"+ // 6: no manager
		"mgr.ivy,Welcome2024,ivy@mgr.acme.example,Ivy,King,not-an-email\n"), who) // 7: not an address
	if want := (schemas.Counts{Rows: 6, Created: 3, Rejected: 3}); first.Counts != want {
		t.Errorf("first file: got %s %+v, want %+v", first.Status, first.Counts, want)
	}
	assertRejected(t, "acme", "users", first.ID, map[int][]string{
		3: {"managerEmail:" + schemas.CodeNoManager},
		5: {"managerEmail:" + schemas.CodeNoManager},
		7: {"managerEmail:" + schemas.CodeFormat},
	})
	query(t, "SELECT messages FROM sluice.import_rejections FINAL WHERE import_id = ? AND row = 3", func(r driver.Rows) error {
		var m []string
		err := r.Scan(&m)
		if got := strings.Join(m, "; "); got != schemas.MsgNoManager("managerEmail") || !strings.Contains(got, "managerEmail") {
			t.Errorf("row 3's reason %q, want %q, naming the column", got, schemas.MsgNoManager("managerEmail"))
		}
		return err
	}, first.ID)

	// Stored users are managers too; a partial row changes the manager.
	second := upload(t, "acme/users/managers-2.csv", []byte("login,password,email,firstName,lastName,managerEmail\n"+
		"mgr.eve,,,,,dana@mgr.acme.example\n"+ // 2: a stored user
		"mgr.finn,Welcome2024,finn@mgr.acme.example,Finn,Gray,gus@mgr.acme.example\n"+ // 3: a stored user
		"mgr.gus,,,,,zed@mgr.acme.example\n"), who) // 4: nobody
	if want := (schemas.Counts{Rows: 3, Created: 1, Updated: 1, Rejected: 1}); second.Counts != want {
		t.Errorf("second file: got %s %+v, want %+v", second.Status, second.Counts, want)
	}
	assertRejected(t, "acme", "users", second.ID, map[int][]string{4: {"managerEmail:" + schemas.CodeNoManager}})

	managers := map[string]string{}
	query(t, "SELECT login, manager_email FROM sluice.users FINAL WHERE tenant = 'acme' AND startsWith(login, 'mgr.')", func(r driver.Rows) error {
		var login, manager string
		err := r.Scan(&login, &manager)
		managers[login] = manager
		return err
	})
	want := map[string]string{
		"mgr.dana": "eve@mgr.acme.example", "mgr.gus": "dana@mgr.acme.example", "mgr.eve": "dana@mgr.acme.example",
		"mgr.finn": "gus@mgr.acme.example",
	}
	if len(managers) != len(want) {
		t.Errorf("users: got %v, want %v", managers, want)
	}
	for login, m := range want {
		if managers[login] != m {
			t.Errorf("%s: manager %q, want %q", login, managers[login], m)
		}
	}
}
