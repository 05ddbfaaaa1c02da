package parts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
)

// zooKeeperJar is Debian's ZooKeeper (package zookeeper), whose manifest
// names the jars it needs; zooKeeperLogger (Debian's libslf4j-java, which
// zookeeper depends on) logs its warnings to zookeeper.log (without it,
// nothing is logged).
const (
	zooKeeperJar    = "/usr/share/java/zookeeper.jar"
	zooKeeperLogger = "/usr/share/java/slf4j-simple.jar"
)

// StartZooKeeper starts Debian's ZooKeeper, standalone, with its data in dir
// and its clients on 127.0.0.1:port: ClickHouse 18.16 keeps its replicas'
// state and its distributed DDL queue there. It runs the server's class
// with java directly (the packaged zkServer.sh wants /etc and /var), in a
// small heap, with its admin server off (it would take port 8080).
func StartZooKeeper(ctx context.Context, dir string, port int) (*Part, error) {
	java, err := FindBinary("java")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(zooKeeperJar); err != nil {
		return nil, fmt.Errorf("parts: zookeeper is not installed (run scripts/parts.sh install): %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("parts: %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=1000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=srvr\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("parts: %w", err)
	}
	p, err := startOn(ctx, "zookeeper", addr, dir, nil, zooKeeperReady(addr), java,
		"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", zooKeeperJar+":"+zooKeeperLogger, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	if err != nil {
		return nil, err
	}
	p.Addr = addr
	return p, nil
}

// zooKeeperReady is a ready check: ZooKeeper at addr serves requests. It
// answers "ruok" before it does (a session asked for meanwhile is closed,
// which 18.16 does not survive), so the check asks "srvr", which says
// whether it serves.
func zooKeeperReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("srvr")); err != nil {
			return err
		}
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(b), "Zookeeper version") {
			return fmt.Errorf("zookeeper answers %q", b)
		}
		return nil
	}
}

// ClickHouseCluster is a ClickHouse cluster on loopback: ZooKeeper, and
// shards x replicas servers, each a StartClickHouse with its own ports,
// folder and macros, all naming every node in remote_servers, with sluice's
// database migrated on the cluster (warehouse.MigrateCluster).
type ClickHouseCluster struct {
	// Config has the cluster's name, and every node's address (the first
	// node first).
	Config platform.ClickHouseConfig
	// Conn is the migration user's connection, Load and Notify those of
	// load's and notify's users, as in ClickHouse.
	Conn, Load, Notify driver.Conn
	// Nodes are the servers, shard by shard: shard 1's replicas, then shard
	// 2's.
	Nodes     []*ClusterNode
	ZooKeeper *Part
}

// ClusterNode is a server of a ClickHouseCluster.
type ClusterNode struct {
	// Shard and Replica number the node from 1 (its macros: shard 01,
	// replica r1).
	Shard, Replica int
	Addr           string
	Part           *Part

	dir, database, config string
	port                  int
}

// Stop stops the node; Start starts it again with its data.
func (n *ClusterNode) Stop() { n.Part.Stop() }

// Kill ends the node at once, as a crash would.
func (n *ClusterNode) Kill() { n.Part.Kill() }

// Start starts the node, on its ports, with its data. A node started again
// (after Stop or Kill) is first told to reconcile its parts with
// ZooKeeper's (flags/force_restore_data, as ClickHouse asks after a
// crash): a kill can leave it parts that ZooKeeper never recorded, and
// 18.16 then refuses to attach the replicated table, and to start.
func (n *ClusterNode) Start(ctx context.Context) error {
	if n.Part != nil {
		flags := filepath.Join(n.dir, "data", "flags")
		if err := os.MkdirAll(flags, 0o755); err != nil {
			return fmt.Errorf("parts: %w", err)
		}
		if err := os.WriteFile(filepath.Join(flags, "force_restore_data"), nil, 0o644); err != nil {
			return fmt.Errorf("parts: %w", err)
		}
	}
	users := []string{clickHouseUsers(), filepath.Join(RepoRoot(), "deploy", "clickhouse", "cluster", "users.d")}
	part, err := startClickHouse(ctx, n.dir, n.port, users, n.database, n.config)
	if err != nil {
		return fmt.Errorf("parts: clickhouse shard %d replica %d: %w", n.Shard, n.Replica, err)
	}
	n.Part = part
	return nil
}

// ShardOf is the shard (from 1) that stores the rows whose sharding key is
// cityHash64(key) (a tenant, or an import_id), as the servers hash it: the
// shards are in remote_servers' order, each of weight 1.
func (c *ClickHouseCluster) ShardOf(ctx context.Context, key string) (int, error) {
	var h uint64
	if err := c.Conn.QueryRow(ctx, "SELECT toUInt64(cityHash64(?) % ?)", key, c.Nodes[len(c.Nodes)-1].Shard).Scan(&h); err != nil {
		return 0, fmt.Errorf("parts: the shard of %q: %w", key, err)
	}
	return int(h) + 1, nil
}

// NewClickHouseCluster starts ZooKeeper and a cluster named name of shards x
// replicas ClickHouse servers in dir, on free loopback ports, and migrates
// it as the migration user; the returned func stops it all.
func NewClickHouseCluster(dir, name string, shards, replicas int) (*ClickHouseCluster, func(), error) {
	ctx := context.Background()
	base, err := platform.LoadConfig(func(string) string { return "" })
	if err != nil {
		return nil, nil, err
	}
	c := &ClickHouseCluster{Config: base.ClickHouse}
	c.Config.Cluster = name
	stop := func() {
		closeAll(c.Conn, c.Load, c.Notify)
		// 18.16 takes seconds to stop: all at once.
		var wg sync.WaitGroup
		for _, n := range c.Nodes {
			wg.Go(n.Stop)
		}
		wg.Wait()
		c.ZooKeeper.Stop()
	}
	ports, err := distinctPorts(1 + 2*shards*replicas)
	if err != nil {
		return nil, nil, err
	}
	if c.ZooKeeper, err = StartZooKeeper(ctx, filepath.Join(dir, "zookeeper"), ports[0]); err != nil {
		return nil, nil, err
	}
	var nodes []*ClusterNode
	for s := 1; s <= shards; s++ {
		for r := 1; r <= replicas; r++ {
			i := len(nodes)
			n := &ClusterNode{Shard: s, Replica: r, port: ports[1+2*i], database: c.Config.Database,
				dir: filepath.Join(dir, fmt.Sprintf("clickhouse-s%dr%d", s, r))}
			n.Addr = fmt.Sprintf("127.0.0.1:%d", n.port)
			nodes = append(nodes, n)
		}
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		// Each node's HTTP port is its native port + 1 (StartClickHouse);
		// its interserver port serves the replicas' fetches.
		n.config = clusterConfig(name, c.ZooKeeper.Addr, nodes, n, ports[2+2*i])
		addrs[i] = n.Addr
	}
	c.Config.Addr = strings.Join(addrs, ",")
	// The servers start at once: one after another takes four times as
	// long.
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Start(ctx) })
	}
	wg.Wait()
	for _, n := range nodes {
		if n.Part != nil {
			c.Nodes = append(c.Nodes, n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		stop()
		return nil, nil, err
	}
	if c.Conn, c.Load, c.Notify, err = migrateAndConnect(ctx, c.Config, base.PersonalDataTTL); err != nil {
		stop()
		return nil, nil, err
	}
	return c, stop, nil
}

// clusterConfig is the server configuration of node me (config.d): its
// interserver port, its macros, ZooKeeper at zk, the cluster name of every
// node (each shard writes to one replica, which the others copy:
// internal_replication), and caches sized for four servers on two cores.
// Its ZooKeeper session times out in 6 s, not 30: a replica that restarts
// after a crash waits for its old session to end before it replicates
// again.
func clusterConfig(name, zk string, nodes []*ClusterNode, me *ClusterNode, interserverPort int) string {
	zkHost, zkPort, _ := net.SplitHostPort(zk)
	var shards strings.Builder
	for i, n := range nodes {
		if i == 0 || nodes[i-1].Shard != n.Shard {
			shards.WriteString("<shard><internal_replication>true</internal_replication>")
		}
		host, port, _ := net.SplitHostPort(n.Addr)
		fmt.Fprintf(&shards, "<replica><host>%s</host><port>%s</port></replica>", host, port)
		if i == len(nodes)-1 || nodes[i+1].Shard != n.Shard {
			shards.WriteString("</shard>")
		}
	}
	return fmt.Sprintf(`<yandex>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>%d</interserver_http_port>
    <zookeeper replace="1"><node><host>%s</host><port>%s</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>
    <macros replace="1"><shard>%02d</shard><replica>r%d</replica></macros>
    <remote_servers replace="1"><%s>%s</%s></remote_servers>
    <mark_cache_size replace="1">67108864</mark_cache_size>
    <uncompressed_cache_size replace="1">67108864</uncompressed_cache_size>
</yandex>
`, interserverPort, zkHost, zkPort, me.Shard, me.Replica, name, shards.String(), name)
}

// distinctPorts returns n free loopback ports, no two the same, each
// followed by a free one (ClickHouse's HTTP port is its native port + 1).
func distinctPorts(n int) ([]int, error) {
	taken := map[int]bool{}
	var ports []int
	for len(ports) < n {
		p, err := FreePortPair()
		if err != nil {
			return nil, err
		}
		if taken[p] || taken[p+1] {
			continue
		}
		taken[p], taken[p+1] = true, true
		ports = append(ports, p)
	}
	return ports, nil
}
