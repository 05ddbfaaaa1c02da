package validate_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/validate"
)

// TestClusterNodeLost runs validate on a 3-node NATS cluster whose streams
// have 3 replicas, while chunks keep coming, and shuts down the node that
// leads the ROWS stream, which validate reads and writes, and validate's
// consumer, in the middle:
// validate goes on, and each chunk is validated exactly once (one valid
// chunk each, none lost, none twice) and taken off the stream.
func TestClusterNodeLost(t *testing.T) {
	const chunks = 300
	c := testkit.NATSCluster(t)
	nc, err := bus.Connect(c.URL(), schemas.StageValidate, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if err := bus.EnsureStreams(js, 3, 0); err != nil {
		t.Fatal(err)
	}
	_, cons := runValidate(t, nc)

	// The chunks come from an ingest of its own connection, one every
	// 10ms, each published until the cluster stores it (as ingest retries).
	in, err := bus.Connect(c.URL(), schemas.StageIngest, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	pub, err := bus.NewPublisher(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	halfway := make(chan struct{})
	go func() {
		for i := range chunks {
			if i == chunks/2 {
				close(halfway)
			}
			id := fmt.Sprintf("imp%03d", i)
			chunk := &schemas.Chunk{Import: schemas.Import{ID: id, Tenant: "acme", Dataset: "clients", Version: 1}, Number: 1, FirstRow: 2,
				Rows: []schemas.Row{{N: 2, Cells: []string{"", "Ann", "", fmt.Sprintf("ann%d@acme.example", i), "", "", "1", "Personal", "2024-01-01"}}}}
			deadline := time.Now().Add(90 * time.Second)
			for {
				err := bus.PublishChunk(pub, schemas.RawRowsSubject("acme", "clients"), schemas.MsgID(id, schemas.StageIngest, 1), chunk)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					published <- fmt.Errorf("chunk %d: %w", i, err)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(10 * time.Millisecond)
		}
		published <- nil
	}()

	<-halfway
	leader := c.StreamLeader(schemas.StreamRows)
	if leader == nil {
		t.Fatal("the ROWS stream has no leader")
	}
	// The node leads validate's consumer too: its deliveries move as well.
	stepdown := fmt.Sprintf(server.JSApiConsumerLeaderStepDownT, schemas.StreamRows, cons.Name)
	leads := func() (bool, error) {
		return leader.JetStreamIsConsumerLeader(server.DEFAULT_GLOBAL_ACCOUNT, schemas.StreamRows, cons.Name), nil
	}
	if ok, _ := leads(); !ok {
		if _, err := nc.Request(stepdown, fmt.Appendf(nil, `{"placement":{"preferred":%q}}`, leader.Name()), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := parts.WaitFor(t.Context(), 30*time.Second, leads); err != nil {
		t.Fatalf("%s does not lead validate's consumer: %v", leader.Name(), err)
	}
	leader.Shutdown()
	if err := <-published; err != nil {
		t.Fatalf("publishing with a node down: %v", err)
	}

	valid := schemas.ValidRowsSubject("acme", "clients")
	raw := schemas.RawRowsSubject("acme", "clients")
	counts := func() (map[string]uint64, error) {
		info, err := js.StreamInfo(schemas.StreamRows, &nats.StreamInfoRequest{SubjectsFilter: ">"})
		if err != nil {
			return nil, nil // no leader yet: ask again
		}
		return info.State.Subjects, nil
	}
	var last map[string]uint64
	done := func() (bool, error) {
		got, err := counts()
		if got != nil {
			last = got
		}
		return got != nil && got[valid] >= chunks && got[raw] == 0, err
	}
	if err := parts.WaitFor(t.Context(), 120*time.Second, done); err != nil {
		t.Fatalf("ROWS after the node was shut down: %v (%v); want %d valid chunks and no raw one left", last, err, chunks)
	}
	// A moment for a late duplicate to show.
	time.Sleep(2 * time.Second)
	if got, _ := counts(); got[valid] != chunks || got[raw] != 0 {
		t.Errorf("ROWS holds %d valid chunks and %d raw ones, want %d and none", got[valid], got[raw], chunks)
	}
	// Each the chunk of its own import: read them back by sequence (a
	// work queue takes no consumer besides the stages').
	info, err := js.StreamInfo(schemas.StreamRows)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		msg, err := js.GetMsg(schemas.StreamRows, seq)
		if err != nil || msg.Subject != valid {
			continue // acked raw chunks are gone
		}
		seen[msg.Header.Get(nats.MsgIdHdr)] = true
	}
	if len(seen) != chunks {
		t.Errorf("%d distinct valid chunks, want %d", len(seen), chunks)
	}
}

// runValidate creates validate's consumer, as sluice migrate does, and
// runs validate on nc until the test ends; it returns the consumer.
func runValidate(t *testing.T, nc *nats.Conn) (*validate.Stage, bus.Consumer) {
	t.Helper()
	cons, err := validate.Consumer(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons)
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageValidate)
	if err != nil {
		t.Fatal(err)
	}
	st, err := validate.New(validate.Config{}, nc, secrets, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	return st, cons
}
