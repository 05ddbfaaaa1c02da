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
//     rejected and every other row created;
//  5. it runs each file once more with two processes of every stage
//     (sharing each durable consumer, as replicas would), and checks that
//     its counts are exactly those of the single-process runs.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/bench/harness"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

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
	var files []harness.Workload
	for _, n := range sizes {
		files = append(files, harness.Clients(n))
	}
	if users > 0 {
		files = append(files, harness.Users(users))
	}
	if err := run(files, runs); err != nil {
		log.Fatalf("bench: %v", err)
	}
}

// result is the figures of one run of a workload.
type result struct {
	dataset    string
	instances  int // processes per stage
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
	// in and out are the MiB a nats-server took in and sent out (clients
	// and routes).
	in, out float64
}

// run measures each workload runs times, and prints each run's figures and,
// over several runs, the spread of the ratio to ClickHouse's own load.
func run(files []harness.Workload, runs int) error {
	root := parts.RepoRoot()
	out := filepath.Join(root, "bench", "out")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(out, "bin")
	if err := harness.BuildBinaries(root, bin); err != nil {
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
		var single schemas.Counts
		for i := range runs {
			r, err := measure(out, bin, w, i, 1, ch, mail)
			if err != nil {
				return err
			}
			report(r)
			ratios = append(ratios, r.pipeline.Seconds()/r.clickhouse.Seconds())
			single = r.counts
		}
		if runs > 1 {
			reportRatios(w, ratios)
		}
		r, err := measure(out, bin, w, runs, 2, ch, mail)
		if err != nil {
			return err
		}
		report(r)
		if r.counts != single {
			return fmt.Errorf("%d %s rows, two processes a stage: counts %+v, one process a stage: %+v", w.Rows, w.DS.Name, r.counts, single)
		}
	}
	return nil
}

// reportRatios prints the best, median and worst ratio of a workload's runs
// to ClickHouse's own load.
func reportRatios(w harness.Workload, ratios []float64) {
	sort.Float64s(ratios)
	fmt.Printf("\n%d %s rows, %d runs: ratio to ClickHouse's own load best %.1fx, median %.1fx, worst %.1fx\n",
		w.Rows, w.DS.Name, len(ratios), ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
}

// report prints the figures of one run.
func report(r result) {
	fmt.Printf("\n%d %s rows (%.1f MiB, %d bad), %d process(es) a stage:\n", r.rows, r.dataset, r.fileMiB, r.bad, r.instances)
	fmt.Printf("  clickhouse-client INSERT ... FORMAT CSVWithNames: %8.2fs  %9.0f rows/s\n", r.clickhouse.Seconds(), float64(r.rows)/r.clickhouse.Seconds())
	fmt.Printf("  sluice, PutObject to completed:                   %8.2fs  %9.0f rows/s  (%.1fx ClickHouse)\n",
		r.pipeline.Seconds(), float64(r.rows)/r.pipeline.Seconds(), r.pipeline.Seconds()/r.clickhouse.Seconds())
	fmt.Printf("  outcome: %d rows, %d created, %d rejected (%d chunks)\n", r.counts.Rows, r.counts.Created, r.counts.Rejected, r.chunks)
	fmt.Printf("  after PutObject: %s\n", r.timeline)
	fmt.Printf("  %-12s %10s %8s %9s %14s\n", "process", "peak MiB", "CPU s", "messages", "ms per message")
	for _, p := range r.peaks {
		fmt.Printf("  %-12s %10.0f %8.1f %9d %14.1f", p.name, p.mib, p.cpu, p.msgs, p.avg)
		if p.in > 0 {
			fmt.Printf("  (in %.0f MiB, out %.0f MiB)", p.in, p.out)
		}
		fmt.Println()
	}
}

// measure runs workload w once (its run-th time): ClickHouse's own load of
// its file, then the pipeline's import of the same file with instances
// processes a stage, and checks that exactly the bad rows were rejected and
// every other row created.
func measure(out, bin string, w harness.Workload, run, instances int, ch *parts.ClickHouse, mail *parts.Mailpit) (result, error) {
	r := result{dataset: w.DS.Name, rows: w.Rows, instances: instances}
	dir := filepath.Join(out, fmt.Sprintf("run-%s-%d-%d", w.DS.Name, w.Rows, run))
	f, err := harness.WriteFile(dir, w)
	if err != nil {
		return r, err
	}
	r.bad, r.fileMiB = f.Bad, f.MiB
	ctx := context.Background()
	if err := harness.WaitForMerges(ctx, ch); err != nil {
		return r, err
	}
	if r.clickhouse, err = clickhouseLoad(ctx, ch, f.Path, w, run); err != nil {
		return r, err
	}
	// A tenant of the run's own, whose limits let the whole file in: every
	// row is new to it.
	p := &harness.Pipeline{Dir: dir, Bin: bin, CH: ch, Mail: mail, Instances: instances, NATSMonitor: true,
		Tenant: fmt.Sprintf("bench-%s%d-%d", w.DS.Name, w.Rows, run), Contact: "bench@bench.example", MaxRows: w.Rows}
	defer p.Stop()
	if err := p.Start(ctx); err != nil {
		return r, err
	}
	if err := timeImport(ctx, p, f.Path, w.DS.Name, &r); err != nil {
		return r, err
	}
	return r, checkOutcome(r)
}

// clickhouseLoad times ClickHouse's own load of file (clickhouse-client,
// FORMAT CSVWithNames) into a new table of String columns.
func clickhouseLoad(ctx context.Context, ch *parts.ClickHouse, file string, w harness.Workload, run int) (time.Duration, error) {
	table := fmt.Sprintf("bench_%s_%d_%d", w.DS.Name, w.Rows, run)
	if err := createStringTable(ctx, ch, table, w.Header); err != nil {
		return 0, err
	}
	host, port, _ := strings.Cut(ch.Config.Addr, ":")
	in, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	load := exec.Command("clickhouse-client", "--host", host, "--port", port, "--user", ch.Config.Migrate.Name, "--password", ch.Config.Migrate.Password,
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

// timeImport uploads file to the run's tenant and times its import to the
// completed event; it notes in r that time, the outcome, every process's
// peaks and the timeline of the import's events.
func timeImport(ctx context.Context, p *harness.Pipeline, file, dataset string, r *result) error {
	events, err := harness.WatchImports(p.NC)
	if err != nil {
		return err
	}
	defer events.Sub.Unsubscribe()
	chCPU, minioCPU := harness.CPUSeconds(p.CH.Part.Pid()), harness.CPUSeconds(p.MinIO.Pid())
	start := time.Now()
	if err := p.Upload(ctx, file, dataset, p.Contact); err != nil {
		return err
	}
	uploaded := time.Since(start)
	select {
	case ev := <-events.Done:
		r.pipeline = time.Since(start)
		r.counts, r.chunks = ev.Counts, ev.Chunks
	case <-time.After(20 * time.Minute):
		return errors.New("the import did not complete in 20 minutes")
	}
	r.peaks = peaks(p, chCPU, minioCPU)
	r.timeline = events.Timeline(start, uploaded)
	return nil
}

// peaks reads every process of p's peak memory and CPU time, and each stage's
// handler time; ClickHouse's and MinIO's CPU counts from chCPU and
// minioCPU, theirs when the upload began.
func peaks(p *harness.Pipeline, chCPU, minioCPU float64) []peak {
	var peaks []peak
	for _, pr := range p.Procs {
		pk := peak{name: pr.Name, mib: harness.PeakMiB(pr.Part.Pid()), cpu: harness.CPUSeconds(pr.Part.Pid())}
		switch {
		case pr.Stage != "":
			pk.msgs, pk.avg = handlerTime(pr.Metrics, pr.Stage)
		case pr.Metrics != "":
			pk.in, pk.out = natsBytes(pr.Metrics)
		}
		peaks = append(peaks, pk)
	}
	return append(peaks,
		peak{name: "clickhouse", mib: harness.PeakMiB(p.CH.Part.Pid()), cpu: harness.CPUSeconds(p.CH.Part.Pid()) - chCPU},
		peak{name: "minio", mib: harness.PeakMiB(p.MinIO.Pid()), cpu: harness.CPUSeconds(p.MinIO.Pid()) - minioCPU})
}

// checkOutcome checks that exactly the bad rows were rejected and every
// other row created.
func checkOutcome(r result) error {
	if r.counts.Rejected != r.bad || r.counts.Created != r.rows-r.bad || r.counts.Rows != r.rows {
		return fmt.Errorf("outcome %+v, want %d rows: %d created, %d rejected", r.counts, r.rows, r.rows-r.bad, r.bad)
	}
	return nil
}

// natsBytes reads the MiB a nats-server took in and sent out, from its
// /varz.
func natsBytes(url string) (in, out float64) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	var v struct {
		InBytes  int64 `json:"in_bytes"`
		OutBytes int64 `json:"out_bytes"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return 0, 0
	}
	return float64(v.InBytes) / (1 << 20), float64(v.OutBytes) / (1 << 20)
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
