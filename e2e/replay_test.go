package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// replayFile is a file of the replay tenant: 8 rows in 3 chunks, each with
// good rows, and 2 rows validate rejects (rows 3 and 8).
const replayFile = `firstName,lastName,email
Ada,Lamb,ada@replay.example
,Nobody,nobody@replay.example
Bo,Reed,bo@replay.example
Cy,Hart,cy@replay.example
Di,Moss,di@replay.example
Ed,Pike,ed@replay.example
Fay,Wren,not-an-email
Gil,Frost,gil@replay.example
`

// TestReplayAfterTheCauseIsFixed: with the clients table gone, every load
// chunk of a file is poisoned (UNKNOWN_TABLE, permanent) and the import
// cannot complete. Once the table is back, `sluice replay --run all
// --import <id>` re-drives the chunks, and the import completes with exact
// counts: every row loaded or rejected once. A second run has nothing to do.
//
// Serial: it takes the clients table away.
func TestReplayAfterTheCauseIsFixed(t *testing.T) {
	const key = "replay/clients/table-away.csv"
	ctx := context.Background()
	away := true
	restore := func() {
		if away {
			if err := stack.ch.Conn.Exec(ctx, "RENAME TABLE sluice.clients_away TO sluice.clients"); err != nil {
				t.Errorf("restore the clients table: %v", err)
			}
			away = false
		}
	}
	if err := stack.ch.Conn.Exec(ctx, "RENAME TABLE sluice.clients TO sluice.clients_away"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restore) // other tests need it, whatever happens here

	if _, err := partner(key).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key),
		Body: strings.NewReader(replayFile)}); err != nil {
		t.Fatal(err)
	}
	var id string
	var chunks int
	err := parts.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		for _, i := range importsOf(t, key) {
			id, chunks = i.ID, i.Chunks
		}
		return id != "" && chunks > 0, nil
	})
	if err != nil {
		t.Fatalf("import of %s not ingested: %v", key, err)
	}
	if chunks != 3 {
		t.Fatalf("chunks: got %d, want 3", chunks)
	}
	dlq, err := bus.NewDLQ(stack.nc)
	if err != nil {
		t.Fatal(err)
	}
	var poisoned []bus.DLQEntry
	err = parts.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		poisoned, err = dlq.List(ctx, bus.DLQFilter{Kind: bus.KindPoison, Import: id})
		return len(poisoned) == chunks, err
	})
	if err != nil {
		t.Fatalf("poisoned chunks: got %d, want %d: %v", len(poisoned), chunks, err)
	}
	for _, e := range poisoned {
		if e.Stage != schemas.StageLoad || e.Subject != schemas.ReadyRowsSubject("replay", "clients") || e.Replayed() {
			t.Errorf("poison entry: got %+v, want a load chunk to replay on %s", e, schemas.ReadyRowsSubject("replay", "clients"))
		}
	}
	if i := importsOf(t, key)[id]; i.Status == schemas.StatusCompleted || i.Status == schemas.StatusCompletedWithErrors {
		t.Fatalf("import %s with every load chunk poisoned: got %s", id, i.Status)
	}

	restore() // the cause is fixed
	out := sluiceReplay(t, "--import", id)
	t.Logf("sluice replay --import %s:\n%s", id, out)
	if n := strings.Count(out, " poison "); n != chunks || !strings.Contains(out, id) {
		t.Errorf("sluice replay --import %s: got %d poison lines, want %d:\n%s", id, n, chunks, out)
	}
	out = sluiceReplay(t, "--run", "all", "--import", id)
	if !strings.Contains(out, "replayed: 3, failed: 0") {
		t.Fatalf("sluice replay --run all:\n%s", out)
	}

	var got imp
	err = parts.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		got = importsOf(t, key)[id]
		return got.Status == schemas.StatusCompleted || got.Status == schemas.StatusCompletedWithErrors, nil
	})
	if err != nil {
		t.Fatalf("replayed import did not complete: got %+v: %v; sluice up log (tail):\n%s", got, err, tail(readFile(t, stack.log), 3000))
	}
	if want := (schemas.Counts{Rows: 8, Created: 6, Rejected: 2}); got.Status != schemas.StatusCompletedWithErrors || got.Counts != want {
		t.Errorf("replayed import: got %s %+v, want %s %+v", got.Status, got.Counts, schemas.StatusCompletedWithErrors, want)
	}
	var audited, rows, loaded uint64
	if err := stack.ch.Conn.QueryRow(ctx, "SELECT count(), uniqExact(row) FROM sluice.import_rows FINAL WHERE import_id = ?", id).Scan(&audited, &rows); err != nil {
		t.Fatal(err)
	}
	if audited != 8 || rows != 8 {
		t.Errorf("audited rows: got %d (%d distinct), want each of 8 once", audited, rows)
	}
	if err := stack.ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.clients FINAL WHERE tenant = 'replay' AND import_id = ?", id).Scan(&loaded); err != nil {
		t.Fatal(err)
	}
	if loaded != 6 {
		t.Errorf("loaded clients: got %d, want 6", loaded)
	}

	if out := sluiceReplay(t, "--run", "all", "--import", id); !strings.Contains(out, "replayed: 0, failed: 0") {
		t.Errorf("second sluice replay --run all: want nothing to do:\n%s", out)
	}
}

// sluiceReplay runs `sluice replay` with args against the stack's NATS
// server and returns its output.
func sluiceReplay(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(stack.bin, append([]string{"replay"}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_NATS_URL="+stack.nc.ConnectedUrl())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice replay %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}
