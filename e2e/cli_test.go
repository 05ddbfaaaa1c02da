package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/schemas"
)

// The tests of the CLI's import commands (sluice import, imports, errors,
// cancel) run on tenant cli's imports.

// runCLI runs `sluice args...` against the stack, as the partner cli (its key
// in SLUICE_TENANT_ACCESS_KEY and SLUICE_TENANT_SECRET_KEY) and as the
// operator (ClickHouse's read-only user, NATS), and returns its standard
// output, its standard error and its exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(stack.bin, args...)
	cmd.Env = append(os.Environ(), "SLUICE_NATS_URL="+stack.nc.ConnectedUrl(), "SLUICE_CLICKHOUSE_ADDR="+stack.ch.Config.Addr,
		"SLUICE_S3_ENDPOINT="+stack.s3cfg.Endpoint, "SLUICE_S3_BUCKET="+stack.s3cfg.Bucket,
		"SLUICE_TENANT_ACCESS_KEY="+stack.keys["cli"], "SLUICE_TENANT_SECRET_KEY="+stack.secrets["cli"])
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("sluice %v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// writeTemp writes body to a file called name in a folder of the test's.
func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var importLine = regexp.MustCompile(`(?m)^import (\S+)$`)

// TestCLIImport: `sluice import` uploads a file as its tenant does, with
// the tenant's key, the uploader and the options as metadata, follows it
// with a progress bar to its end, prints its counts and where its errors
// are, and exits 0 when it completed, 3 when it completed with errors, and
// non-zero when the file is rejected or nothing is loaded.
func TestCLIImport(t *testing.T) {
	t.Parallel()
	const who = "importer@cli.example"
	tests := []struct {
		name, file, body string
		flags            []string
		status           string
		code             int
		counts           schemas.Counts
		say              []string
	}{
		{name: "completed", file: "cli-clean.csv", body: "firstName,email\nAda,ada@cli-import.example\nBea,bea@cli-import.example\n",
			status: schemas.StatusCompleted, code: 0, counts: schemas.Counts{Rows: 2, Created: 2}},
		{name: "with errors", file: "cli-errors.csv", body: "firstName,email\nCy,cy@cli-import.example\nDee,dee@@cli-import.example\nEd,ed@cli-import.example\n",
			status: schemas.StatusCompletedWithErrors, code: 3, counts: schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, say: []string{"errors: sluice errors "}},
		{name: "abort on error", file: "cli-abort.csv", body: "firstName,email\nFay,fay@cli-import.example\nGus,gus@@cli-import.example\n",
			flags: []string{"--on-error", "abort"}, status: schemas.StatusRequiresIntervention, code: 1,
			counts: schemas.Counts{Rows: 2, Created: 1, Rejected: 1}, say: []string{"errors: sluice errors ", "nothing was loaded: upload a corrected file, or sluice continue "}},
		{name: "preview", file: "cli-preview.csv", body: "firstName,email\nIda,ida@cli-import.example\n",
			flags: []string{"--preview", "true"}, status: schemas.StatusPreviewed, code: 0,
			counts: schemas.Counts{Rows: 1, Created: 1}, say: []string{"nothing was loaded: sluice confirm "}},
		{name: "rejected", file: "cli-rejected.csv", body: "name,phone\nHal,123\n",
			status: schemas.StatusRejected, code: 1, say: []string{"reason: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"import", writeTemp(t, tc.file, tc.body), "--tenant", "cli", "--dataset", "clients", "--uploader", who}, tc.flags...)
			out, progress, code := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, progress)
			}
			m := importLine.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("output:\n%s\nwant the import's id", out)
			}
			id := m[1]
			got := importsOf(t, "cli/clients/"+tc.file)[id]
			if got.Status != tc.status || got.Counts != tc.counts {
				t.Errorf("import %s: %s %+v, want %s %+v", id, got.Status, got.Counts, tc.status, tc.counts)
			}
			k := tc.counts
			say := append([]string{fmt.Sprintf("import %s: %s: %d rows, %d created, %d updated, %d unchanged, %d rejected",
				id, tc.status, k.Rows, k.Created, k.Updated, k.Unchanged, k.Rejected)}, tc.say...)
			for _, s := range say {
				if !strings.Contains(out, s) {
					t.Errorf("output:\n%s\nwant it to say %q", out, s)
				}
			}
			if !strings.Contains(progress, tc.file) {
				t.Errorf("progress:\n%s\nwant a bar named %s", progress, tc.file)
			}
			if mails := mailsAbout(t, who, tc.file); len(mails) != 1 {
				t.Errorf("mails to the uploader about %s: %d, want 1", tc.file, len(mails))
			}
		})
	}

	// An option the key does not allow, and no key at all: refused before anything is uploaded.
	if _, errOut, code := runCLI(t, "import", writeTemp(t, "x.csv", "firstName,email\n"), "--tenant", "cli", "--dataset", "clients", "--secret-key", ""); code == 0 ||
		!strings.Contains(errOut, "the tenant's key is needed") {
		t.Errorf("sluice import without a secret key: exit %d\n%s\nwant it refused", code, errOut)
	}
}

// TestCLIImports: `sluice imports` lists the imports as a table, newest
// first, filtered by tenant, status and dataset.
func TestCLIImports(t *testing.T) {
	t.Parallel()
	const who = "lister@cli.example"
	first := upload(t, "cli/clients/cli-list-1.csv", []byte("firstName,email\nIan,ian@cli-list.example\n"), who)
	second := upload(t, "cli/clients/cli-list-2.csv", []byte("firstName,email\nJo,jo@cli-list.example\nKit,kit@@cli-list.example\n"), who)
	if first.Status != schemas.StatusCompleted || second.Status != schemas.StatusCompletedWithErrors {
		t.Fatalf("uploads: %s and %s, want completed and completed_with_errors", first.Status, second.Status)
	}
	out, errOut, code := runCLI(t, "imports", "--tenant", "cli", "--dataset", "clients")
	if code != 0 {
		t.Fatalf("sluice imports: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if header := strings.Fields(lines[0]); strings.Join(header, " ") != "IMPORT TENANT FILE DATASET UPLOADER STATUS ROWS CREATED UPDATED UNCHANGED REJECTED STARTED DURATION" {
		t.Errorf("header: %q", lines[0])
	}
	row := func(id string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == id {
				return f
			}
		}
		return nil
	}
	// STARTED is a date and a time: two fields.
	want := map[string][]string{
		first.ID:  {first.ID, "cli", "cli-list-1.csv", "clients", who, schemas.StatusCompleted, "1", "1", "0", "0", "0"},
		second.ID: {second.ID, "cli", "cli-list-2.csv", "clients", who, schemas.StatusCompletedWithErrors, "2", "1", "0", "0", "1"},
	}
	for id, w := range want {
		if got := row(id); len(got) != len(w)+3 || strings.Join(got[:len(w)], " ") != strings.Join(w, " ") {
			t.Errorf("row of %s: %q, want %q then when and how long", id, got, w)
		}
	}
	if strings.Index(out, second.ID) > strings.Index(out, first.ID) {
		t.Errorf("imports:\n%s\nwant the newest (%s) first", out, second.ID)
	}
	for _, f := range [][]string{
		{"--tenant", "acme"}, {"--tenant", "cli", "--status", schemas.StatusFailed}, {"--tenant", "cli", "--dataset", "users"},
	} {
		out, errOut, code := runCLI(t, append([]string{"imports"}, f...)...)
		if code != 0 || strings.Contains(out, first.ID) || strings.Contains(out, second.ID) {
			t.Errorf("sluice imports %v: exit %d\n%s%s\nwant neither import", f, code, out, errOut)
		}
	}
	// Every tenant's: a limit above all the imports the other tests make
	// meanwhile.
	if out, _, _ := runCLI(t, "imports", "--status", schemas.StatusCompletedWithErrors, "--limit", "10000"); !strings.Contains(out, second.ID) || strings.Contains(out, first.ID) {
		t.Errorf("sluice imports --status completed_with_errors (every tenant):\n%s\nwant %s only", out, second.ID)
	}
	if _, errOut, code := runCLI(t, "imports", "--status", "done"); code == 0 || !strings.Contains(errOut, `no status "done"`) {
		t.Errorf("sluice imports --status done: exit %d\n%s\nwant it refused", code, errOut)
	}
}

// TestCLIErrors: `sluice errors` writes the import's error report, byte for
// byte the email's attachment, to standard output or to a file; it says why
// a file rejected whole has none, and knows no import it was not given.
func TestCLIErrors(t *testing.T) {
	t.Parallel()
	const who = "reporter@cli.example"
	body := "firstName,email\nLee,=HYPERLINK(1)\nMo,mo@@cli-errors.example\n,ned@cli-errors.example\nOla,ola@cli-errors.example\n"
	imp := upload(t, "cli/clients/cli-report.csv", []byte(body), who)
	if imp.Status != schemas.StatusCompletedWithErrors || imp.Counts.Rejected != 3 {
		t.Fatalf("upload: %s %+v, want completed_with_errors with 3 rows rejected", imp.Status, imp.Counts)
	}
	mails := mailsAbout(t, who, "cli-report.csv")
	if len(mails) != 1 || len(mails[0].Attachments) != 1 {
		t.Fatalf("mails about cli-report.csv: %d, want 1 with one attachment", len(mails))
	}
	var attached []byte
	for _, a := range mails[0].Attachments {
		attached = a
	}
	if !bytes.Contains(attached, []byte("'=HYPERLINK(1)")) {
		t.Errorf("attachment:\n%s\nwant the formula escaped", attached)
	}
	out, errOut, code := runCLI(t, "errors", imp.ID)
	if code != 0 || out != string(attached) {
		t.Errorf("sluice errors: exit %d (%s)\n%q\nwant the email's attachment\n%q", code, errOut, out, attached)
	}
	path := filepath.Join(t.TempDir(), "report.csv")
	if _, errOut, code := runCLI(t, "errors", imp.ID, "-o", path); code != 0 {
		t.Fatalf("sluice errors -o: exit %d\n%s", code, errOut)
	}
	if got := readFile(t, path); !bytes.Equal(got, attached) {
		t.Errorf("sluice errors -o wrote\n%q\nwant the email's attachment\n%q", got, attached)
	}

	rejected := upload(t, "cli/clients/cli-whole.csv", []byte("name,phone\nPat,1\n"), who)
	if rejected.Status != schemas.StatusRejected {
		t.Fatalf("upload without the required columns: %s, want rejected", rejected.Status)
	}
	none := filepath.Join(t.TempDir(), "none.csv")
	if _, errOut, code := runCLI(t, "errors", rejected.ID, "-o", none); code == 0 || !strings.Contains(errOut, "rejected whole") || !strings.Contains(errOut, rejected.Reason) {
		t.Errorf("sluice errors of a file rejected whole: exit %d\n%s\nwant it refused with the reason %q", code, errOut, rejected.Reason)
	}
	if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sluice errors refused, yet left %s: %v", none, err)
	}
	if _, errOut, code := runCLI(t, "errors", "no-such-import"); code == 0 || !strings.Contains(errOut, "there is no import no-such-import") {
		t.Errorf("sluice errors of no import: exit %d\n%s", code, errOut)
	}
}

// TestCLICancel: `sluice cancel` stops an import while it runs, as
// deleting its file does, without deleting it: the rows loaded stay, the
// others are rejected as cancelled, each row once, the uploader is told.
// An import that has ended is refused.
func TestCLICancel(t *testing.T) {
	t.Parallel()
	const key, rows, who = "cli/clients/cli-big.csv", 3000, "canceller@cli.example"
	id := startBigImport(t, key, rows, who)
	out, errOut, code := runCLI(t, "cancel", id)
	if code != 0 || !strings.Contains(out, "import "+id+": "+schemas.StatusCancelled) {
		t.Fatalf("sluice cancel: exit %d\n%s%s\nwant it cancelled", code, out, errOut)
	}
	checkCancelled(t, key, id, rows)
	ctx := context.Background()
	if _, err := stack.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key)}); err != nil {
		t.Errorf("the cancelled file is gone from the bucket: %v", err)
	}
	if mails := mailsAbout(t, who, "cli-big.csv"); len(mails) != 1 || !strings.Contains(mails[0].Text, "cancelled") {
		t.Errorf("mails to the uploader: %+v, want one that says cancelled", mails)
	}
	if out, errOut, code := runCLI(t, "cancel", id); code == 0 || !strings.Contains(errOut, "is cancelled: it has ended") {
		t.Errorf("sluice cancel of an ended import: exit %d\n%s%s\nwant it refused", code, out, errOut)
	}
	// A later upload of the same key is not cancelled.
	again := upload(t, key, []byte("firstName,email\nRae,rae@cli-cancel.example\n"), who)
	if again.Status != schemas.StatusCompleted {
		t.Errorf("a later upload of %s: %s, want completed", key, again.Status)
	}
}

// TestOperateScope: a tenant's scope sees its own imports only; another
// tenant's answers as one that does not exist, whatever is asked of it.
// The rejected rows come in pages of rows, each line with its solution.
func TestOperateScope(t *testing.T) {
	t.Parallel()
	body := "firstName,email\nSam,sam@@cli-scope.example\nTia,tia@cli-scope.example\nUma,uma@@cli-scope.example\n"
	imp := upload(t, "cli/clients/cli-scope.csv", []byte(body), "")
	if imp.Status != schemas.StatusCompletedWithErrors || imp.Counts.Rejected != 2 {
		t.Fatalf("upload: %s %+v, want completed_with_errors, 2 rejected", imp.Status, imp.Counts)
	}
	ctx := context.Background()
	ops, err := operate.Open(ctx, operate.Config{ClickHouse: stack.ch.Config, NATS: operate.Publisher{URL: stack.nc.ConnectedUrl()}})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	for _, scope := range []operate.Scope{"cli", operate.AllTenants} {
		got, err := ops.Get(ctx, scope, imp.ID)
		if err != nil || got.Tenant != "cli" || got.Done != 3 || got.File.Format == "" {
			t.Errorf("Get in scope %q: %+v %v, want cli's import, 3 rows done, its format", scope, got, err)
		}
	}
	other := operate.Scope("acme")
	if list, err := ops.List(ctx, other, operate.Filter{Key: "cli/clients/cli-scope.csv"}); err != nil || len(list) != 0 {
		t.Errorf("List in acme's scope: %d imports, %v; want none", len(list), err)
	}
	acts := map[string]func() error{
		"Get":         func() error { _, err := ops.Get(ctx, other, imp.ID); return err },
		"Rejections":  func() error { _, err := ops.Rejections(ctx, other, imp.ID, 0, 10); return err },
		"WriteReport": func() error { return ops.WriteReport(ctx, other, imp.ID, &bytes.Buffer{}) },
		"Cancel":      func() error { return ops.Cancel(ctx, other, imp.ID) },
		"Continue":    func() error { return ops.Continue(ctx, other, imp.ID) },
		"Confirm":     func() error { return ops.Confirm(ctx, other, imp.ID) },
	}
	for name, act := range acts {
		if err := act(); !errors.Is(err, operate.ErrNotFound) {
			t.Errorf("%s in acme's scope: %v, want ErrNotFound", name, err)
		}
	}
	for offset, row := range []int{2, 4} {
		page, err := ops.Rejections(ctx, "cli", imp.ID, offset, 1)
		if err != nil || len(page) != 1 || page[0].Row != row || page[0].Column != "email" || page[0].Solution != schemas.Hint(page[0].Code) || page[0].Solution == "" {
			t.Errorf("rejections page %d: %+v %v, want row %d's email, with its solution", offset, page, err, row)
		}
	}
}
