// Package harness runs the pipeline as production does, one process per
// part, for the commands that measure it: bench (its speed) and faults (what
// it keeps when parts are killed). It owns the generated files (clients and
// users, deterministic, exactly 2% bad rows), the binaries, and a pipeline of
// nats-server, MinIO and a `sluice <stage>` per stage that can kill and
// restart any of its processes (one of each, or several of each as a
// cluster runs them); ClickHouse and Mailpit come from platform/parts and
// are shared by the runs. It reads what an import left (check.go) and what
// each process used (/proc); it judges nothing itself.
package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/schemas"
)

// Workload is a file to import: rows of a dataset.
type Workload struct {
	DS     *schemas.Dataset
	Rows   int
	Header []string
	// Row returns the cells of row i (from 1), and whether the row is bad.
	Row func(i int) (cells []string, bad bool)
}

// Clients is a clients file of n rows, every 50th bad.
func Clients(n int) Workload { return Workload{schemas.Clients, n, clientsHeader, clientRow} }

// Users is a users file of n rows, each with its own password, every 50th
// bad.
func Users(n int) Workload { return Workload{schemas.Users, n, usersHeader, userRow} }

// File is a workload's file on disk.
type File struct {
	Path string
	Bad  int // rows that must be rejected
	MiB  float64
}

// WriteFile writes w's file into dir.
func WriteFile(dir string, w Workload) (File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return File{}, err
	}
	f := File{Path: filepath.Join(dir, w.DS.Name+".csv")}
	var err error
	if f.Bad, err = generate(f.Path, w); err != nil {
		return File{}, err
	}
	if st, err := os.Stat(f.Path); err == nil {
		f.MiB = float64(st.Size()) / (1 << 20)
	}
	return f, nil
}

// generate writes the workload's file, and returns how many of its rows are
// bad.
func generate(path string, wl Workload) (bad int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, strings.Join(wl.Header, ","))
	for i := 1; i <= wl.Rows; i++ {
		cells, isBad := wl.Row(i)
		if isBad {
			bad++
		}
		fmt.Fprintln(w, strings.Join(cells, ","))
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return bad, f.Close()
}

var clientsHeader = []string{"ID", "firstName", "lastName", "email", "project", "desk", "active", "type", "created"}

// clientRow is a client row; every 50th is bad, in turns of six kinds, so
// exactly 2% are rejected.
func clientRow(i int) (cells []string, bad bool) {
	first, last := fmt.Sprintf("First%d", i%9973), fmt.Sprintf("Last%d", i%7919)
	email := fmt.Sprintf("user%d@bench.example", i)
	active, created := []string{"True", "False"}[i%2], fmt.Sprintf("2024-%02d-%02dT%02d:%02d:00Z", 1+i%12, 1+i%28, i%24, i%60)
	if i%50 == 0 {
		switch (i / 50) % 6 {
		case 0:
			email = fmt.Sprintf("user%d-at-bench.example", i)
		case 1:
			first = ""
		case 2:
			last = strings.Repeat("L", 51)
		case 3:
			active = "maybe"
		case 4:
			created = "2024-02-30"
		case 5:
			email = fmt.Sprintf("user%d@bench.example", i-1) // a duplicate of the row before
		}
	}
	return []string{fmt.Sprintf("%024x", i), first, last, email, fmt.Sprintf("%024x", i%97), fmt.Sprintf("%024x", i%89),
		active, []string{"Personal", "Corporate", "Partner"}[i%3], created}, i%50 == 0
}

var usersHeader = []string{"login", "password", "email", "phone", "firstName", "lastName", "manager", "mustChangePassword"}

// userRow is a user row with its own password; every 50th is bad, in turns
// of six kinds, so exactly 2% are rejected.
func userRow(i int) (cells []string, bad bool) {
	login, password, email := fmt.Sprintf("user%d", i), fmt.Sprintf("Welcome%d", 1000+i), fmt.Sprintf("user%d@bench.example", i)
	phone, first, manager := fmt.Sprintf("+7 916 %03d-%02d-%02d", i/10000%1000, i/100%100, i%100), fmt.Sprintf("First%d", i%9973), []string{"0", "1"}[i%2]
	if i%50 == 0 {
		switch (i / 50) % 6 {
		case 0:
			password = "Welcome" // no digit: the password policy
		case 1:
			email = fmt.Sprintf("user%d-at-bench.example", i)
		case 2:
			first = ""
		case 3:
			phone = "12"
		case 4:
			manager = "maybe"
		case 5:
			login = fmt.Sprintf("user%d", i-1) // a duplicate of the row before
		}
	}
	return []string{login, password, email, phone, first, fmt.Sprintf("Last%d", i%7919), manager, fmt.Sprint(i % 2)}, i%50 == 0
}

// BuildBinaries builds sluice and nats-server into bin: the pipeline runs
// as separate processes.
func BuildBinaries(root, bin string) error {
	for _, b := range [][]string{
		{"go", "build", "-o", filepath.Join(bin, "sluice"), "./cmd/sluice"},
		{"go", "build", "-o", filepath.Join(bin, "nats-server"), "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.Command(b[0], b[1:]...)
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %v\n%s", b, err, o)
		}
	}
	return nil
}

// WaitForMerges waits until ClickHouse merges nothing: a measurement starts
// from a quiet server, as the merges of an earlier run's parts would
// otherwise take the CPU from it.
func WaitForMerges(ctx context.Context, ch *parts.ClickHouse) error {
	if err := parts.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		var merges uint64
		err := ch.Conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&merges)
		return merges == 0, err
	}); err != nil {
		return fmt.Errorf("waiting for ClickHouse's merges: %w", err)
	}
	return nil
}

// memoryLimitMiB is the soft memory limit each stage runs with, the same
// as in docker-compose.yml.
func memoryLimitMiB(stage string) string {
	if stage == schemas.StageTransform {
		return "140" // see docker-compose.yml
	}
	return "160"
}

// Pipeline is the pipeline of one run, one process per part: nats-server,
// MinIO and a `sluice <stage>` per stage, on the shared ClickHouse and
// Mailpit. Set its exported fields above the line, then Start it. Its
// zero options (Instances, NATSNodes, Cluster, MinIODrives) are one of each
// part, as compose runs them; set, they run it as a cluster would.
type Pipeline struct {
	Dir, Bin string // the run's folder, and where the binaries are
	CH       *parts.ClickHouse
	Mail     *parts.Mailpit
	// Tenant is the run's own tenant, allowed MaxRows rows a file and
	// mailing Contact.
	Tenant, Contact string
	MaxRows         int
	// Instances is how many processes run each stage, sharing its durable
	// consumers (0: one, named after its stage; more: <stage>-1, <stage>-2...).
	Instances int
	// NATSNodes is how many nats-server nodes run (0: one, "nats"; more: a
	// JetStream cluster, nats-1, nats-2..., whose streams and KV buckets
	// have 3 replicas, SLUICE_NATS_REPLICAS). MinIO publishes its bucket
	// events to the first node only (MINIO_NOTIFY_NATS_ADDRESS takes one).
	NATSNodes int
	// Cluster, when set, is the ClickHouse cluster the stages write to
	// (SLUICE_CLICKHOUSE_CLUSTER) instead of CH.
	Cluster *parts.ClickHouseCluster
	// MinIODrives is how many drives MinIO erasure-codes over (0: one).
	MinIODrives int
	// NATSMonitor serves each nats-server node's monitoring (/varz: the
	// bytes it took in and sent out) on a free loopback port, at its
	// Proc's Metrics.
	NATSMonitor bool

	Procs   []*Proc    // nats-server nodes, then the stages
	NATSURL string     // every node's URL, separated by commas
	NC      *nats.Conn // the run's own connection, which reconnects
	S3      platform.S3Config
	MinIO   *parts.Part
	// partner is S3 with the run's tenant's own key, which ingest requires
	// of its uploads (writeTenants).
	partner platform.S3Config
}

// Proc is a process of the pipeline, which can be killed and started again
// as it was.
type Proc struct {
	Name    string
	Stage   string // the stage it runs, "" for a nats-server node
	Part    *parts.Part
	Metrics string // a stage's /metrics, or a nats-server's /varz (NATSMonitor)
	start   func(ctx context.Context) (*parts.Part, error)
}

// Kill kills the process (SIGKILL).
func (p *Proc) Kill() { p.Part.Kill() }

// Restart starts the process again, as it was first started, and waits
// until it is ready.
func (p *Proc) Restart(ctx context.Context) error {
	part, err := p.start(ctx)
	if err != nil {
		return err
	}
	p.Part = part
	return nil
}

// Proc returns the pipeline's process by name ("nats" or a stage, or with
// several, "nats-1" or "ingest-2"), or nil.
func (p *Pipeline) Proc(name string) *Proc {
	for _, pr := range p.Procs {
		if pr.Name == name {
			return pr
		}
	}
	return nil
}

// Start starts nats-server, MinIO and the stages, for the run's tenant.
func (p *Pipeline) Start(ctx context.Context) error {
	if err := p.startNATS(ctx); err != nil {
		return err
	}
	var err error
	if p.S3, err = parts.MinIOConfig(); err != nil {
		return err
	}
	tenants, err := p.writeTenants()
	if err != nil {
		return err
	}
	if err := p.migrate(ctx, tenants); err != nil {
		return err
	}
	first, _, _ := strings.Cut(p.NATSURL, ",")
	minioNATS := strings.Replace(first, "nats://", "nats://minio:"+natsPassword("minio")+"@", 1)
	if p.MinIO, err = parts.NewMinIODrives(filepath.Join(p.Dir, "minio"), max(p.MinIODrives, 1), minioNATS, p.S3); err != nil {
		return err
	}
	if err := p.addTenantKey(ctx, tenants); err != nil {
		return err
	}
	return p.startStages(ctx, tenants)
}

// migrate runs `sluice migrate`, as compose does, with the stages'
// settings: the streams, consumers and KV buckets exist before MinIO
// publishes and the stages bind to their consumers.
func (p *Pipeline) migrate(ctx context.Context, tenants string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.Bin, "sluice"), "migrate")
	cmd.Env = append(os.Environ(), p.stageEnv("admin", tenants, "", 0)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sluice migrate: %w\n%s", err, out)
	}
	return nil
}

// Stop stops what Start started: MinIO, the connection to NATS, then the
// processes, last first.
func (p *Pipeline) Stop() {
	if p.MinIO != nil {
		p.MinIO.Stop()
	}
	if p.NC != nil {
		p.NC.Close()
	}
	for _, pr := range slices.Backward(p.Procs) {
		pr.Part.Stop()
	}
}

// add starts a process and keeps it, with how to start it again.
func (p *Pipeline) add(ctx context.Context, pr *Proc) error {
	if err := pr.Restart(ctx); err != nil {
		return err
	}
	p.Procs = append(p.Procs, pr)
	return nil
}

// natsUsers are deploy/nats.conf's users, each with the password
// natsPassword gives it.
var natsUsers = append(slices.Clone(schemas.Stages), "minio", "console", "admin")

func natsPassword(user string) string { return "bench-" + user }

// natsConf is deploy/nats.conf as the run's nats-server reads it: on
// loopback port, with its monitoring on monitorPort (none if 0), its store
// in storeDir, and one more user, bench, allowed everything, for the run's
// own connection (which watches the import events and reads the streams).
// Every other user is as compose has it.
func natsConf(port, monitorPort int, storeDir string) (string, error) {
	conf, err := os.ReadFile(filepath.Join(parts.RepoRoot(), "deploy", "nats.conf"))
	if err != nil {
		return "", err
	}
	s := string(conf)
	http := "\n"
	if monitorPort != 0 {
		http = fmt.Sprintf("\nhttp: \"127.0.0.1:%d\"\n", monitorPort)
	}
	for _, r := range []struct{ old, new string }{
		{"\nport: 4222\n", fmt.Sprintf("\nlisten: 127.0.0.1:%d\n", port)},
		{"\nhttp: \"127.0.0.1:8222\"\n", http},
		{"store_dir: \"/data\"", fmt.Sprintf("store_dir: %q", storeDir)},
		{"\n  users = [\n", "\n  users = [\n    { user: bench, password: bench }\n"},
	} {
		if strings.Count(s, r.old) != 1 {
			return "", fmt.Errorf("deploy/nats.conf: want %q once", r.old)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	return s, nil
}

// clusterConf makes natsConf's text that of node name of a cluster: its own
// server name, and a route to every node (its own included).
func clusterConf(conf, name string, port int, routes []string) (string, error) {
	const server = "\nserver_name: sluice-nats\n"
	if strings.Count(conf, server) != 1 {
		return "", fmt.Errorf("deploy/nats.conf: want %q once", server)
	}
	return strings.Replace(conf, server, fmt.Sprintf("\nserver_name: %s\n", name), 1) +
		fmt.Sprintf("\ncluster {\n  name: sluice\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", port, strings.Join(routes, ", ")), nil
}

// startNATS starts nats-server, or NATSNodes of them as a cluster, with
// JetStream and deploy/nats.conf's users on free ports, and connects to it
// once JetStream answers (on a cluster: once it has elected its leader).
func (p *Pipeline) startNATS(ctx context.Context) error {
	nodes := max(p.NATSNodes, 1)
	ports, routePorts, urls, routes := make([]int, nodes), make([]int, nodes), make([]string, nodes), make([]string, nodes)
	for i := range nodes {
		ports[i], _ = parts.FreePort()
		routePorts[i], _ = parts.FreePort()
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i])
	}
	p.NATSURL = strings.Join(urls, ",")
	var env []string
	for _, u := range natsUsers {
		env = append(env, strings.ToUpper(u)+"_PASSWORD="+natsPassword(u))
	}
	for i := range nodes {
		monitor, metrics := 0, ""
		if p.NATSMonitor {
			monitor, _ = parts.FreePort()
			metrics = fmt.Sprintf("http://127.0.0.1:%d/varz", monitor)
		}
		name := "nats"
		if nodes > 1 {
			name = fmt.Sprintf("nats-%d", i+1)
		}
		text, err := natsConf(ports[i], monitor, filepath.Join(p.Dir, name))
		if err == nil && nodes > 1 {
			text, err = clusterConf(text, "sluice-"+name, routePorts[i], routes)
		}
		if err != nil {
			return err
		}
		conf := filepath.Join(p.Dir, name+".conf")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return err
		}
		addr := strings.TrimPrefix(urls[i], "nats://")
		ready := func() error {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}
		if err := p.add(ctx, &Proc{Name: name, Metrics: metrics, start: func(ctx context.Context) (*parts.Part, error) {
			return parts.Start(ctx, name, p.Dir, env, ready, filepath.Join(p.Bin, "nats-server"), "-c", conf)
		}}); err != nil {
			return err
		}
	}
	var err error
	if p.NC, err = bus.Connect(p.NATSURL, "bench", "bench", "bench"); err != nil {
		return err
	}
	js, err := p.NC.JetStream()
	if err != nil {
		return err
	}
	// Elections take seconds on a busy machine: generous.
	if err := parts.WaitFor(ctx, time.Minute, func() (bool, error) {
		_, err := js.AccountInfo()
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("nats-server: JetStream does not answer: %w", err)
	}
	return nil
}

// StreamLeader is the nats-server node that leads stream.
func (p *Pipeline) StreamLeader(stream string) (*Proc, error) {
	js, err := p.NC.JetStream()
	if err != nil {
		return nil, err
	}
	info, err := js.StreamInfo(stream)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return nil, fmt.Errorf("stream %s has no leader", stream)
	}
	pr := p.Proc(strings.TrimPrefix(info.Cluster.Leader, "sluice-"))
	if pr == nil {
		return nil, fmt.Errorf("stream %s: no node %s", stream, info.Cluster.Leader)
	}
	return pr, nil
}

// writeTenants writes the run's tenants file, with the run's tenant whose
// limits let the whole file in, and returns its path.
func (p *Pipeline) writeTenants() (string, error) {
	tenants := filepath.Join(p.Dir, "tenants.json")
	err := os.WriteFile(tenants, []byte(fmt.Sprintf(`{%q: {"contact": %q, "max_rows": %d, "max_bytes": %d}}`, p.Tenant, p.Contact, p.MaxRows, 1<<30)), 0o644)
	return tenants, err
}

// addTenantKey gives the run's tenant its own MinIO key, recorded in the
// tenants file at tenants, as `sluice tenant add` does: ingest imports only
// what a tenant's key put.
func (p *Pipeline) addTenantKey(ctx context.Context, tenants string) error {
	admin := p.S3
	admin.AdminAccessKey, admin.AdminSecretKey = p.S3.AccessKey, p.S3.SecretKey
	keys, err := tenantkeys.NewAdmin(admin, tenants)
	if err != nil {
		return err
	}
	key, err := keys.Add(ctx, p.Tenant, p.Contact)
	if err != nil {
		return err
	}
	p.partner = p.S3
	p.partner.AccessKey, p.partner.SecretKey = key.AccessKey, key.SecretKey
	return nil
}

// startStages starts Instances `sluice <stage>` processes per stage, each
// with its metrics on a free port and the run's secret key, and waits until
// each is healthy.
func (p *Pipeline) startStages(ctx context.Context, tenants string) error {
	key := platform.NewSecretKey()
	n := max(p.Instances, 1)
	for _, stage := range schemas.Stages {
		for i := range n {
			name := stage
			if n > 1 {
				name = fmt.Sprintf("%s-%d", stage, i+1)
			}
			mport, _ := parts.FreePort()
			env, health := p.stageEnv(stage, tenants, key, mport), fmt.Sprintf("http://127.0.0.1:%d/healthz", mport)
			if err := p.add(ctx, &Proc{Name: name, Stage: stage, Metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport), start: func(ctx context.Context) (*parts.Part, error) {
				return parts.Start(ctx, name, p.Dir, env, parts.HTTPReady(health), filepath.Join(p.Bin, "sluice"), stage)
			}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stages are the processes of the stage (one, or Instances).
func (p *Pipeline) Stages(stage string) []*Proc {
	var out []*Proc
	for _, pr := range p.Procs {
		if pr.Stage == stage {
			out = append(out, pr)
		}
	}
	return out
}

// stageEnv is the environment of a stage's process (or of `sluice migrate`,
// as "admin"), its metrics on metricsPort.
func (p *Pipeline) stageEnv(stage, tenants, secretKey string, metricsPort int) []string {
	var ch platform.ClickHouseConfig
	if p.Cluster != nil {
		ch = p.Cluster.Config
	} else {
		ch = p.CH.Config
	}
	env := []string{
		"SLUICE_NATS_URL=" + p.NATSURL,
		"SLUICE_NATS_USER=" + stage,
		"SLUICE_NATS_PASSWORD=" + natsPassword(stage),
		// The stages are separate processes: one key for all.
		"SLUICE_SECRET_KEY=" + secretKey,
		"SLUICE_CLICKHOUSE_ADDR=" + ch.Addr,
		"SLUICE_SMTP_ADDR=" + p.Mail.SMTPAddr,
		"SLUICE_TENANTS_FILE=" + tenants,
		"SLUICE_S3_ENDPOINT=" + p.S3.Endpoint,
		fmt.Sprintf("SLUICE_METRICS_ADDR=127.0.0.1:%d", metricsPort),
		"SLUICE_MEMORY_LIMIT_MIB=" + memoryLimitMiB(stage),
	}
	if ch.Cluster != "" {
		env = append(env, "SLUICE_CLICKHOUSE_CLUSTER="+ch.Cluster)
	}
	if p.NATSNodes > 1 {
		env = append(env, fmt.Sprintf("SLUICE_NATS_REPLICAS=%d", min(p.NATSNodes, 3)))
	}
	return env
}

// Upload puts file into the run's tenant's folder of dataset, with the
// tenant's key, as uploaded by uploader.
func (p *Pipeline) Upload(ctx context.Context, file, dataset, uploader string) error {
	body, err := os.Open(file)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = platform.NewS3Client(p.partner).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(p.S3.Bucket), Key: aws.String(p.Tenant + "/" + dataset + "/" + filepath.Base(file)), Body: body,
		Metadata: map[string]string{"uploader": uploader},
	})
	return err
}

// ImportEvents watches the import events (core NATS: what comes while the
// connection is away is missed): when each type was first seen, when the
// last progress event came, how many rows the progress events counted, and
// the completed event.
type ImportEvents struct {
	Sub  *nats.Subscription
	Done chan schemas.ImportEvent

	mu           sync.Mutex
	seen         map[string]time.Time // first time each event type was seen
	lastProgress time.Time
}

// WatchImports subscribes to the import events.
func WatchImports(nc *nats.Conn) (*ImportEvents, error) {
	e := &ImportEvents{Done: make(chan schemas.ImportEvent, 1), seen: map[string]time.Time{}}
	var err error
	e.Sub, err = nc.Subscribe("sluice.import.>", e.record)
	return e, err
}

// record notes an import event's time, and passes a completed event on.
func (e *ImportEvents) record(m *nats.Msg) {
	var ev schemas.ImportEvent
	if json.Unmarshal(m.Data, &ev) != nil {
		return
	}
	e.mu.Lock()
	if _, ok := e.seen[ev.Type]; !ok {
		e.seen[ev.Type] = time.Now()
	}
	if ev.Type == schemas.EventProgress {
		e.lastProgress = time.Now()
	}
	e.mu.Unlock()
	if ev.Type == schemas.EventCompleted {
		select {
		case e.Done <- ev:
		default:
		}
	}
}

// Timeline says when, after the upload began at start, the upload ended
// and each step of the import came.
func (e *ImportEvents) Timeline(start time.Time, uploaded time.Duration) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	since := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	return fmt.Sprintf("uploaded %.1fs, received %.1fs, first chunk loaded %.1fs, ingested %.1fs, last chunk loaded %.1fs, completed %.1fs",
		uploaded.Seconds(), since(e.seen[schemas.EventReceived]), since(e.seen[schemas.EventProgress]), since(e.seen[schemas.EventIngested]),
		since(e.lastProgress), since(e.seen[schemas.EventCompleted]))
}

// Await waits until an event of type typ has been seen, or ctx ends.
func (e *ImportEvents) Await(ctx context.Context, typ string) error {
	return parts.WaitFor(ctx, 24*time.Hour, func() (bool, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		_, ok := e.seen[typ]
		return ok, nil
	})
}

// PeakMiB reads a process's peak resident memory (VmHWM).
func PeakMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) / 1024
		}
	}
	return -1
}

// CPUSeconds reads a process's user and system CPU time so far.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return float64(utime+stime) / 100
}
