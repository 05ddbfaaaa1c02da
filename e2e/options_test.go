package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// clientEmails returns the emails of the tenant's clients (FINAL) that end
// with suffix, sorted.
func clientEmails(t *testing.T, tenant, suffix string) []string {
	t.Helper()
	var out []string
	query(t, "SELECT email FROM sluice.clients FINAL WHERE tenant = ? AND endsWith(email, ?) ORDER BY email", func(r driver.Rows) error {
		var e string
		err := r.Scan(&e)
		out = append(out, e)
		return err
	}, tenant, suffix)
	return out
}

// TestAbortOnError: with on-error abort (seed 002's "restart with a corrected
// file"), one bad row keeps every row out, the import requires
// intervention, and the corrected file uploaded at the same key loads.
func TestAbortOnError(t *testing.T) {
	t.Parallel()
	const key, who = "acme/clients/abort.csv", "abort@acme.example"
	md := map[string]string{"on-error": "abort", "uploader": who}
	bad := "firstName,email\nAda,ada@abort.example\nBea,bea@abort.example\nCy,cy@@abort.example\nDot,dot@abort.example\n"
	first := uploadWith(t, key, []byte(bad), md)
	if want := (schemas.Counts{Rows: 4, Created: 3, Rejected: 1}); first.Status != schemas.StatusRequiresIntervention || first.Counts != want {
		t.Errorf("first upload: got %s %+v, want %s %+v", first.Status, first.Counts, schemas.StatusRequiresIntervention, want)
	}
	if got := clientEmails(t, "acme", "@abort.example"); len(got) != 0 {
		t.Errorf("clients loaded by an import that requires intervention: %v, want none", got)
	}
	msgs := mailsAbout(t, who, "abort.csv")
	if len(msgs) != 1 {
		t.Fatalf("requires-intervention emails: got %d, want 1", len(msgs))
	}
	if text := msgs[0].Text; !strings.Contains(text, "No row was loaded") || !strings.Contains(text, key) {
		t.Errorf("requires-intervention email:\n%s\nwant it to say nothing was loaded, and where to upload again", text)
	}
	if report := string(msgs[0].Attachments["errors-abort.csv"]); !strings.Contains(report, schemas.MsgFormat) {
		t.Errorf("requires-intervention report:\n%s\nwant the reason", report)
	}

	fixed := strings.Replace(bad, "cy@@", "cy@", 1)
	second := uploadWith(t, key, []byte(fixed), md)
	if want := (schemas.Counts{Rows: 4, Created: 4}); second.Status != schemas.StatusCompleted || second.Counts != want {
		t.Errorf("corrected upload: got %s %+v, want completed %+v", second.Status, second.Counts, want)
	}
	want := []string{"ada@abort.example", "bea@abort.example", "cy@abort.example", "dot@abort.example"}
	if got := clientEmails(t, "acme", "@abort.example"); !slices.Equal(got, want) {
		t.Errorf("clients after the corrected upload: %v, want %v", got, want)
	}

	badOption := uploadWith(t, "acme/clients/abort-bad.csv", []byte(fixed), map[string]string{"on-error": "skip"})
	if badOption.Status != schemas.StatusRejected || badOption.ReasonCode != schemas.CodeBadOption {
		t.Errorf("on-error skip: got %s %q, want rejected %q", badOption.Status, badOption.ReasonCode, schemas.CodeBadOption)
	}
}

// TestCancelByDeleting: deleting a file while it is imported stops its
// import (seed 003's stop button): the rows loaded before stay, every other
// row is rejected as cancelled, each row exactly once.
func TestCancelByDeleting(t *testing.T) {
	t.Parallel()
	const key, rows = "initech/clients/big.csv", 3000
	id := startBigImport(t, key, rows, "")
	if _, err := partner(key).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	var got imp
	err := parts.WaitFor(context.Background(), 300*time.Second, func() (bool, error) {
		got = importsOf(t, key)[id]
		return schemas.FinalStatus(got.Status), nil
	})
	if err != nil {
		t.Fatalf("import %s did not end: %v (%+v)", id, err, got)
	}
	checkCancelled(t, key, id, rows)
}

// startBigImport uploads, as its tenant, a clients file of rows rows to
// key (users at @<tenant>-cancel.example), long enough to be cancelled
// while it runs, and returns its import's id once load has loaded some of
// its rows.
func startBigImport(t *testing.T, key string, rows int, uploader string) string {
	t.Helper()
	tenant, _, _ := strings.Cut(key, "/")
	var b strings.Builder
	b.WriteString("firstName,email\n")
	for i := range rows {
		fmt.Fprintf(&b, "P%d,p%d@%s-cancel.example\n", i, i, tenant)
	}
	ctx := context.Background()
	before := importsOf(t, key)
	in := &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key), Body: strings.NewReader(b.String())}
	if uploader != "" {
		in.Metadata = map[string]string{"uploader": uploader}
	}
	if _, err := partner(key).PutObject(ctx, in); err != nil {
		t.Fatal(err)
	}
	var id string
	err := parts.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		for i := range importsOf(t, key) {
			if _, old := before[i]; !old {
				id = i
			}
		}
		if id == "" {
			return false, nil
		}
		var n uint64
		err := stack.ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.import_rows WHERE import_id = ?", id).Scan(&n)
		return n > 0, err
	})
	if err != nil {
		t.Fatalf("no row of %s loaded: %v", key, err)
	}
	return id
}

// checkCancelled checks that the import id of the startBigImport file at
// key ended cancelled: some rows loaded, every other row rejected as
// cancelled, each row audited once.
func checkCancelled(t *testing.T, key, id string, rows int) {
	t.Helper()
	ctx := context.Background()
	got := importsOf(t, key)[id]
	k := got.Counts
	if got.Status != schemas.StatusCancelled || k.Rows != rows || k.Created+k.Rejected != rows || k.Created == 0 || k.Rejected == 0 {
		t.Fatalf("got %s %+v, want cancelled, %d rows, some created and the rest rejected", got.Status, k, rows)
	}
	var cancelled, audited uint64
	if err := stack.ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.import_rejections FINAL WHERE import_id = ? AND has(codes, ?)", id, schemas.CodeCancelled).
		Scan(&cancelled); err != nil {
		t.Fatal(err)
	}
	if err := stack.ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.import_rows FINAL WHERE import_id = ?", id).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if int(cancelled) != k.Rejected || int(audited) != rows {
		t.Errorf("audit: %d rows rejected as cancelled, %d rows audited; want %d and %d", cancelled, audited, k.Rejected, rows)
	}
	tenant, _, _ := strings.Cut(key, "/")
	if loaded := len(clientEmails(t, tenant, "@"+tenant+"-cancel.example")); loaded != k.Created {
		t.Errorf("%d clients loaded, the import says %d", loaded, k.Created)
	}
	t.Logf("cancelled after %d of %d rows", k.Created, rows)
}
