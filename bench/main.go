// Command bench measures the pipeline against ClickHouse's own bulk load of
// the same file, in one run (make bench):
//
//  1. it writes a clients file of N rows (BENCH_ROWS, default 100000 and
//     1000000), deterministic, with exactly 2% bad rows, then a users file
//     of BENCH_USERS rows (default 5000, the seed's limit; 0 skips it), whose
//     passwords transform hashes with argon2id; each file is run BENCH_RUNS
//     times (default 3: this machine's CPU is shared, and one run can be off
//     by a fifth);
//  2. it times `clickhouse-client --query "INSERT INTO t FORMAT CSVWithNames" < file`
//     into a table of String columns;
//  3. it runs the pipeline as separate processes (nats-server, one `sluice
//     <stage>` per stage, MinIO), uploads the file with PutObject and times
//     it to the import's completed event;
//  4. it prints both times, their ratio, rows per second, every process's
//     peak memory (VmHWM), and checks that exactly the bad rows were
//     rejected and every other row created.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
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
	"github.com/sluicehq/sluice/schemas"
)

// memoryLimitMiB is the soft memory limit each stage runs with, the same
// as in docker-compose.yml.
func memoryLimitMiB(stage string) string {
	if stage == schemas.StageTransform {
		return "140" // see docker-compose.yml
	}
	return "160"
}

// workload is a file for the bench: rows of a dataset.
type workload struct {
	ds     *schemas.Dataset
	rows   int
	header []string
	// row returns the cells of row i (from 1), and whether the row is bad.
	row func(i int) (cells []string, bad bool)
}

func main() {
	sizes := []int{100_000, 1_000_000}
	runs, users := 3, 5000
	for key, dst := range map[string]*int{"BENCH_ROWS": nil, "BENCH_RUNS": &runs, "BENCH_USERS": &users} {
		v := os.Getenv(key)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n == 0 && key != "BENCH_USERS" {
			log.Fatalf("bench: %s: want a positive number, got %q", key, v)
		}
		if dst == nil {
			sizes = []int{n}
		} else {
			*dst = n
		}
	}
	var files []workload
	for _, n := range sizes {
		files = append(files, workload{schemas.Clients, n, clientsHeader, clientRow})
	}
	if users > 0 {
		files = append(files, workload{schemas.Users, users, usersHeader, userRow})
	}
	if err := run(files, runs); err != nil {
		log.Fatalf("bench: %v", err)
	}
}

// result is the figures of one run of a workload.
type result struct {
	dataset    string
	rows, bad  int
	clickhouse time.Duration
	pipeline   time.Duration
	counts     schemas.Counts
	peaks      []peak
	fileMiB    float64
	chunks     int
	timeline   string
}

// peak is what one process of a run used.
type peak struct {
	name string
	mib  float64
	cpu  float64 // seconds of CPU, user and system
	msgs int     // messages handled
	avg  float64 // milliseconds per message, handler time
}

// run measures each workload runs times, and prints each run's figures and,
// over several runs, the spread of the ratio to ClickHouse's own load.
func run(files []workload, runs int) error {
	root := parts.RepoRoot()
	out := filepath.Join(root, "bench", "out")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(out, "bin")
	if err := buildBinaries(root, bin); err != nil {
		return err
	}
	ch, stopCH, err := parts.NewClickHouse(filepath.Join(out, "clickhouse"))
	if err != nil {
		return err
	}
	defer stopCH()
	mail, stopMail, err := parts.NewMailpit(filepath.Join(out, "mailpit"))
	if err != nil {
		return err
	}
	defer stopMail()

	for _, w := range files {
		var ratios []float64
		for i := range runs {
			r, err := measure(out, bin, w, i, ch, mail)
			if err != nil {
				return err
			}
			report(r)
			ratios = append(ratios, r.pipeline.Seconds()/r.clickhouse.Seconds())
		}
		if runs > 1 {
			reportRatios(w, ratios)
		}
	}
	return nil
}

// buildBinaries builds sluice and nats-server into bin: the pipeline runs
// as separate processes.
func buildBinaries(root, bin string) error {
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

// reportRatios prints the best, median and worst ratio of a workload's runs
// to ClickHouse's own load.
func reportRatios(w workload, ratios []float64) {
	sort.Float64s(ratios)
	fmt.Printf("\n%d %s rows, %d runs: ratio to ClickHouse's own load best %.1fx, median %.1fx, worst %.1fx\n",
		w.rows, w.ds.Name, len(ratios), ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
}

// report prints the figures of one run.
func report(r result) {
	fmt.Printf("\n%d %s rows (%.1f MiB, %d bad):\n", r.rows, r.dataset, r.fileMiB, r.bad)
	fmt.Printf("  clickhouse-client INSERT ... FORMAT CSVWithNames: %8.2fs  %9.0f rows/s\n", r.clickhouse.Seconds(), float64(r.rows)/r.clickhouse.Seconds())
	fmt.Printf("  sluice, PutObject to completed:                   %8.2fs  %9.0f rows/s  (%.1fx ClickHouse)\n",
		r.pipeline.Seconds(), float64(r.rows)/r.pipeline.Seconds(), r.pipeline.Seconds()/r.clickhouse.Seconds())
	fmt.Printf("  outcome: %d rows, %d created, %d rejected (%d chunks)\n", r.counts.Rows, r.counts.Created, r.counts.Rejected, r.chunks)
	fmt.Printf("  after PutObject: %s\n", r.timeline)
	fmt.Printf("  %-10s %10s %8s %9s %14s\n", "process", "peak MiB", "CPU s", "messages", "ms per message")
	for _, p := range r.peaks {
		fmt.Printf("  %-10s %10.0f %8.1f %9d %14.1f\n", p.name, p.mib, p.cpu, p.msgs, p.avg)
	}
}

// measure runs workload w once (its run-th time): ClickHouse's own load of
// its file, then the pipeline's import of the same file, and checks that
// exactly the bad rows were rejected and every other row created.
func measure(out, bin string, w workload, run int, ch *parts.ClickHouse, mail *parts.Mailpit) (result, error) {
	r := result{dataset: w.ds.Name, rows: w.rows}
	dir := filepath.Join(out, fmt.Sprintf("run-%s-%d-%d", w.ds.Name, w.rows, run))
	file, err := writeWorkload(dir, w, &r)
	if err != nil {
		return r, err
	}
	ctx := context.Background()
	if err := waitForMerges(ctx, ch); err != nil {
		return r, err
	}
	if r.clickhouse, err = clickhouseLoad(ctx, ch, file, w, run); err != nil {
		return r, err
	}
	p := &pipeline{dir: dir, bin: bin, ch: ch, mail: mail}
	defer p.stop()
	if err := p.start(ctx, w, run); err != nil {
		return r, err
	}
	if err := p.timeImport(ctx, file, w.ds.Name, &r); err != nil {
		return r, err
	}
	return r, checkOutcome(r)
}

// writeWorkload writes w's file into dir, and notes in r how many of its
// rows are bad and its size.
func writeWorkload(dir string, w workload, r *result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	file := filepath.Join(dir, w.ds.Name+".csv")
	bad, err := generate(file, w)
	if err != nil {
		return "", err
	}
	r.bad = bad
	if st, err := os.Stat(file); err == nil {
		r.fileMiB = float64(st.Size()) / (1 << 20)
	}
	return file, nil
}

// waitForMerges waits until ClickHouse merges nothing: both measurements
// start from a quiet server, as the merges of an earlier run's parts would
// otherwise take the CPU from this one.
func waitForMerges(ctx context.Context, ch *parts.ClickHouse) error {
	if err := parts.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		var merges uint64
		err := ch.Conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&merges)
		return merges == 0, err
	}); err != nil {
		return fmt.Errorf("waiting for ClickHouse's merges: %w", err)
	}
	return nil
}

// clickhouseLoad times ClickHouse's own load of file (clickhouse-client,
// FORMAT CSVWithNames) into a new table of String columns.
func clickhouseLoad(ctx context.Context, ch *parts.ClickHouse, file string, w workload, run int) (time.Duration, error) {
	table := fmt.Sprintf("bench_%s_%d_%d", w.ds.Name, w.rows, run)
	if err := createStringTable(ctx, ch, table, w.header); err != nil {
		return 0, err
	}
	host, port, _ := strings.Cut(ch.Config.Addr, ":")
	in, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	load := exec.Command("clickhouse-client", "--host", host, "--port", port, "--user", ch.Config.User, "--password", ch.Config.Password,
		"--query", fmt.Sprintf("INSERT INTO sluice.%s FORMAT CSVWithNames", table))
	load.Stdin = in
	start := time.Now()
	o, err := load.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("clickhouse-client: %v: %s", err, o)
	}
	return elapsed, nil
}

// createStringTable creates table anew, with a String column per header
// cell.
func createStringTable(ctx context.Context, ch *parts.ClickHouse, table string, header []string) error {
	cols := make([]string, len(header))
	for i, name := range header {
		cols[i] = fmt.Sprintf("`%s` String", name)
	}
	if err := ch.Conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS sluice.%s", table)); err != nil {
		return err
	}
	return ch.Conn.Exec(ctx, fmt.Sprintf("CREATE TABLE sluice.%s (%s) ENGINE = MergeTree ORDER BY tuple()", table, strings.Join(cols, ", ")))
}

// pipeline is the pipeline of one run, one process per part: nats-server,
// MinIO and a `sluice <stage>` per stage, on the shared ClickHouse and
// Mailpit.
type pipeline struct {
	dir, bin string // the run's folder, and where the binaries are
	ch       *parts.ClickHouse
	mail     *parts.Mailpit

	procs   []*proc // nats-server, then the stages
	natsURL string
	nc      *nats.Conn
	s3      platform.S3Config
	minio   *parts.Part
	tenant  string // the run's own tenant: every row is new to it
}

// start starts nats-server, MinIO and the stages, for a tenant of the
// run's own.
func (p *pipeline) start(ctx context.Context, w workload, run int) error {
	if err := p.startNATS(ctx); err != nil {
		return err
	}
	var err error
	if p.s3, err = parts.MinIOConfig(); err != nil {
		return err
	}
	if p.minio, err = parts.NewMinIO(filepath.Join(p.dir, "minio"), p.natsURL, p.s3); err != nil {
		return err
	}
	tenants, err := p.writeTenants(w, run)
	if err != nil {
		return err
	}
	return p.startStages(ctx, tenants)
}

// stop stops what start started: MinIO, the connection to NATS, then the
// processes, last first.
func (p *pipeline) stop() {
	if p.minio != nil {
		p.minio.Stop()
	}
	if p.nc != nil {
		p.nc.Close()
	}
	for _, pr := range slices.Backward(p.procs) {
		pr.part.Stop()
	}
}

// startNATS starts nats-server with JetStream on a free port, connects to
// it and creates the streams.
func (p *pipeline) startNATS(ctx context.Context) error {
	natsPort, _ := parts.FreePort()
	p.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	conf := filepath.Join(p.dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8MB\njetstream { store_dir: %q }\n",
		natsPort, filepath.Join(p.dir, "nats"))), 0o644); err != nil {
		return err
	}
	ready := func() error {
		c, err := net.Dial("tcp", strings.TrimPrefix(p.natsURL, "nats://"))
		if err == nil {
			c.Close()
		}
		return err
	}
	ns, err := parts.Start(ctx, "nats", p.dir, nil, ready, filepath.Join(p.bin, "nats-server"), "-c", conf)
	if err != nil {
		return err
	}
	p.procs = append(p.procs, &proc{name: "nats", part: ns})
	if p.nc, err = bus.Connect(p.natsURL, "bench", "", ""); err != nil {
		return err
	}
	if err := parts.WaitFor(ctx, 10*time.Second, func() (bool, error) { return p.nc.IsConnected(), nil }); err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	js, err := p.nc.JetStream()
	if err != nil {
		return err
	}
	return bus.EnsureStreams(js)
}

// writeTenants writes the run's tenants file, with a tenant of its own per
// size and run whose limits let the whole file in, and returns its path.
func (p *pipeline) writeTenants(w workload, run int) (string, error) {
	tenants := filepath.Join(p.dir, "tenants.json")
	p.tenant = fmt.Sprintf("bench-%s%d-%d", w.ds.Name, w.rows, run)
	err := os.WriteFile(tenants, []byte(fmt.Sprintf(`{%q: {"contact": "bench@bench.example", "max_rows": %d, "max_bytes": %d}}`, p.tenant, w.rows, 1<<30)), 0o644)
	return tenants, err
}

// startStages starts a `sluice <stage>` process per stage, each with its
// metrics on a free port, and waits until each is healthy.
func (p *pipeline) startStages(ctx context.Context, tenants string) error {
	for _, stage := range schemas.Stages {
		mport, _ := parts.FreePort()
		pr, err := parts.Start(ctx, stage, p.dir, p.stageEnv(stage, tenants, mport), parts.HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", mport)),
			filepath.Join(p.bin, "sluice"), stage)
		if err != nil {
			return err
		}
		p.procs = append(p.procs, &proc{name: stage, part: pr, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)})
	}
	return nil
}

// stageEnv is the environment of a stage's process, its metrics on
// metricsPort.
func (p *pipeline) stageEnv(stage, tenants string, metricsPort int) []string {
	return []string{
		"SLUICE_NATS_URL=" + p.natsURL,
		// The stages are separate processes: one key for all.
		"SLUICE_SECRET_KEY=" + strings.Repeat("5e", 32),
		"SLUICE_CLICKHOUSE_ADDR=" + p.ch.Config.Addr,
		"SLUICE_SMTP_ADDR=" + p.mail.SMTPAddr,
		"SLUICE_TENANTS_FILE=" + tenants,
		"SLUICE_S3_ENDPOINT=" + p.s3.Endpoint,
		fmt.Sprintf("SLUICE_METRICS_ADDR=127.0.0.1:%d", metricsPort),
		"SLUICE_MEMORY_LIMIT_MIB=" + memoryLimitMiB(stage),
	}
}

// timeImport uploads file to the run's tenant and times its import to the
// completed event; it notes in r that time, the outcome, every process's
// peaks and the timeline of the import's events.
func (p *pipeline) timeImport(ctx context.Context, file, dataset string, r *result) error {
	events, err := watchImport(p.nc)
	if err != nil {
		return err
	}
	defer events.sub.Unsubscribe()
	body, err := os.Open(file)
	if err != nil {
		return err
	}
	defer body.Close()
	chCPU, minioCPU := cpuSeconds(p.ch.Part.Pid()), cpuSeconds(p.minio.Pid())
	start := time.Now()
	if _, err := platform.NewS3Client(p.s3).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(p.s3.Bucket), Key: aws.String(p.tenant + "/" + dataset + "/" + filepath.Base(file)), Body: body,
		Metadata: map[string]string{"uploader": "bench@bench.example"},
	}); err != nil {
		return err
	}
	uploaded := time.Since(start)
	select {
	case ev := <-events.done:
		r.pipeline = time.Since(start)
		r.counts, r.chunks = ev.Counts, ev.Chunks
	case <-time.After(20 * time.Minute):
		return errors.New("the import did not complete in 20 minutes")
	}
	r.peaks = p.peaks(chCPU, minioCPU)
	r.timeline = events.timeline(start, uploaded)
	return nil
}

// peaks reads every process's peak memory and CPU time, and each stage's
// handler time; ClickHouse's and MinIO's CPU counts from chCPU and
// minioCPU, theirs when the upload began.
func (p *pipeline) peaks(chCPU, minioCPU float64) []peak {
	var peaks []peak
	for _, pr := range p.procs {
		pk := peak{name: pr.name, mib: peakMiB(pr.part.Pid()), cpu: cpuSeconds(pr.part.Pid())}
		if pr.metrics != "" {
			pk.msgs, pk.avg = handlerTime(pr.metrics, pr.name)
		}
		peaks = append(peaks, pk)
	}
	return append(peaks,
		peak{name: "clickhouse", mib: peakMiB(p.ch.Part.Pid()), cpu: cpuSeconds(p.ch.Part.Pid()) - chCPU},
		peak{name: "minio", mib: peakMiB(p.minio.Pid()), cpu: cpuSeconds(p.minio.Pid()) - minioCPU})
}

// importEvents watches the import events: when each type was first seen,
// when the last progress event came, and the completed event.
type importEvents struct {
	sub  *nats.Subscription
	done chan schemas.ImportEvent

	mu           sync.Mutex
	seen         map[string]time.Time // first time each event type was seen
	lastProgress time.Time
}

// watchImport subscribes to the import events.
func watchImport(nc *nats.Conn) (*importEvents, error) {
	e := &importEvents{done: make(chan schemas.ImportEvent, 1), seen: map[string]time.Time{}}
	var err error
	e.sub, err = nc.Subscribe("sluice.import.>", e.record)
	return e, err
}

// record notes an import event's time, and passes a completed event on.
func (e *importEvents) record(m *nats.Msg) {
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
		case e.done <- ev:
		default:
		}
	}
}

// timeline says when, after the upload began at start, the upload ended
// and each step of the import came.
func (e *importEvents) timeline(start time.Time, uploaded time.Duration) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	since := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	return fmt.Sprintf("uploaded %.1fs, received %.1fs, first chunk loaded %.1fs, ingested %.1fs, last chunk loaded %.1fs, completed %.1fs",
		uploaded.Seconds(), since(e.seen[schemas.EventReceived]), since(e.seen[schemas.EventProgress]), since(e.seen[schemas.EventIngested]),
		since(e.lastProgress), since(e.seen[schemas.EventCompleted]))
}

// checkOutcome checks that exactly the bad rows were rejected and every
// other row created.
func checkOutcome(r result) error {
	if r.counts.Rejected != r.bad || r.counts.Created != r.rows-r.bad || r.counts.Rows != r.rows {
		return fmt.Errorf("outcome %+v, want %d rows: %d created, %d rejected", r.counts, r.rows, r.rows-r.bad, r.bad)
	}
	return nil
}

// generate writes the workload's file, and returns how many of its rows are
// bad.
func generate(path string, wl workload) (bad int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, strings.Join(wl.header, ","))
	for i := 1; i <= wl.rows; i++ {
		cells, isBad := wl.row(i)
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

// proc is a process of the pipeline.
type proc struct {
	name    string
	part    *parts.Part
	metrics string // the stage's /metrics, if it is a stage
}

// handlerTime reads a stage's message count and mean handling time from its
// metrics.
func handlerTime(url, stage string) (int, float64) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	var sum, count float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch {
		case strings.HasPrefix(name, "sluice_"+stage+"_message_duration_seconds_sum"):
			sum += v
		case strings.HasPrefix(name, "sluice_"+stage+"_message_duration_seconds_count"):
			count += v
		}
	}
	if count == 0 {
		return 0, 0
	}
	return int(count), 1000 * sum / count
}

// peakMiB reads a process's peak resident memory (VmHWM).
func peakMiB(pid int) float64 {
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

// cpuSeconds reads a process's user and system CPU time so far.
func cpuSeconds(pid int) float64 {
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
