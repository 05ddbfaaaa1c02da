package bus_test

import (
	"testing"
	"time"

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
	// count polls the request the schedule stored last (the stream keeps
	// one) every 100ms for window, and returns how many were stored, and
	// how many of them less than half a tick after the one before: the
	// sequence moved by more than one between two polls that close.
	count := func(window time.Duration) (fired, together int) {
		var last uint64
		var lastAt time.Time
		for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			m, err := js.GetLastMsg(schemas.StreamSync, schemas.SubjectSyncRun)
			if err != nil {
				continue // none yet, or no leader: ask again
			}
			if last != 0 {
				fired += int(m.Sequence - last)
				if m.Sequence > last+1 && time.Since(lastAt) < 500*time.Millisecond {
					together += int(m.Sequence - last - 1)
				}
			}
			last, lastAt = m.Sequence, time.Now()
		}
		return fired, together
	}
	check := func(when string) {
		t.Helper()
		fired, together := count(6 * time.Second)
		t.Logf("%s: %d firings in 6s", when, fired)
		// 6 ticks in 6s: once per node would be 18.
		if fired < 3 || fired > 8 || together > 0 {
			t.Errorf("%s: %d firings in 6s of a schedule @every 1s on %d nodes, %d within half a second of another; want about 6, one per tick",
				when, fired, len(c.Nodes), together)
		}
	}
	check("all nodes up")

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
	check("its leader's node shut down")
}
