package testkit

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
)

// ClusterSize is how many nodes NATSCluster starts: the fewest with which
// a replicated stream (3 replicas) keeps a quorum when one node is down.
const ClusterSize = 3

// Cluster is an embedded NATS JetStream cluster on loopback (NATSCluster).
type Cluster struct {
	// Nodes are the cluster's servers; a test may shut one down.
	Nodes []*server.Server
}

// URL is the nodes' client URLs, separated by commas, as SLUICE_NATS_URL
// lists a cluster's.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, ns := range c.Nodes {
		urls[i] = ns.ClientURL()
	}
	return strings.Join(urls, ",")
}

// StreamLeader is the node that leads stream (in the global account, which
// sluice's streams are in when the server has no accounts), or nil while
// it has no leader.
func (c *Cluster) StreamLeader(stream string) *server.Server {
	for _, ns := range c.Nodes {
		if ns.Running() && ns.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return ns
		}
	}
	return nil
}

// metaLeader is the node that leads the cluster's JetStream metadata (the
// one that places streams on nodes), or nil while there is none.
func (c *Cluster) metaLeader() *server.Server {
	for _, ns := range c.Nodes {
		if ns.Running() && ns.JetStreamIsLeader() {
			return ns
		}
	}
	return nil
}

// NATSCluster starts an embedded NATS JetStream cluster of ClusterSize
// nodes, stopped when the test ends, and returns once it has a metadata
// leader that counts every node as a JetStream peer. It has no streams:
// the test creates them, with 3 replicas, as `sluice migrate` does.
//
// The route ports are picked and reserved first, so that every node lists
// every route (its own included, as nats-server's tests do) from the
// start; the client ports are free ones.
func NATSCluster(t testing.TB) *Cluster {
	t.Helper()
	routes := make([]*url.URL, ClusterSize)
	ports := make([]int, ClusterSize)
	for i := range ports {
		p, err := parts.FreePort()
		if err != nil {
			t.Fatalf("testkit: %v", err)
		}
		ports[i] = p
		routes[i] = &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)}
	}
	c := &Cluster{}
	dir := t.TempDir()
	for i, port := range ports {
		opts := bus.ServerOptions(-1, filepath.Join(dir, fmt.Sprintf("n%d", i+1)))
		opts.ServerName = fmt.Sprintf("n%d", i+1)
		opts.Cluster = server.ClusterOpts{Name: "sluice", Host: "127.0.0.1", Port: port}
		opts.Routes = routes
		ns, err := bus.StartServer(opts)
		if err != nil {
			t.Fatalf("testkit: node %d: %v", i+1, err)
		}
		t.Cleanup(ns.Shutdown)
		c.Nodes = append(c.Nodes, ns)
	}
	// Elections take a few seconds (more on a busy machine): generous.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if l := c.metaLeader(); l != nil && len(l.JetStreamClusterPeers()) == ClusterSize {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("testkit: the NATS cluster has no JetStream leader with %d peers after 60s", ClusterSize)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
