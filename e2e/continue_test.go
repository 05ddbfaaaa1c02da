package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// sluiceCommand runs `sluice args...` against the stack (its NATS, and its
// ClickHouse as the read-only user) and returns its output and whether it
// exited 0.
func sluiceCommand(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(stack.bin, args...)
	cmd.Env = append(os.Environ(), "SLUICE_NATS_URL="+stack.nc.ConnectedUrl(), "SLUICE_CLICKHOUSE_ADDR="+stack.ch.Config.Addr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("sluice %v: %v", args, err)
	}
	return out.String(), err == nil
}

// rowOutcomes returns each audited row of the import with its outcome, as
// "row:outcome", in row order; a row audited twice shows twice.
func rowOutcomes(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	query(t, "SELECT row, toString(outcome) FROM sluice.import_rows FINAL WHERE import_id = ? ORDER BY row", func(r driver.Rows) error {
		var n uint32
		var o string
		err := r.Scan(&n, &o)
		out = append(out, fmt.Sprintf("%d:%s", n, o))
		return err
	}, id)
	return out
}

// TestContinueAfterIntervention: seed 002's "Continue". An import that
// stops on errors holds its good rows back; `sluice continue` loads them
// (a new client, and an update of an existing one) and leaves the bad row
// rejected: the import ends completed_with_errors with the counts load
// decided, and the uploader gets a second summary that says so. Continuing
// it again is refused, a duplicate of its event (as a restarted notify
// would see it) loads and mails nothing more, and an import in any other
// status is refused.
func TestContinueAfterIntervention(t *testing.T) {
	t.Parallel()
	const key, who = "acme/clients/continue.csv", "continue@acme.example"
	before := upload(t, "acme/clients/continue-before.csv", []byte("firstName,email\nEve,eve@continue.example\n"), who)
	if before.Status != schemas.StatusCompleted {
		t.Fatalf("first upload: %s, want completed", before.Status)
	}
	md := map[string]string{"on-error": "abort", "uploader": who}
	body := "firstName,email\nAda,ada@continue.example\nCy,cy@@continue.example\nEvelyn,eve@continue.example\nBea,bea@continue.example\n"
	held := uploadWith(t, key, []byte(body), md)
	want := schemas.Counts{Rows: 4, Created: 2, Updated: 1, Rejected: 1}
	if held.Status != schemas.StatusRequiresIntervention || held.Counts != want {
		t.Fatalf("abort upload: %s %+v, want %s %+v", held.Status, held.Counts, schemas.StatusRequiresIntervention, want)
	}
	if got := clientNames(t, "@continue.example"); !slices.Equal(got, []string{"eve@continue.example Eve"}) {
		t.Fatalf("clients while held: %v, want only Eve as she was", got)
	}
	if text := mailsAbout(t, who, "continue.csv")[0].Text; !strings.Contains(text, "sluice continue "+held.ID) {
		t.Errorf("requires-intervention email:\n%s\nwant it to say the import may be continued", text)
	}

	out, ok := sluiceCommand(t, "continue", held.ID)
	if !ok || !strings.Contains(out, schemas.StatusCompletedWithErrors) {
		t.Fatalf("sluice continue: ok %v\n%s\nwant it to end completed_with_errors", ok, out)
	}
	continued := importsOf(t, key)[held.ID]
	if continued.Status != schemas.StatusCompletedWithErrors || continued.Counts != want {
		t.Errorf("continued import: %s %+v, want %s %+v", continued.Status, continued.Counts, schemas.StatusCompletedWithErrors, want)
	}
	wantClients := []string{"ada@continue.example Ada", "bea@continue.example Bea", "eve@continue.example Evelyn"}
	if got := clientNames(t, "@continue.example"); !slices.Equal(got, wantClients) {
		t.Errorf("clients after continue: %v, want %v", got, wantClients)
	}
	if got, want := rowOutcomes(t, held.ID), []string{"2:created", "3:rejected", "4:updated", "5:created"}; !slices.Equal(got, want) {
		t.Errorf("audited rows: %v, want %v", got, want)
	}
	summary := continuedMail(t, who, 1)
	for _, s := range []string{"completed with errors", "It was continued", "Created:   2", "Updated:   1", "Rejected:  1", held.ID} {
		if !strings.Contains(summary.Text, s) {
			t.Errorf("continued email:\n%s\nwant it to say %q", summary.Text, s)
		}
	}
	if report := string(summary.Attachments["errors-continue.csv"]); !strings.Contains(report, schemas.MsgFormat) {
		t.Errorf("continued report:\n%s\nwant the rejected row's reason", report)
	}

	// Again: refused. A duplicate of the event (a notify restarted midway
	// sees its event again): nothing more is loaded or mailed.
	if out, ok := sluiceCommand(t, "continue", held.ID); ok || !strings.Contains(out, "was continued already") {
		t.Errorf("second sluice continue: ok %v\n%s\nwant it refused: continued already", ok, out)
	}
	again, _ := json.Marshal(schemas.ImportEvent{Type: schemas.EventContinue, Import: schemas.Import{ID: held.ID}})
	if _, err := stack.js.Publish(schemas.ImportSubject(schemas.EventContinue, held.ID), again, nats.MsgId(held.ID+".redelivered")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // notify handles it
	continuedMail(t, who, 1)
	var written uint64
	if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM sluice.clients WHERE import_id = ?", held.ID).Scan(&written); err != nil {
		t.Fatal(err)
	}
	if written != 3 {
		t.Errorf("client records the continued import wrote: %d, want 3 (each once)", written)
	}

	// Any other status: refused, with the status named.
	if out, ok := sluiceCommand(t, "continue", before.ID); ok || !strings.Contains(out, "is completed: only an import that requires intervention can be continued") {
		t.Errorf("sluice continue of a completed import: ok %v\n%s\nwant it refused", ok, out)
	}
	if out, ok := sluiceCommand(t, "continue", "no-such-import"); ok || !strings.Contains(out, "there is no import no-such-import") {
		t.Errorf("sluice continue of no import: ok %v\n%s\nwant it refused", ok, out)
	}
}

// clientNames returns "email firstName" of the acme clients (FINAL) whose
// email ends with suffix, sorted.
func clientNames(t *testing.T, suffix string) []string {
	t.Helper()
	var out []string
	query(t, "SELECT email, first_name FROM sluice.clients FINAL WHERE tenant = 'acme' AND endsWith(email, ?) ORDER BY email", func(r driver.Rows) error {
		var e, n string
		err := r.Scan(&e, &n)
		out = append(out, e+" "+n)
		return err
	}, suffix)
	return out
}

// continuedMail waits for the continued summaries of continue.csv mailed to
// who, checks there are n, and returns the first.
func continuedMail(t *testing.T, who string, n int) testkit.Message {
	t.Helper()
	var got []testkit.Message
	_ = parts.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		got = nil
		for _, m := range testkit.Messages(t, stack.mail, who) {
			if strings.Contains(m.Subject, "continue.csv") && strings.Contains(m.Text, "It was continued") {
				got = append(got, m)
			}
		}
		return len(got) >= n, nil
	})
	if len(got) != n {
		t.Fatalf("continued summaries: %d, want %d", len(got), n)
	}
	return got[0]
}
