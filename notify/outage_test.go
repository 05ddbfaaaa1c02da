package notify_test

import (
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestSMTPOutage runs notify on a real ClickHouse and a real Mailpit that is
// stopped, then started again. The mail of an import that ends during the
// outage waits (a transient error): the event is never poisoned, and the
// mail is sent once Mailpit is back, once; sluice_notify_emails_total
// counts the failed sends and the one sent. An event that does not decode is
// a permanent error: it goes to the poison subject at once.
func TestSMTPOutage(t *testing.T) {
	ch, stopCH, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stopCH()
	mailDir := t.TempDir()
	mp, stopMail, err := parts.NewMailpit(mailDir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stopMail() }()
	_, nc := testkit.NATS(t)
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageNotify)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := notify.Consumer(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons) // as sluice migrate does
	st, err := notify.New(notify.Config{}, nc, &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"},
		notify.SMTP{Addr: mp.SMTPAddr, From: "sluice@test.example"}, platform.Tenants{"acme": {Contact: "partner@acme.example"}}, nil, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	ctx := t.Context()
	js, _ := nc.JetStream()
	poison, err := js.SubscribeSync(schemas.PoisonSubject(schemas.StageNotify), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("permanent", func(t *testing.T) {
		if err := st.Pub.Publish(schemas.ImportSubject(schemas.EventProgress, "garbled"), message.NewMessage("garbled", []byte("{not json"))); err != nil {
			t.Fatal(err)
		}
		if _, err := poison.NextMsg(10 * time.Second); err != nil {
			t.Fatalf("no poison message for an event that does not decode: %v", err)
		}
	})

	t.Run("transient", func(t *testing.T) {
		_, smtpPort, _ := net.SplitHostPort(mp.SMTPAddr)
		_, webPort, _ := net.SplitHostPort(mp.API[len("http://"):])
		stopMail()
		stopMail = func() {}
		const to = "partner@acme.example"
		imp := schemas.Import{ID: "away", Tenant: "acme", Dataset: "clients", Key: "acme/clients/away.csv", FileName: "away.csv", Uploader: to}
		if err := bus.Publish(st.Pub, schemas.ImportSubject(schemas.EventRejected, imp.ID), "away.rejected.0", schemas.ImportEvent{
			Type: schemas.EventRejected, Import: imp, Reason: &schemas.Violation{Code: schemas.CodeEmptyFile, Message: schemas.MsgEmptyFile},
		}); err != nil {
			t.Fatal(err)
		}
		err := parts.WaitFor(ctx, 20*time.Second, func() (bool, error) {
			return testutil.ToFloat64(m.Waiting.WithLabelValues(string(platform.PartSMTP))) >= 2, nil
		})
		if err != nil {
			t.Fatalf("the mail was not put back to wait for SMTP twice: %v", err)
		}
		if msg, err := poison.NextMsg(100 * time.Millisecond); err == nil {
			t.Fatalf("poisoned during the outage: %s", msg.Header.Get(middleware.ReasonForPoisonedKey))
		}
		if n := testutil.ToFloat64(m.Emails.WithLabelValues("summary", "failed")); n < 2 {
			t.Errorf("emails{summary, failed} = %v during the outage, want at least 2", n)
		}
		sp, _ := strconv.Atoi(smtpPort)
		wp, _ := strconv.Atoi(webPort)
		part, err := parts.StartMailpit(ctx, mailDir, sp, wp)
		if err != nil {
			t.Fatal(err)
		}
		stopMail = part.Stop
		var got []testkit.Message
		err = parts.WaitFor(ctx, 90*time.Second, func() (bool, error) {
			got = testkit.Messages(t, mp, to)
			return len(got) > 0, nil
		})
		if err != nil {
			t.Fatalf("no mail once SMTP was back: %v", err)
		}
		time.Sleep(2 * time.Second) // a second mail, if any, would come now
		if got = testkit.Messages(t, mp, to); len(got) != 1 {
			t.Errorf("%d mails to %s, want 1", len(got), to)
		}
		if n := testutil.ToFloat64(m.Emails.WithLabelValues("summary", "sent")); n != 1 {
			t.Errorf("emails{summary, sent} = %v, want 1", n)
		}
		if msg, err := poison.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("poisoned: %s", msg.Header.Get(middleware.ReasonForPoisonedKey))
		}
	})
}
