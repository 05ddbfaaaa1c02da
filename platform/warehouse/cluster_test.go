package warehouse_test

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform/parts"
)

// The cluster tests share one ClickHouse cluster (ZooKeeper, 2 shards x 2
// replicas), started by the first of them and stopped when the package's
// tests end: it takes a while to start, and four servers are a lot for
// this machine.
var cluster struct {
	once    sync.Once
	c       *parts.ClickHouseCluster
	stop    func()
	err     error
	dir     string
	started time.Duration
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster.stop != nil {
		cluster.stop()
	}
	if cluster.dir != "" {
		os.RemoveAll(cluster.dir)
	}
	os.Exit(code)
}

// clickHouseCluster returns the package's cluster, started on first use.
func clickHouseCluster(t *testing.T) *parts.ClickHouseCluster {
	t.Helper()
	cluster.once.Do(func() {
		if cluster.dir, cluster.err = os.MkdirTemp("", "sluice-cluster-"); cluster.err != nil {
			return
		}
		start := time.Now()
		cluster.c, cluster.stop, cluster.err = parts.NewClickHouseCluster(cluster.dir, "sluice", 2, 2)
		cluster.started = time.Since(start)
	})
	if cluster.err != nil {
		t.Fatalf("cluster: %v", cluster.err)
	}
	t.Logf("cluster started in %s", cluster.started.Round(time.Millisecond))
	return cluster.c
}

func TestClusterMigrate(t *testing.T) {
	c := clickHouseCluster(t)
	_ = c
}
