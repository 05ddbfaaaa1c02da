package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestPoisonedImportFails: when load cannot write an import's chunk for a
// cause retrying cannot mend (its table is gone), the chunk goes to the
// poison subject and the import ends failed, with the reason, its rows
// counted, and one email to the uploader that says the processing did not
// complete. It does not stay processing for good.
//
// Serial: it takes the clients table away.
func TestPoisonedImportFails(t *testing.T) {
	ctx := context.Background()
	if err := stack.ch.Conn.Exec(ctx, "RENAME TABLE sluice.clients TO sluice.clients_away"); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := stack.ch.Conn.Exec(ctx, "RENAME TABLE sluice.clients_away TO sluice.clients"); err != nil {
				t.Errorf("restore the clients table: %v", err)
			}
		}
	}
	t.Cleanup(restore)
	const uploader = "ops@globex.example"
	csv := "firstName,lastName,email\nAnn,Lee,ann.failed@globex.example\nBob,Ray,bob.failed@globex.example\n"
	got := upload(t, "globex/clients/failed.csv", []byte(csv), uploader)
	restore()
	if got.Status != schemas.StatusFailed || got.ReasonCode != schemas.CodeFailed || got.Reason != schemas.MsgFailed(schemas.StageLoad) {
		t.Fatalf("import = %+v, want failed with %q", got, schemas.MsgFailed(schemas.StageLoad))
	}
	if got.Rows != 2 || got.Counts.Created+got.Counts.Updated+got.Counts.Unchanged+got.Counts.Rejected != 0 {
		t.Errorf("rows %d, counts %+v: want 2 rows, none loaded or rejected", got.Rows, got.Counts)
	}
	mails := mailsAbout(t, uploader, "failed.csv")
	if len(mails) != 1 {
		t.Fatalf("%d emails about failed.csv, want 1", len(mails))
	}
	if text := mails[0].Text; !strings.Contains(text, "did not complete") || !strings.Contains(text, "Not processed: 2") {
		t.Errorf("email says:\n%s\nwant that the import did not complete and 2 rows were not processed", text)
	}
}
