package bus_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// handled is what a test stage's handler saw: each message's UUID, its
// chunk's import, and the poison headers it still had.
type handled struct {
	mu     sync.Mutex
	uuids  []string
	poison []string
}

func (h *handled) all() (uuids, poison []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.uuids...), append([]string(nil), h.poison...)
}

// TestReplay: a chunk validate gave up on is listed with its stage, import,
// chunk and reason, beside the import's dead letter; once the cause is
// fixed, its replay reaches validate under a new Msg-Id (the original is a
// duplicate to the stream), with its Content-Type and without the poison
// headers; a second replay is refused unless forced, and a dead letter is
// not replayed.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	_, nc := testkit.NATS(t)
	js, _ := nc.JetStream()
	var broken atomic.Bool
	broken.Store(true)
	var seen handled
	stop := runStage(t, nc, schemas.StageValidate, func(msg *message.Message) error {
		if broken.Load() {
			return errors.New("clickhouse: UNKNOWN_TABLE")
		}
		if _, _, err := bus.DecodeChunk(msg); err != nil {
			return err
		}
		seen.mu.Lock()
		defer seen.mu.Unlock()
		seen.uuids = append(seen.uuids, msg.UUID)
		seen.poison = append(seen.poison, msg.Metadata.Get(middleware.ReasonForPoisonedKey))
		return nil
	})
	defer stop()

	pub, err := bus.NewPublisher(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	imp := schemas.Import{ID: "imp1", Tenant: "acme", Dataset: "clients"}
	original := schemas.MsgID(imp.ID, schemas.StageIngest, 2)
	c := &schemas.Chunk{Import: imp, Number: 2, FirstRow: 5, Rows: []schemas.Row{{N: 5, Cells: []string{"a"}}}}
	if err := bus.Publish(pub, schemas.DLQRowsSubject(imp.Tenant, imp.Dataset), schemas.MsgID(imp.ID, schemas.TokenValidateDLQ, 1),
		schemas.DLQRows{Import: imp, Chunk: 1, Rejected: []schemas.Rejected{{N: 3, Violations: []schemas.Violation{{Column: "email", Code: "format"}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishChunk(pub, schemas.RawRowsSubject(imp.Tenant, imp.Dataset), original, c); err != nil {
		t.Fatal(err)
	}

	dlq, err := bus.NewDLQ(nc)
	if err != nil {
		t.Fatal(err)
	}
	var poisoned bus.DLQEntry
	err = parts.WaitFor(ctx, 15*time.Second, func() (bool, error) {
		entries, err := dlq.List(ctx, bus.DLQFilter{Kind: bus.KindPoison, Import: imp.ID})
		if len(entries) == 1 {
			poisoned = entries[0]
		}
		return len(entries) == 1, err
	})
	if err != nil {
		t.Fatalf("no poison entry: %v", err)
	}
	want := bus.DLQEntry{Seq: poisoned.Seq, Kind: bus.KindPoison, Stage: schemas.StageValidate, Import: imp.ID, Tenant: imp.Tenant, Dataset: imp.Dataset,
		Chunk: 2, Reason: "clickhouse: UNKNOWN_TABLE", Time: poisoned.Time, MsgID: original, Subject: schemas.RawRowsSubject(imp.Tenant, imp.Dataset)}
	if !equalEntries(poisoned, want) {
		t.Errorf("poison entry:\n got %+v\nwant %+v", poisoned, want)
	}
	if time.Since(poisoned.Time) > time.Minute {
		t.Errorf("poison entry time: got %v", poisoned.Time)
	}

	t.Run("list filters", func(t *testing.T) {
		cases := []struct {
			name   string
			filter bus.DLQFilter
			want   []string // kind:stage:chunk
		}{
			{name: "all", filter: bus.DLQFilter{}, want: []string{"rows:validate:1", "poison:validate:2"}},
			{name: "import", filter: bus.DLQFilter{Import: imp.ID}, want: []string{"rows:validate:1", "poison:validate:2"}},
			{name: "other import", filter: bus.DLQFilter{Import: "imp2"}},
			{name: "stage", filter: bus.DLQFilter{Stage: schemas.StageLoad}},
			{name: "reason any case", filter: bus.DLQFilter{Reason: "unknown_table"}, want: []string{"poison:validate:2"}},
			{name: "dead letter reason", filter: bus.DLQFilter{Reason: "email:format"}, want: []string{"rows:validate:1"}},
			{name: "kind", filter: bus.DLQFilter{Kind: bus.KindRows}, want: []string{"rows:validate:1"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				entries, err := dlq.List(ctx, tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range entries {
					got = append(got, e.Kind+":"+e.Stage+":"+strconv.Itoa(e.Chunk))
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	})

	// The original Msg-Id is still in the ROWS stream's duplicate window:
	// published again as it was, the chunk would be dropped.
	dup := nats.NewMsg(schemas.RawRowsSubject(imp.Tenant, imp.Dataset))
	dup.Header.Set(nats.MsgIdHdr, original)
	if ack, err := js.PublishMsg(dup); err != nil || !ack.Duplicate {
		t.Fatalf("the original Msg-Id again: got %+v %v, want a duplicate", ack, err)
	}

	broken.Store(false) // the cause is fixed
	r, err := dlq.Replay(ctx, poisoned.Seq, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := original + ".replay." + strconv.FormatUint(poisoned.Seq, 10) + ".1"; r.MsgID != want || r.N != 1 || r.Subject != poisoned.Subject {
		t.Errorf("replay: got %+v, want Msg-Id %s, n 1, subject %s", r, want, poisoned.Subject)
	}
	waitHandled(t, &seen, 1)
	uuids, reasons := seen.all()
	if uuids[0] != r.MsgID || reasons[0] != "" {
		t.Errorf("replayed message: got UUID %q and poison reason %q, want UUID %q and no poison headers", uuids[0], reasons[0], r.MsgID)
	}

	if _, err := dlq.Replay(ctx, poisoned.Seq, false); !errors.Is(err, bus.ErrReplayed) {
		t.Errorf("second replay: got %v, want %v", err, bus.ErrReplayed)
	}
	entries, err := dlq.List(ctx, bus.DLQFilter{Kind: bus.KindPoison})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || len(entries[0].Replays) != 1 || entries[0].Replays[0].MsgID != r.MsgID {
		t.Errorf("listed after the replay: got %+v, want the entry with its replay", entries)
	}

	forced, err := dlq.Replay(ctx, poisoned.Seq, true)
	if err != nil {
		t.Fatal(err)
	}
	if forced.N != 2 || forced.MsgID == r.MsgID {
		t.Errorf("forced replay: got %+v, want n 2 under a new Msg-Id", forced)
	}
	waitHandled(t, &seen, 2)

	rows, err := dlq.List(ctx, bus.DLQFilter{Kind: bus.KindRows})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dlq.Replay(ctx, rows[0].Seq, false); !errors.Is(err, bus.ErrNotPoison) {
		t.Errorf("replay of a dead letter: got %v, want %v", err, bus.ErrNotPoison)
	}
}

// TestReplayPoisonedAgain: a replayed message that fails again is poisoned
// again, not dropped as a duplicate of its first poisoning, and its new
// entry names the one it replays.
func TestReplayPoisonedAgain(t *testing.T) {
	ctx := context.Background()
	_, nc := testkit.NATS(t)
	stop := runStage(t, nc, schemas.StageValidate, func(*message.Message) error { return errors.New("still broken") })
	defer stop()
	publishChunk(t, nc, "imp1") // on the raw rows, as validate consumes them
	dlq, err := bus.NewDLQ(nc)
	if err != nil {
		t.Fatal(err)
	}
	poisonEntries := func(n int) []bus.DLQEntry {
		t.Helper()
		var entries []bus.DLQEntry
		err := parts.WaitFor(ctx, 15*time.Second, func() (bool, error) {
			var err error
			entries, err = dlq.List(ctx, bus.DLQFilter{Kind: bus.KindPoison})
			return len(entries) >= n, err
		})
		if err != nil {
			t.Fatalf("poison entries: got %d, want %d: %v", len(entries), n, err)
		}
		return entries
	}
	first := poisonEntries(1)[0]
	if _, err := dlq.Replay(ctx, first.Seq, false); err != nil {
		t.Fatal(err)
	}
	again := poisonEntries(2)[1]
	if again.ReplayOf != first.Seq || again.Import != "imp1" || again.Reason != "still broken" {
		t.Errorf("poisoned again: got %+v, want a replay of %d", again, first.Seq)
	}
}

// runStage runs the router of a stage called name (its durable consumer
// too) with handler h on the raw rows, as validate's, until the returned
// stop is called.
func runStage(t *testing.T, nc *nats.Conn, name string, h message.NoPublishHandlerFunc) (stop func()) {
	t.Helper()
	m, err := platform.NewMetrics(prometheus.NewRegistry(), name)
	if err != nil {
		t.Fatal(err)
	}
	c := bus.Consumer{Name: name, Stream: schemas.StreamRows, Subject: schemas.SubjectRawRows, MaxDeliver: 3, MaxBackoff: time.Second}
	js, _ := nc.JetStream()
	if err := bus.EnsureConsumer(js, c); err != nil { // as sluice migrate does
		t.Fatal(err)
	}
	r, err := bus.NewRunner(name, nc, c, m, slog.New(slog.DiscardHandler), h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-r.Running()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
	}
}

func waitHandled(t *testing.T, h *handled, n int) {
	t.Helper()
	err := parts.WaitFor(context.Background(), 10*time.Second, func() (bool, error) {
		uuids, _ := h.all()
		return len(uuids) >= n, nil
	})
	if err != nil {
		t.Fatalf("replayed messages handled: want %d: %v", n, err)
	}
}

func equalEntries(a, b bus.DLQEntry) bool {
	return a.Seq == b.Seq && a.Kind == b.Kind && a.Stage == b.Stage && a.Import == b.Import && a.Tenant == b.Tenant &&
		a.Dataset == b.Dataset && a.Chunk == b.Chunk && a.Reason == b.Reason && a.MsgID == b.MsgID && a.Subject == b.Subject &&
		a.ReplayOf == b.ReplayOf && len(a.Replays) == len(b.Replays)
}
