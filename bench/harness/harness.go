// Package harness runs the pipeline as production does, one process per
// part, for the commands that measure it: bench (its speed) and faults (what
// it keeps when parts are killed). It owns the generated files (clients and
// users, deterministic, exactly 2% bad rows), the binaries, and a pipeline of
// nats-server, MinIO and a `sluice <stage>` per stage that can kill and
// restart any of its processes; ClickHouse and Mailpit come from
// platform/parts and are shared by the runs. It checks nothing itself.
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
// Mailpit. Set its exported fields above the line, then Start it.
type Pipeline struct {
	Dir, Bin string // the run's folder, and where the binaries are
	CH       *parts.ClickHouse
	Mail     *parts.Mailpit
	// Tenant is the run's own tenant, allowed MaxRows rows a file and
	// mailing Contact.
	Tenant, Contact string
	MaxRows         int

	Procs   []*Proc // nats-server, then the stages
	NATSURL string
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
	Part    *parts.Part
	Metrics string // the stage's /metrics, if it is a stage
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

// Proc returns the pipeline's process by name ("nats" or a stage), or nil.
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
	minioNATS := strings.Replace(p.NATSURL, "nats://", "nats://minio:"+natsPassword("minio")+"@", 1)
	if p.MinIO, err = parts.NewMinIO(filepath.Join(p.Dir, "minio"), minioNATS, p.S3); err != nil {
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
var natsUsers = append(slices.Clone(schemas.Stages), "minio", "admin")

func natsPassword(user string) string { return "bench-" + user }

// natsConf is deploy/nats.conf as the run's nats-server reads it: on
// loopback port, with no monitoring port, its store in storeDir, and one
// more user, bench, allowed everything, for the run's own connection (which
// watches the import events and reads the streams). Every other user is as
// compose has it.
func natsConf(port int, storeDir string) ([]byte, error) {
	conf, err := os.ReadFile(filepath.Join(parts.RepoRoot(), "deploy", "nats.conf"))
	if err != nil {
		return nil, err
	}
	s := string(conf)
	for _, r := range []struct{ old, new string }{
		{"\nport: 4222\n", fmt.Sprintf("\nlisten: 127.0.0.1:%d\n", port)},
		{"\nhttp: \"127.0.0.1:8222\"\n", "\n"},
		{"store_dir: \"/data\"", fmt.Sprintf("store_dir: %q", storeDir)},
		{"\n  users = [\n", "\n  users = [\n    { user: bench, password: bench }\n"},
	} {
		if strings.Count(s, r.old) != 1 {
			return nil, fmt.Errorf("deploy/nats.conf: want %q once", r.old)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	return []byte(s), nil
}

// startNATS starts nats-server with JetStream and deploy/nats.conf's users
// on a free port, and connects to it.
func (p *Pipeline) startNATS(ctx context.Context) error {
	natsPort, _ := parts.FreePort()
	p.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	conf := filepath.Join(p.Dir, "nats.conf")
	text, err := natsConf(natsPort, filepath.Join(p.Dir, "nats"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(conf, text, 0o600); err != nil {
		return err
	}
	var env []string
	for _, u := range natsUsers {
		env = append(env, strings.ToUpper(u)+"_PASSWORD="+natsPassword(u))
	}
	ready := func() error {
		c, err := net.Dial("tcp", strings.TrimPrefix(p.NATSURL, "nats://"))
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := p.add(ctx, &Proc{Name: "nats", start: func(ctx context.Context) (*parts.Part, error) {
		return parts.Start(ctx, "nats", p.Dir, env, ready, filepath.Join(p.Bin, "nats-server"), "-c", conf)
	}}); err != nil {
		return err
	}
	if p.NC, err = bus.Connect(p.NATSURL, "bench", "bench", "bench"); err != nil {
		return err
	}
	if err := parts.WaitFor(ctx, 10*time.Second, func() (bool, error) { return p.NC.IsConnected(), nil }); err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	return nil
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

// startStages starts a `sluice <stage>` process per stage, each with its
// metrics on a free port and the run's secret key, and waits until each is
// healthy.
func (p *Pipeline) startStages(ctx context.Context, tenants string) error {
	key := platform.NewSecretKey()
	for _, stage := range schemas.Stages {
		mport, _ := parts.FreePort()
		env, health := p.stageEnv(stage, tenants, key, mport), fmt.Sprintf("http://127.0.0.1:%d/healthz", mport)
		if err := p.add(ctx, &Proc{Name: stage, Metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport), start: func(ctx context.Context) (*parts.Part, error) {
			return parts.Start(ctx, stage, p.Dir, env, parts.HTTPReady(health), filepath.Join(p.Bin, "sluice"), stage)
		}}); err != nil {
			return err
		}
	}
	return nil
}

// stageEnv is the environment of a stage's process (or of `sluice migrate`,
// as "admin"), its metrics on metricsPort.
func (p *Pipeline) stageEnv(stage, tenants, secretKey string, metricsPort int) []string {
	return []string{
		"SLUICE_NATS_URL=" + p.NATSURL,
		"SLUICE_NATS_USER=" + stage,
		"SLUICE_NATS_PASSWORD=" + natsPassword(stage),
		// The stages are separate processes: one key for all.
		"SLUICE_SECRET_KEY=" + secretKey,
		"SLUICE_CLICKHOUSE_ADDR=" + p.CH.Config.Addr,
		"SLUICE_SMTP_ADDR=" + p.Mail.SMTPAddr,
		"SLUICE_TENANTS_FILE=" + tenants,
		"SLUICE_S3_ENDPOINT=" + p.S3.Endpoint,
		fmt.Sprintf("SLUICE_METRICS_ADDR=127.0.0.1:%d", metricsPort),
		"SLUICE_MEMORY_LIMIT_MIB=" + memoryLimitMiB(stage),
	}
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
