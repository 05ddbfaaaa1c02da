package bus_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestConnectFollowsTheCluster: a connection given one node of a cluster
// learns the others from it, and when that node goes away, reconnects to
// another without being told of it.
func TestConnectFollowsTheCluster(t *testing.T) {
	c := testkit.NATSCluster(t)
	first := c.Nodes[0]
	nc, err := bus.Connect(first.ClientURL(), "test", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := t.Context()
	learnt := func() (bool, error) { return len(nc.DiscoveredServers()) == len(c.Nodes)-1, nil }
	if err := parts.WaitFor(ctx, 20*time.Second, learnt); err != nil {
		t.Fatalf("the connection learnt %v of the cluster, want the %d other nodes", nc.DiscoveredServers(), len(c.Nodes)-1)
	}
	first.Shutdown()
	first.WaitForShutdown()
	moved := func() (bool, error) { return nc.IsConnected() && nc.ConnectedUrl() != first.ClientURL(), nil }
	if err := parts.WaitFor(ctx, 30*time.Second, moved); err != nil {
		t.Fatalf("with its node shut down, the connection is on %q (connected: %v), want another node", nc.ConnectedUrl(), nc.IsConnected())
	}
}

// TestScheduleFiresOncePerCluster puts a schedule that fires every second
// on a SYNC stream of 3 replicas: each tick stores one request for a sync,
// not one per node, and so it goes on once the node that led the stream is
// shut down.
func TestScheduleFiresOncePerCluster(t *testing.T) {
	c := testkit.NATSCluster(t)
	nc, err := bus.Connect(c.URL(), "test", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := bus.EnsureSchedule(t.Context(), nc, 3, bus.Schedule{Cron: "@every 1s"}); err != nil {
		t.Fatal(err)
	}
	js, _ := nc.JetStream()
	info, err := js.StreamInfo(schemas.StreamSync)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("SYNC stream: %d replicas configured, cluster %+v; want 3 on 3 nodes", info.Config.Replicas, info.Cluster)
	}
	var mu sync.Mutex
	var fired []time.Time
	sub, err := js.Subscribe(schemas.SubjectSyncRun, func(m *nats.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fired = append(fired, meta.Timestamp)
	}, nats.OrderedConsumer(), nats.DeliverNew())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	// count returns the firings stored during the next window.
	count := func(window time.Duration) []time.Time {
		mu.Lock()
		from := len(fired)
		mu.Unlock()
		time.Sleep(window)
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), fired[from:]...)
	}
	check := func(when string, got []time.Time, atLeast int) {
		t.Helper()
		t.Logf("%s: %d firings in 6s", when, len(got))
		// 6 ticks in 6s: once per node would be 18.
		if len(got) < atLeast || len(got) > 8 {
			t.Errorf("%s: %d firings in 6s of a schedule @every 1s on %d nodes, want about 6", when, len(got), len(c.Nodes))
		}
		for i := 1; i < len(got); i++ {
			if gap := got[i].Sub(got[i-1]); gap < 500*time.Millisecond {
				t.Errorf("%s: two firings %v apart, want one per tick", when, gap)
			}
		}
	}
	check("all nodes up", count(6*time.Second), 4)

	leader := c.StreamLeader(schemas.StreamSync)
	if leader == nil {
		t.Fatal("the SYNC stream has no leader")
	}
	leader.Shutdown()
	leader.WaitForShutdown()
	newLeader := func() (bool, error) { return c.StreamLeader(schemas.StreamSync) != nil, nil }
	if err := parts.WaitFor(t.Context(), 60*time.Second, newLeader); err != nil {
		t.Fatal("the SYNC stream has no leader after its leader's node was shut down")
	}
	check("its leader's node shut down", count(6*time.Second), 3)
}
