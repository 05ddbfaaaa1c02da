package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// TestContinueAfterRestart runs notify on a real ClickHouse, NATS and
// Mailpit. An import requires intervention with two good records staged; a
// notify that handled its continue event loaded them and stopped before it
// saved the status. A new notify gets the event again, twice (the
// redelivery, and a duplicate): the import ends completed_with_errors,
// continued, each record is loaded once (FINAL), and the uploader gets one
// summary.
func TestContinueAfterRestart(t *testing.T) {
	ch, stopCH, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stopCH()
	mp, stopMail, err := parts.NewMailpit(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stopMail()
	ctx := t.Context()
	const to = "ops@acme.example"
	store := &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"}
	imp := schemas.Import{ID: "held", Tenant: "acme", Dataset: "clients", Key: "acme/clients/held.csv", FileName: "held.csv",
		Uploader: to, OnError: schemas.OnErrorAbort, Version: 7 << 20, ReceivedAt: time.Now().UTC().Truncate(time.Second)}
	rec := notify.ImportRecord{Import: imp, Status: schemas.StatusRequiresIntervention, Chunks: 1, Rows: 3,
		Counts: schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, FinishedAt: time.Now().UTC()}
	if err := store.SaveImport(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := ch.Conn.Exec(ctx, fmt.Sprintf(`INSERT INTO sluice.clients_staged (tenant, id, email, first_name, import_id, row, version, loaded_at)
		SELECT 'acme', 'a', 'a@acme.example', 'A', 'held', 2, %[1]d, now() UNION ALL SELECT 'acme', 'b', 'b@acme.example', 'B', 'held', 4, %[1]d, now()`, imp.Version)); err != nil {
		t.Fatal(err)
	}
	// The notify before: it loaded the staged records, then stopped.
	if err := warehouse.CommitStaged(ctx, ch.Notify, "sluice", schemas.Clients, imp.ID); err != nil {
		t.Fatal(err)
	}

	_, nc := testkit.NATS(t)
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageNotify)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := notify.Consumer(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons)
	st, err := notify.New(notify.Config{}, nc, store, notify.SMTP{Addr: mp.SMTPAddr, From: "sluice@test.example"},
		platform.Tenants{"acme": {Contact: to}}, nil, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	for _, id := range []string{"held.continue.0", "held.continue.again"} {
		if err := bus.Publish(st.Pub, schemas.ImportSubject(schemas.EventContinue, imp.ID), id,
			schemas.ImportEvent{Type: schemas.EventContinue, Import: schemas.Import{ID: imp.ID}}); err != nil {
			t.Fatal(err)
		}
	}

	var got notify.ImportRecord
	err = parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
		var err error
		got, _, err = store.Import(context.Background(), imp.ID)
		return got.Resumed == schemas.EventContinue, err
	})
	if err != nil || got.Status != schemas.StatusCompletedWithErrors || got.Counts != rec.Counts {
		t.Fatalf("import after continue: %s %+v resumed %q (%v), want %s %+v, continued", got.Status, got.Counts, got.Resumed, err,
			schemas.StatusCompletedWithErrors, rec.Counts)
	}
	var mails []testkit.Message
	_ = parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
		mails = testkit.Messages(t, mp, to)
		return len(mails) > 0, nil
	})
	time.Sleep(3 * time.Second) // a second mail, if any, would come now
	if mails = testkit.Messages(t, mp, to); len(mails) != 1 || !strings.Contains(mails[0].Text, "It was continued") {
		t.Errorf("%d mails to %s, want 1 continued summary", len(mails), to)
	}
	var loaded, emails uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count(), uniqExact(email) FROM sluice.clients FINAL WHERE tenant = 'acme' AND import_id = ?", imp.ID).
		Scan(&loaded, &emails); err != nil {
		t.Fatal(err)
	}
	if loaded != 2 || emails != 2 {
		t.Errorf("clients loaded: %d (%d emails), want each of 2 once", loaded, emails)
	}
}
