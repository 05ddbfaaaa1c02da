//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/bench/harness"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// defaultRows is the size of the import (CLUSTER_ROWS sets another).
const defaultRows = 200_000

// deadline bounds an import of rows rows, kills included, on a busy 2-core
// machine: 3 minutes, and one more per 20,000 rows.
func deadline(rows int) time.Duration { return 3*time.Minute + time.Duration(rows/20_000)*time.Minute }

// TestClusterImport imports a clients file (2% bad rows) into a cluster
// whose every part is replicated, and kills, during the import: the
// busiest ingest process once the import is received (the one reading the
// file); then, once the first chunk is loaded, the NATS node that leads
// the ROWS stream, a replica of the ClickHouse shard the tenant maps to,
// and the busiest process of validate, transform, load and notify. None is
// started again until the import has ended. Every row must end loaded or
// rejected exactly once, with one summary email, nothing poisoned, and
// every record on both replicas of the tenant's shard (the killed one once
// it is back) and on no other.
//
// MinIO publishes its bucket events to nats-1 only (it takes one address):
// the test moves the ROWS stream's leadership off nats-1 before the upload,
// so that the node it kills is never MinIO's.
func TestClusterImport(t *testing.T) {
	rows := defaultRows
	if v := os.Getenv("CLUSTER_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("CLUSTER_ROWS: want a positive number, got %q", v)
		}
		rows = n
	}
	ctx := context.Background()
	began := time.Now()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := harness.BuildBinaries(parts.RepoRoot(), bin); err != nil {
		t.Fatal(err)
	}
	ch, stopCH, err := parts.NewClickHouseCluster(filepath.Join(dir, "clickhouse"), "sluice", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopCH)
	mail, stopMail, err := parts.NewMailpit(filepath.Join(dir, "mailpit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopMail)
	w := harness.Clients(rows)
	file, err := harness.WriteFile(filepath.Join(dir, "file"), w)
	if err != nil {
		t.Fatal(err)
	}
	tenant := "cluster-e2e"
	p := &harness.Pipeline{Dir: dir, Bin: bin, Cluster: ch, Mail: mail, Tenant: tenant, Contact: tenant + "@cluster.example",
		MaxRows: rows, Instances: 2, NATSNodes: 3, MinIODrives: 4}
	t.Cleanup(p.Stop)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := moveLeaderOff(ctx, p, schemas.StreamRows, "nats-1"); err != nil {
		t.Fatal(err)
	}
	shard, err := ch.ShardOf(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	replica := ch.Nodes[0]
	for _, n := range ch.Nodes {
		if n.Shard == shard {
			replica = n // the shard's last replica: never the first node, which the test's connection reads from
		}
	}
	t.Logf("the cluster started in %s; %d rows (%.1f MiB, %d bad); tenant %s on shard %d",
		time.Since(began).Round(time.Second), rows, file.MiB, file.Bad, tenant, shard)

	events, err := harness.WatchImports(p.NC)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Sub.Unsubscribe()
	cpu := cpuTimes(p)
	start := time.Now()
	importCtx, cancel := context.WithTimeout(ctx, deadline(rows))
	defer cancel()
	killed := make(chan []string, 1)
	replicaDown := false
	go func() { killed <- kill(importCtx, t, p, events, cpu, replica, &replicaDown) }()
	if err := p.Upload(ctx, file.Path, w.DS.Name, p.Contact); err != nil {
		t.Fatal(err)
	}
	wh := &harness.Warehouse{Conn: ch.Conn, Database: ch.Config.Database, Tenant: tenant, DS: w.DS}
	completed := wh.AwaitFinal(importCtx)
	took := time.Since(start)
	cancel()
	kills := <-killed
	t.Logf("killed %s; the import ended %s after the upload began (%s)", strings.Join(kills, ", "), took.Round(100*time.Millisecond),
		events.Timeline(start, 0))
	if !completed {
		t.Errorf("the import did not end in %s", deadline(rows))
	}
	if len(kills) != 7 {
		t.Errorf("killed %d processes, want 7 (ROWS' leader, a ClickHouse replica, one process of each stage)", len(kills))
	}
	emails, _ := harness.AwaitEmails(ctx, mail, p.Contact, start)
	if emails != 1 {
		t.Errorf("%d summary emails, want 1", emails)
	}
	a, err := wh.Audit(ctx)
	if err != nil {
		t.Fatalf("reading the audit: %v", err)
	}
	t.Logf("audit: %+v", a)
	for _, problem := range a.Problems(rows, file.Bad) {
		t.Error(problem)
	}
	if poison := harness.Poisoned(p); poison != "" {
		t.Errorf("poisoned: %s", poison)
	}
	for _, pr := range p.Procs {
		if now := harness.CPUSeconds(pr.Part.Pid()); now >= 0 { // killed: gone
			t.Logf("%-12s %6.1f CPU s", pr.Name, now-cpu[pr.Name])
		}
	}

	// The replica comes back, and copies what its shard took meanwhile. A
	// start is tried twice: its free ports, picked at the start, may have
	// been taken meanwhile by another program of this shared machine.
	for try := 1; replicaDown; try++ {
		err := replica.Start(ctx)
		if err == nil {
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "clickhouse", fmt.Sprintf("clickhouse-s%dr%d", replica.Shard, replica.Replica), "clickhouse.log"))
		if try == 2 {
			t.Fatalf("%v; its log ends:\n%s", err, log[max(0, len(log)-4000):])
		}
		t.Logf("%v, tried again; its log ends:\n%s", err, log[max(0, len(log)-4000):])
		time.Sleep(5 * time.Second)
	}
	checkShards(t, ch, tenant, shard, rows-file.Bad)
	t.Logf("test took %s", time.Since(began).Round(time.Second))
}

// cpuTimes reads every process's CPU time so far, by name.
func cpuTimes(p *harness.Pipeline) map[string]float64 {
	out := map[string]float64{}
	for _, pr := range p.Procs {
		out[pr.Name] = harness.CPUSeconds(pr.Part.Pid())
	}
	return out
}

// busiest is the process of stage that used the most CPU since cpu was
// read: the one at work on the import.
func busiest(p *harness.Pipeline, stage string, cpu map[string]float64) *harness.Proc {
	var best *harness.Proc
	var most float64
	for _, pr := range p.Stages(stage) {
		if used := harness.CPUSeconds(pr.Part.Pid()) - cpu[pr.Name]; best == nil || used > most {
			best, most = pr, used
		}
	}
	return best
}

// kill kills what TestClusterImport says, and returns what it killed;
// replicaDown says whether it killed replica.
func kill(ctx context.Context, t *testing.T, p *harness.Pipeline, events *harness.ImportEvents, cpu map[string]float64,
	replica *parts.ClusterNode, replicaDown *bool) []string {
	var killed []string
	if events.Await(ctx, schemas.EventReceived) != nil {
		return killed
	}
	// A second of reading tells the ingest process at work from the idle one.
	if !harness.Sleep(ctx, time.Second) {
		return killed
	}
	ingest := busiest(p, schemas.StageIngest, cpu)
	ingest.Kill()
	killed = append(killed, ingest.Name)
	if seen(events, schemas.EventIngested) {
		t.Errorf("ingest had read the whole file before %s was killed: a larger CLUSTER_ROWS", ingest.Name)
	}
	if events.Await(ctx, schemas.EventProgress) != nil {
		return killed
	}
	if leader, err := p.StreamLeader(schemas.StreamRows); err != nil {
		t.Errorf("the ROWS stream's leader: %v", err)
	} else {
		leader.Kill()
		killed = append(killed, leader.Name+" (ROWS' leader)")
	}
	replica.Kill()
	*replicaDown = true
	killed = append(killed, fmt.Sprintf("clickhouse shard %d replica %d", replica.Shard, replica.Replica))
	for _, stage := range schemas.Stages[1:] {
		pr := busiest(p, stage, cpu)
		pr.Kill()
		killed = append(killed, pr.Name)
	}
	if seen(events, schemas.EventCompleted) {
		t.Errorf("the import had completed before the kills: a larger CLUSTER_ROWS")
	}
	return killed
}

// seen says whether an event of type typ has come.
func seen(events *harness.ImportEvents, typ string) bool {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	return events.Await(done, typ) == nil
}

// moveLeaderOff asks the leader of stream to step down until a node other
// than node leads it.
func moveLeaderOff(ctx context.Context, p *harness.Pipeline, stream, node string) error {
	return parts.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		leader, err := p.StreamLeader(stream)
		if err != nil {
			return false, nil // no leader yet
		}
		if leader.Name != node {
			return true, nil
		}
		_, err = p.NC.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 10*time.Second)
		return false, err
	})
}

// checkShards checks each node's own clients_local: good records of the
// tenant on both replicas of its shard (waiting for a replica that was
// down to catch up), none on the other shard.
func checkShards(t *testing.T, c *parts.ClickHouseCluster, tenant string, shard, good int) {
	t.Helper()
	for _, n := range c.Nodes {
		cfg := c.Config
		cfg.Addr, cfg.Cluster = n.Addr, ""
		conn, err := warehouse.Open(context.Background(), cfg, cfg.Migrate)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if n.Shard == shard {
			want = good
		}
		var got uint64
		err = parts.WaitFor(context.Background(), 3*time.Minute, func() (bool, error) {
			err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.%s_local FINAL WHERE tenant = ?", cfg.Database, schemas.Clients.Table),
				tenant).Scan(&got)
			return err == nil && int(got) == want, nil
		})
		conn.Close()
		if err != nil {
			t.Errorf("shard %d replica %d holds %d records of %s (shard %d), want %d", n.Shard, n.Replica, got, tenant, shard, want)
		}
	}
}
