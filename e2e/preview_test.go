package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// mailWith waits for the mails to who about file whose body contains
// marker, checks there are n, and returns the first.
func mailWith(t *testing.T, who, file, marker string, n int) testkit.Message {
	t.Helper()
	var got []testkit.Message
	_ = parts.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		got = nil
		for _, m := range testkit.Messages(t, stack.mail, who) {
			if strings.Contains(m.Subject, file) && strings.Contains(m.Text, marker) {
				got = append(got, m)
			}
		}
		return len(got) >= n, nil
	})
	if len(got) != n {
		t.Fatalf("mails about %s saying %q: %d, want %d", file, marker, len(got), n)
	}
	return got[0]
}

// TestPreviewThenConfirm: seed 000's step 3 and seed 001's review table. A
// file uploaded with X-Amz-Meta-Preview: true is decided row by row
// (created, updated, unchanged, rejected) and loads nothing; its mail says
// what would happen. `sluice confirm` then imports it as previewed from its
// staged records: the object is deleted first, so the confirmation cannot
// have read it. Confirming again, or confirming an import that was no
// preview, is refused; so is a preview some of whose records a later upload
// changed (its counts would lie), which leaves the later values alone. A
// preview that stops on errors, confirmed, requires intervention, and
// `sluice continue` then loads its good rows.
func TestPreviewThenConfirm(t *testing.T) {
	t.Parallel()
	const key, who = "acme/clients/preview.csv", "preview@acme.example"
	before := upload(t, "acme/clients/preview-before.csv", []byte("firstName,email\nPat,pat@preview.example\nUna,una@preview.example\n"), who)
	if before.Status != schemas.StatusCompleted {
		t.Fatalf("first upload: %s, want completed", before.Status)
	}
	body := "firstName,email\nAda,ada@preview.example\nPatricia,pat@preview.example\nUna,una@preview.example\nCy,cy@@preview.example\n"
	preview := uploadWith(t, key, []byte(body), map[string]string{"preview": "true", "uploader": who})
	want := schemas.Counts{Rows: 4, Created: 1, Updated: 1, Unchanged: 1, Rejected: 1}
	if preview.Status != schemas.StatusPreviewed || preview.Counts != want {
		t.Fatalf("preview: %s %+v, want %s %+v", preview.Status, preview.Counts, schemas.StatusPreviewed, want)
	}
	asBefore := []string{"pat@preview.example Pat", "una@preview.example Una"}
	if got := clientNames(t, "@preview.example"); strings.Join(got, "|") != strings.Join(asBefore, "|") {
		t.Fatalf("clients after the preview: %v, want them as before %v", got, asBefore)
	}
	if got, want := rowOutcomes(t, preview.ID), []string{"2:created", "3:updated", "4:unchanged", "5:rejected"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("previewed rows: %v, want %v", got, want)
	}
	m := mailWith(t, who, "preview.csv", "was previewed: nothing was loaded", 1)
	for _, s := range []string{"Would be created:    1", "Would be updated:    1", "Would be unchanged:  1", "Would be rejected:   1", "sluice confirm " + preview.ID} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("preview email:\n%s\nwant it to say %q", m.Text, s)
		}
	}
	if report := string(m.Attachments["errors-preview.csv"]); !strings.Contains(report, schemas.MsgFormat) {
		t.Errorf("preview report:\n%s\nwant the rejected row's reason", report)
	}

	// The object goes: a confirmation that read it again would fail.
	if _, err := partner(key).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	out, ok := sluiceCommand(t, "confirm", preview.ID)
	if !ok || !strings.Contains(out, schemas.StatusCompletedWithErrors) {
		t.Fatalf("sluice confirm: ok %v\n%s\nwant it to end completed_with_errors", ok, out)
	}
	if got := importsOf(t, key)[preview.ID]; got.Status != schemas.StatusCompletedWithErrors || got.Counts != want {
		t.Errorf("confirmed import: %s %+v, want %s %+v", got.Status, got.Counts, schemas.StatusCompletedWithErrors, want)
	}
	confirmed := []string{"ada@preview.example Ada", "pat@preview.example Patricia", "una@preview.example Una"}
	if got := clientNames(t, "@preview.example"); strings.Join(got, "|") != strings.Join(confirmed, "|") {
		t.Errorf("clients after confirm: %v, want %v", got, confirmed)
	}
	summary := mailWith(t, who, "preview.csv", "It was confirmed after its preview", 1)
	for _, s := range []string{"completed with errors", "Created:   1", "Updated:   1", "Unchanged: 1", "Rejected:  1"} {
		if !strings.Contains(summary.Text, s) {
			t.Errorf("confirmed email:\n%s\nwant it to say %q", summary.Text, s)
		}
	}
	if out, ok := sluiceCommand(t, "confirm", preview.ID); ok || !strings.Contains(out, "was confirmed already") {
		t.Errorf("second sluice confirm: ok %v\n%s\nwant it refused", ok, out)
	}
	if out, ok := sluiceCommand(t, "confirm", before.ID); ok || !strings.Contains(out, "only a previewed import can be confirmed") {
		t.Errorf("sluice confirm of an import that was no preview: ok %v\n%s\nwant it refused", ok, out)
	}
	time.Sleep(3 * time.Second)
	mailWith(t, who, "preview.csv", "It was confirmed after its preview", 1)

	// A later upload changes a record the preview would write: refused,
	// and the later value stays.
	stale := uploadWith(t, "acme/clients/preview-stale.csv", []byte("firstName,email\nAdeline,ada@preview.example\nZed,zed@preview.example\n"),
		map[string]string{"preview": "true", "uploader": who})
	if stale.Status != schemas.StatusPreviewed {
		t.Fatalf("second preview: %s, want %s", stale.Status, schemas.StatusPreviewed)
	}
	upload(t, "acme/clients/preview-later.csv", []byte("firstName,email\nAddie,ada@preview.example\n"), who)
	if out, ok := sluiceCommand(t, "confirm", stale.ID); ok || !strings.Contains(out, "1 of the records it would write were changed by a later upload") {
		t.Errorf("sluice confirm of an out-of-date preview: ok %v\n%s\nwant it refused", ok, out)
	}
	later := []string{"ada@preview.example Addie", "pat@preview.example Patricia", "una@preview.example Una"}
	if got := clientNames(t, "@preview.example"); strings.Join(got, "|") != strings.Join(later, "|") {
		t.Errorf("clients after a refused confirm: %v, want %v", got, later)
	}

	// A preview that stops on errors: confirmed, it requires
	// intervention; continued, its good rows load.
	aborts := uploadWith(t, "acme/clients/preview-abort.csv", []byte("firstName,email\nVic,vic@preview.example\nWes,wes@@preview.example\n"),
		map[string]string{"preview": "true", "on-error": "abort", "uploader": who})
	if aborts.Status != schemas.StatusPreviewed {
		t.Fatalf("abort preview: %s, want %s", aborts.Status, schemas.StatusPreviewed)
	}
	if out, ok := sluiceCommand(t, "confirm", aborts.ID); !ok || !strings.Contains(out, schemas.StatusRequiresIntervention) {
		t.Fatalf("sluice confirm of a preview that stops on errors: ok %v\n%s\nwant it to require intervention", ok, out)
	}
	if got := clientNames(t, "vic@preview.example"); len(got) != 0 {
		t.Errorf("clients loaded by a confirmed preview that requires intervention: %v", got)
	}
	if out, ok := sluiceCommand(t, "continue", aborts.ID); !ok || !strings.Contains(out, schemas.StatusCompletedWithErrors) {
		t.Fatalf("sluice continue of the confirmed preview: ok %v\n%s", ok, out)
	}
	if got := clientNames(t, "vic@preview.example"); strings.Join(got, "") != "vic@preview.example Vic" {
		t.Errorf("clients after continue: %v, want Vic", got)
	}
}
