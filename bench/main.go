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

type peak struct {
	name string
	mib  float64
	cpu  float64 // seconds of CPU, user and system
	msgs int     // messages handled
	avg  float64 // milliseconds per message, handler time
}

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
			sort.Float64s(ratios)
			fmt.Printf("\n%d %s rows, %d runs: ratio to ClickHouse's own load best %.1fx, median %.1fx, worst %.1fx\n",
				w.rows, w.ds.Name, runs, ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
		}
	}
	return nil
}

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

func measure(out, bin string, w workload, run int, ch *parts.ClickHouse, mail *parts.Mailpit) (result, error) {
	n := w.rows
	r := result{dataset: w.ds.Name, rows: n}
	dir := filepath.Join(out, fmt.Sprintf("run-%s-%d-%d", w.ds.Name, n, run))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	file := filepath.Join(dir, w.ds.Name+".csv")
	bad, err := generate(file, w)
	if err != nil {
		return r, err
	}
	r.bad = bad
	if st, err := os.Stat(file); err == nil {
		r.fileMiB = float64(st.Size()) / (1 << 20)
	}

	// Both measurements start from a quiet server: the merges of an earlier
	// run's parts would otherwise take the CPU from this one.
	ctx := context.Background()
	if err := parts.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		var merges uint64
		err := ch.Conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&merges)
		return merges == 0, err
	}); err != nil {
		return r, fmt.Errorf("waiting for ClickHouse's merges: %w", err)
	}

	// ClickHouse's own load of the same file.
	table := fmt.Sprintf("bench_%s_%d_%d", w.ds.Name, n, run)
	cols := make([]string, len(w.header))
	for i, name := range w.header {
		cols[i] = fmt.Sprintf("`%s` String", name)
	}
	if err := ch.Conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS sluice.%s", table)); err != nil {
		return r, err
	}
	if err := ch.Conn.Exec(ctx, fmt.Sprintf("CREATE TABLE sluice.%s (%s) ENGINE = MergeTree ORDER BY tuple()", table, strings.Join(cols, ", "))); err != nil {
		return r, err
	}
	host, port, _ := strings.Cut(ch.Config.Addr, ":")
	in, err := os.Open(file)
	if err != nil {
		return r, err
	}
	load := exec.Command("clickhouse-client", "--host", host, "--port", port, "--user", ch.Config.User, "--password", ch.Config.Password,
		"--query", fmt.Sprintf("INSERT INTO sluice.%s FORMAT CSVWithNames", table))
	load.Stdin = in
	start := time.Now()
	o, err := load.CombinedOutput()
	r.clickhouse = time.Since(start)
	in.Close()
	if err != nil {
		return r, fmt.Errorf("clickhouse-client: %v: %s", err, o)
	}

	// The pipeline, one process per part.
	natsPort, _ := parts.FreePort()
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	var procs []*proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].part.Stop()
		}
	}()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: 8MB\njetstream { store_dir: %q }\n",
		natsPort, filepath.Join(dir, "nats"))), 0o644); err != nil {
		return r, err
	}
	natsReady := func() error {
		c, err := net.Dial("tcp", strings.TrimPrefix(natsURL, "nats://"))
		if err == nil {
			c.Close()
		}
		return err
	}
	ns, err := parts.Start(ctx, "nats", dir, nil, natsReady, filepath.Join(bin, "nats-server"), "-c", conf)
	if err != nil {
		return r, err
	}
	procs = append(procs, &proc{name: "nats", part: ns})
	nc, err := bus.Connect(natsURL, "bench", "", "")
	if err != nil {
		return r, err
	}
	defer nc.Close()
	if err := parts.WaitFor(ctx, 10*time.Second, func() (bool, error) { return nc.IsConnected(), nil }); err != nil {
		return r, fmt.Errorf("nats-server: %w", err)
	}
	js, err := nc.JetStream()
	if err != nil {
		return r, err
	}
	if err := bus.EnsureStreams(js); err != nil {
		return r, err
	}
	s3cfg, err := parts.MinIOConfig()
	if err != nil {
		return r, err
	}
	minio, err := parts.NewMinIO(filepath.Join(dir, "minio"), natsURL, s3cfg)
	if err != nil {
		return r, err
	}
	defer minio.Stop()
	tenants := filepath.Join(dir, "tenants.json")
	// A tenant of its own per size: every row is new to it.
	tenant := fmt.Sprintf("bench-%s%d-%d", w.ds.Name, n, run)
	if err := os.WriteFile(tenants, []byte(fmt.Sprintf(`{%q: {"contact": "bench@bench.example", "max_rows": %d, "max_bytes": %d}}`, tenant, n, 1<<30)), 0o644); err != nil {
		return r, err
	}
	for _, stage := range schemas.Stages {
		mport, _ := parts.FreePort()
		env := []string{
			"SLUICE_NATS_URL=" + natsURL,
			// The stages are separate processes: one key for all.
			"SLUICE_SECRET_KEY=" + strings.Repeat("5e", 32),
			"SLUICE_CLICKHOUSE_ADDR=" + ch.Config.Addr,
			"SLUICE_SMTP_ADDR=" + mail.SMTPAddr,
			"SLUICE_TENANTS_FILE=" + tenants,
			"SLUICE_S3_ENDPOINT=" + s3cfg.Endpoint,
			fmt.Sprintf("SLUICE_METRICS_ADDR=127.0.0.1:%d", mport),
			"SLUICE_MEMORY_LIMIT_MIB=" + memoryLimitMiB(stage),
		}
		p, err := parts.Start(ctx, stage, dir, env, parts.HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", mport)),
			filepath.Join(bin, "sluice"), stage)
		if err != nil {
			return r, err
		}
		procs = append(procs, &proc{name: stage, part: p, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)})
	}

	done := make(chan schemas.ImportEvent, 1)
	var mu sync.Mutex
	seen := map[string]time.Time{} // first time each event type was seen
	lastProgress := time.Time{}
	sub, err := nc.Subscribe("sluice.import.>", func(m *nats.Msg) {
		var ev schemas.ImportEvent
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		mu.Lock()
		if _, ok := seen[ev.Type]; !ok {
			seen[ev.Type] = time.Now()
		}
		if ev.Type == schemas.EventProgress {
			lastProgress = time.Now()
		}
		mu.Unlock()
		if ev.Type == schemas.EventCompleted {
			select {
			case done <- ev:
			default:
			}
		}
	})
	if err != nil {
		return r, err
	}
	defer sub.Unsubscribe()
	body, err := os.Open(file)
	if err != nil {
		return r, err
	}
	defer body.Close()
	chCPU, minioCPU := cpuSeconds(ch.Part.Pid()), cpuSeconds(minio.Pid())
	start = time.Now()
	if _, err := platform.NewS3Client(s3cfg).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s3cfg.Bucket), Key: aws.String(tenant + "/" + w.ds.Name + "/" + filepath.Base(file)), Body: body,
		Metadata: map[string]string{"uploader": "bench@bench.example"},
	}); err != nil {
		return r, err
	}
	uploaded := time.Since(start)
	select {
	case ev := <-done:
		r.pipeline = time.Since(start)
		r.counts, r.chunks = ev.Counts, ev.Chunks
	case <-time.After(20 * time.Minute):
		return r, errors.New("the import did not complete in 20 minutes")
	}
	for _, p := range procs {
		pk := peak{name: p.name, mib: peakMiB(p.part.Pid()), cpu: cpuSeconds(p.part.Pid())}
		if p.metrics != "" {
			pk.msgs, pk.avg = handlerTime(p.metrics, p.name)
		}
		r.peaks = append(r.peaks, pk)
	}
	r.peaks = append(r.peaks,
		peak{name: "clickhouse", mib: peakMiB(ch.Part.Pid()), cpu: cpuSeconds(ch.Part.Pid()) - chCPU},
		peak{name: "minio", mib: peakMiB(minio.Pid()), cpu: cpuSeconds(minio.Pid()) - minioCPU})
	mu.Lock()
	since := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	r.timeline = fmt.Sprintf("uploaded %.1fs, received %.1fs, first chunk loaded %.1fs, ingested %.1fs, last chunk loaded %.1fs, completed %.1fs",
		uploaded.Seconds(), since(seen[schemas.EventReceived]), since(seen[schemas.EventProgress]), since(seen[schemas.EventIngested]),
		since(lastProgress), since(seen[schemas.EventCompleted]))
	mu.Unlock()
	if r.counts.Rejected != bad || r.counts.Created != n-bad || r.counts.Rows != n {
		return r, fmt.Errorf("outcome %+v, want %d rows: %d created, %d rejected", r.counts, n, n-bad, bad)
	}
	return r, nil
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
