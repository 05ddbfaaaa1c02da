package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xuri/excelize/v2"

	"github.com/sluicehq/sluice/schemas"
)

// TestTemplatesForATenant: the templates `sluice template --tenant` writes
// for a new tenant import into it as they are, every one with no rejected
// row, in the order a new partner fills them: accounts, the groups their
// members join, users who belong to those groups, a rename of a group,
// clients. The users template names the groups the tenant has by then, not
// the static examples, which it does not have.
func TestTemplatesForATenant(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(dataset string, xlsx bool) {
		t.Helper()
		args := []string{"template", dataset, "--tenant", "fresh", "-o", dir}
		if xlsx {
			args = append(args, "--xlsx")
		}
		cmd := exec.Command(stack.bin, args...)
		cmd.Env = stack.cmdEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sluice %v: %v\n%s", args, err, out)
		}
	}
	put := func(folder, file string) {
		t.Helper()
		i := upload(t, "fresh/"+folder+"/"+file, readFile(t, filepath.Join(dir, file)), "")
		if c := i.Counts; i.Status != schemas.StatusCompleted || c.Rows == 0 || c.Bad() != 0 {
			t.Errorf("%s: got %s %+v (%s), want completed with no row rejected", file, i.Status, i.Counts, i.Reason)
		}
	}

	write("accounts", false)
	put("accounts", "accounts.csv")
	write("groups", false)
	for _, layout := range []string{"group-based", "user-based", "group-list"} {
		put("groups", "groups-"+layout+".csv")
	}
	write("users", true)
	// The groups fresh has by now, by type ("" untyped): a users column
	// names one of its type or an untyped one, else none.
	groups := map[string][]string{}
	query(t, `SELECT name, type FROM sluice.groups FINAL WHERE tenant = 'fresh' AND removed = 0`, func(r driver.Rows) error {
		var name, typ string
		err := r.Scan(&name, &typ)
		groups[typ] = append(groups[typ], name)
		return err
	})
	wb := readWorkbook(t, filepath.Join(dir, "users.xlsx"))
	filled := 0
	for _, typ := range schemas.UserGroupTypes {
		allowed := append(slices.Clone(groups[typ]), groups[""]...)
		got := cell(wb[1], slices.Index(wb[0], typ))
		switch {
		case len(allowed) == 0 && got != "":
			t.Errorf("users template, column %s: %q, but fresh has no group it may name", typ, got)
		case len(allowed) > 0 && !slices.Contains(allowed, got):
			t.Errorf("users template, column %s: %q, want one of fresh's %q", typ, got, allowed)
		case got != "":
			filled++
		}
	}
	if filled == 0 {
		t.Errorf("users template names none of fresh's groups %v", groups)
	}
	put("users", "users.xlsx")
	put("groups", "groups-rename.csv")
	write("clients", false)
	put("clients", "clients.csv")
}

// readWorkbook returns the rows of a workbook's first sheet.
func readWorkbook(t *testing.T, path string) [][]string {
	t.Helper()
	wb, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	rows, err := wb.GetRows(wb.GetSheetList()[0])
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %d rows, %v", path, len(rows), err)
	}
	return rows
}

// cell is row's cell c, or "" past its end.
func cell(row []string, c int) string {
	if c < 0 || c >= len(row) {
		return ""
	}
	return row[c]
}
