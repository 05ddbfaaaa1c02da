// Command faults is the fault suite (make faults): it runs the pipeline as
// production does, one process per part (bench/harness, as make bench
// does), imports a clients file of FAULTS_ROWS rows (default 1000000,
// exactly 2% bad) once per fault, injects the fault during the import, and
// checks what DESIGN.md promises under "Faults": nothing lost, nothing
// duplicated, one summary email, the right final status.
//
// The faults, each in a trial of its own, on a pipeline of its own (the
// shared ClickHouse and Mailpit aside):
//
//   - kill-<stage>: kill -9 of the stage when the import's received event
//     comes, started again 2 s later, then killed again after 5 s alive,
//     and so on until the import ends;
//   - kill-nats: kill -9 of nats-server when the received event comes,
//     started again 5 s later;
//   - clickhouse-down, clickhouse-down-long: ClickHouse killed (-9) when
//     the first chunk is loaded, started again 60 s and 5 min later;
//   - clickhouse-frozen: ClickHouse stopped (SIGSTOP) when the first chunk
//     is loaded, continued 60 s later;
//   - smtp-down: Mailpit stopped when ingest has read the whole file (the
//     end of the import), started again 2 min later;
//   - nats-down-upload: nats-server stopped before the upload, started
//     again 2 min later: MinIO's queue_dir holds the event;
//   - users-kill-transform: the hashing path, kill-transform's fault during
//     the import of a users file of FAULTS_USERS rows (default 5000).
//
// FAULTS_TRIALS (a comma-separated list of the names above) picks trials;
// FAULTS_SHORT=1 is the form CI runs: 100,000 rows, 1,000 users, outages
// shortened (ClickHouse down 20 s and 60 s, frozen 20 s, SMTP and NATS down
// 30 s) and a 5-minute deadline per trial instead of 10. A trial that does
// not end by its deadline is reported as such, with what it saw.
//
// It prints a line per trial and the totals, and exits 1 when a trial
// lost or duplicated a row, did not end, ended with the wrong status or
// mailed other than once.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/bench/harness"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// settings are the suite's sizes and durations.
type settings struct {
	short                bool
	rows, users          int
	chDown, chDownLong   time.Duration
	chFrozen             time.Duration
	smtpDown, natsUpload time.Duration
	deadline             time.Duration
}

func main() {
	s := settings{rows: 1_000_000, users: 5000, chDown: time.Minute, chDownLong: 5 * time.Minute, chFrozen: time.Minute,
		smtpDown: 2 * time.Minute, natsUpload: 2 * time.Minute, deadline: 10 * time.Minute}
	if os.Getenv("FAULTS_SHORT") == "1" {
		s = settings{short: true, rows: 100_000, users: 1000, chDown: 20 * time.Second, chDownLong: time.Minute, chFrozen: 20 * time.Second,
			smtpDown: 30 * time.Second, natsUpload: 30 * time.Second, deadline: 5 * time.Minute}
	}
	for key, dst := range map[string]*int{"FAULTS_ROWS": &s.rows, "FAULTS_USERS": &s.users} {
		if v := os.Getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				log.Fatalf("faults: %s: want a positive number, got %q", key, v)
			}
			*dst = n
		}
	}
	trials, err := pick(allTrials(s), os.Getenv("FAULTS_TRIALS"))
	if err != nil {
		log.Fatalf("faults: %v", err)
	}
	ok, err := run(s, trials)
	if err != nil {
		log.Fatalf("faults: %v", err)
	}
	if !ok {
		os.Exit(1)
	}
}

// trial is one fault during one import.
type trial struct {
	name  string
	users bool // a users file, not a clients one
	// before runs before the upload; during runs from the upload until its
	// context ends (the import ended, or the deadline), and leaves every
	// part running when it returns.
	before func(ctx context.Context, f *fault) error
	during func(ctx context.Context, f *fault) error
}

// fault is what a trial's fault acts on.
type fault struct {
	// trial ends at the trial's deadline: an outage lasts its time even
	// when the import ends first.
	trial  context.Context
	p      *harness.Pipeline
	events *harness.ImportEvents
	start  time.Time // the upload's
	// hit is when the fault first struck, after the upload began; missed
	// says why it did not, when it did not.
	hit    time.Duration
	missed string
	kills  int // for the faults that strike again and again
}

func (f *fault) struck() {
	if f.hit == 0 {
		f.hit = time.Since(f.start)
	}
}

// allTrials lists every trial, with the durations of s.
func allTrials(s settings) []trial {
	var ts []trial
	for _, stage := range schemas.Stages {
		ts = append(ts, trial{name: "kill-" + stage, during: killStage(stage)})
	}
	ts = append(ts,
		trial{name: "kill-nats", during: killNATS},
		trial{name: "clickhouse-down", during: clickHouseDown(s.chDown)},
		trial{name: "clickhouse-down-long", during: clickHouseDown(s.chDownLong)},
		trial{name: "clickhouse-frozen", during: clickHouseFrozen(s.chFrozen)},
		trial{name: "smtp-down", during: smtpDown(s.smtpDown)},
		trial{name: "nats-down-upload", before: natsDown, during: natsUp(s.natsUpload)},
		trial{name: "users-kill-transform", users: true, during: killStage(schemas.StageTransform)},
	)
	return ts
}

// pick keeps the trials names lists (all when it is empty).
func pick(all []trial, names string) ([]trial, error) {
	if names == "" {
		return all, nil
	}
	var out []trial
	for _, n := range strings.Split(names, ",") {
		i := -1
		for j, t := range all {
			if t.name == strings.TrimSpace(n) {
				i = j
			}
		}
		if i < 0 {
			var known []string
			for _, t := range all {
				known = append(known, t.name)
			}
			return nil, fmt.Errorf("FAULTS_TRIALS: no trial %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// restartTimeout bounds a restart that must happen although the trial's
// context ended.
const restartTimeout = 2 * time.Minute

// restart starts pr again, whether or not the trial ended.
func restart(pr *harness.Proc) error { return bringBack(pr.Name, pr.Restart) }

// bringBack starts a part again with start, whether or not the trial
// ended: a trial leaves every part running.
func bringBack(name string, start func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), restartTimeout)
	defer cancel()
	if err := start(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	return nil
}

// killStage kills the stage when the import is received, starts it again
// 2 s later, and kills it again after 5 s alive, until ctx ends.
func killStage(stage string) func(ctx context.Context, f *fault) error {
	return func(ctx context.Context, f *fault) error {
		if f.events.Await(ctx, schemas.EventReceived) != nil {
			f.missed = "the import was never received"
			return nil
		}
		pr := f.p.Proc(stage)
		for {
			pr.Kill()
			f.struck()
			f.kills++
			time.Sleep(2 * time.Second)
			if err := restart(pr); err != nil {
				return err
			}
			if !harness.Sleep(ctx, 5*time.Second) {
				return nil
			}
		}
	}
}

// killNATS kills nats-server when the import is received, and starts it
// again 5 s later.
func killNATS(ctx context.Context, f *fault) error {
	if f.events.Await(ctx, schemas.EventReceived) != nil {
		f.missed = "the import was never received"
		return nil
	}
	pr := f.p.Proc("nats")
	pr.Kill()
	f.struck()
	time.Sleep(5 * time.Second)
	return restart(pr)
}

// clickHouseDown kills ClickHouse when the first chunk is loaded, and
// starts it again, on the same port and data, after down.
func clickHouseDown(down time.Duration) func(ctx context.Context, f *fault) error {
	return func(ctx context.Context, f *fault) error {
		if f.events.Await(ctx, schemas.EventProgress) != nil {
			f.missed = "no chunk was ever loaded"
			return nil
		}
		f.p.CH.Part.Kill()
		f.struck()
		harness.Sleep(f.trial, down)
		return bringBack("clickhouse", f.p.CH.Restart)
	}
}

// clickHouseFrozen stops ClickHouse (SIGSTOP) when the first chunk is
// loaded, and continues it after frozen.
func clickHouseFrozen(frozen time.Duration) func(ctx context.Context, f *fault) error {
	return func(ctx context.Context, f *fault) error {
		if f.events.Await(ctx, schemas.EventProgress) != nil {
			f.missed = "no chunk was ever loaded"
			return nil
		}
		if err := f.p.CH.Part.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		f.struck()
		harness.Sleep(f.trial, frozen)
		return f.p.CH.Part.Signal(syscall.SIGCONT)
	}
}

// smtpDown stops Mailpit when ingest has read the whole file, and starts
// it again after down. A summary mailed before the stop means the fault
// missed the end of the import.
func smtpDown(down time.Duration) func(ctx context.Context, f *fault) error {
	return func(ctx context.Context, f *fault) error {
		if f.events.Await(ctx, schemas.EventIngested) != nil {
			f.missed = "ingest never finished the file"
			return nil
		}
		f.p.Mail.Stop()
		f.struck()
		if n, err := harness.CountEmails(f.p.Mail, f.p.Contact); err == nil && n > 0 {
			f.missed = "the summary was mailed before SMTP went down"
		}
		harness.Sleep(f.trial, down)
		return bringBack("mailpit", f.p.Mail.Start)
	}
}

// natsDown stops nats-server before the upload.
func natsDown(_ context.Context, f *fault) error {
	f.p.Proc("nats").Part.Stop()
	return nil
}

// natsUp starts nats-server again, down after natsDown stopped it.
func natsUp(down time.Duration) func(ctx context.Context, f *fault) error {
	return func(ctx context.Context, f *fault) error {
		f.struck()
		time.Sleep(down - time.Since(f.start))
		return restart(f.p.Proc("nats"))
	}
}

// run runs the trials, prints their table, and says whether all passed.
func run(s settings, trials []trial) (bool, error) {
	root := parts.RepoRoot()
	out := filepath.Join(root, "faults", "out")
	if err := os.RemoveAll(out); err != nil {
		return false, err
	}
	bin := filepath.Join(out, "bin")
	if err := harness.BuildBinaries(root, bin); err != nil {
		return false, err
	}
	ch, stopCH, err := parts.NewClickHouse(filepath.Join(out, "clickhouse"))
	if err != nil {
		return false, err
	}
	defer stopCH()
	mail, stopMail, err := parts.NewMailpit(filepath.Join(out, "mailpit"))
	if err != nil {
		return false, err
	}
	defer stopMail()

	form := "full"
	if s.short {
		form = "short (FAULTS_SHORT=1)"
	}
	fmt.Printf("fault suite, %s form: %d clients rows, %d users rows; ClickHouse down %s and %s, frozen %s; SMTP down %s; NATS down %s for the upload; deadline %s a trial\n\n",
		form, s.rows, s.users, s.chDown, s.chDownLong, s.chFrozen, s.smtpDown, s.natsUpload, s.deadline)
	fmt.Printf("%-22s %9s %9s %8s %6s %10s %6s %-22s %8s  %s\n", "fault", "rows", "loaded", "rejected", "lost", "duplicated", "emails", "status", "seconds", "result")
	var lost, dup, failed int
	for _, t := range trials {
		r, err := runTrial(s, t, out, bin, ch, mail)
		if err != nil {
			return false, fmt.Errorf("%s: %w", t.name, err)
		}
		fmt.Println(r.line())
		lost, dup = lost+r.lost, dup+r.duplicated
		if len(r.problems) > 0 {
			failed++
		}
	}
	fmt.Printf("\ntotal: %d trials, %d failed; %d rows lost, %d duplicated\n", len(trials), failed, lost, dup)
	return failed == 0, nil
}

// outcome is what a trial found.
type outcome struct {
	name             string
	rows, good, bad  int
	loaded, rejected int
	lost, duplicated int
	emails           int
	mailed           time.Duration // the first email, after the upload began
	status           string
	seconds          float64
	completed        bool
	problems, notes  []string
}

func (o outcome) line() string {
	result := "ok"
	if len(o.problems) > 0 {
		result = "FAIL: " + strings.Join(o.problems, "; ")
	}
	if len(o.notes) > 0 {
		result += " (" + strings.Join(o.notes, "; ") + ")"
	}
	secs := fmt.Sprintf("%8.1f", o.seconds)
	if !o.completed {
		secs = fmt.Sprintf("%8s", "-")
	}
	return fmt.Sprintf("%-22s %9d %9d %8d %6d %10d %6d %-22s %s  %s", o.name, o.rows, o.loaded, o.rejected, o.lost, o.duplicated, o.emails, o.status, secs, result)
}

// runTrial runs one trial on a pipeline of its own, and checks its import.
func runTrial(s settings, t trial, out, bin string, ch *parts.ClickHouse, mail *parts.Mailpit) (outcome, error) {
	w := harness.Clients(s.rows)
	if t.users {
		w = harness.Users(s.users)
	}
	o := outcome{name: t.name, rows: w.Rows}
	dir := filepath.Join(out, t.name)
	file, err := harness.WriteFile(dir, w)
	if err != nil {
		return o, err
	}
	o.bad, o.good = file.Bad, w.Rows-file.Bad
	ctx := context.Background()
	if err := harness.WaitForMerges(ctx, ch); err != nil {
		return o, err
	}
	tenant := "faults-" + t.name
	p := &harness.Pipeline{Dir: dir, Bin: bin, CH: ch, Mail: mail, Tenant: tenant, Contact: tenant + "@faults.example", MaxRows: w.Rows}
	defer p.Stop()
	if err := p.Start(ctx); err != nil {
		return o, err
	}
	events, err := harness.WatchImports(p.NC)
	if err != nil {
		return o, err
	}
	defer events.Sub.Unsubscribe()

	start := time.Now()
	trialCtx, cancel := context.WithDeadline(ctx, start.Add(s.deadline))
	defer cancel()
	f := &fault{trial: trialCtx, p: p, events: events, start: start}
	if t.before != nil {
		if err := t.before(trialCtx, f); err != nil {
			return o, err
		}
	}
	faultCtx, stopFault := context.WithCancel(trialCtx)
	faultDone := make(chan error, 1)
	go func() { faultDone <- t.during(faultCtx, f) }()
	if err := p.Upload(ctx, file.Path, w.DS.Name, p.Contact); err != nil {
		stopFault()
		<-faultDone
		return o, fmt.Errorf("upload: %w", err)
	}

	w8 := &harness.Warehouse{Conn: ch.Conn, Database: ch.Config.Database, Tenant: tenant, DS: w.DS}
	o.completed = w8.AwaitFinal(trialCtx)
	o.seconds = time.Since(f.start).Seconds()
	stopFault()
	if err := <-faultDone; err != nil {
		return o, err
	}
	o.emails, o.mailed = harness.AwaitEmails(trialCtx, mail, p.Contact, start)
	check(ctx, &o, f, w8, p)
	return o, nil
}

// check reads the import's outcome and notes every broken promise.
func check(ctx context.Context, o *outcome, f *fault, w8 *harness.Warehouse, p *harness.Pipeline) {
	problem := func(format string, args ...any) { o.problems = append(o.problems, fmt.Sprintf(format, args...)) }
	if f.hit > 0 {
		o.notes = append(o.notes, fmt.Sprintf("fault at %.1fs", f.hit.Seconds()))
	}
	if f.kills > 1 {
		o.notes = append(o.notes, fmt.Sprintf("killed %d times", f.kills))
	}
	if o.mailed > 0 {
		o.notes = append(o.notes, fmt.Sprintf("mailed at %.1fs", o.mailed.Seconds()))
	}
	if f.missed != "" {
		problem("fault missed: %s", f.missed)
	}
	a, err := w8.Audit(ctx)
	if err != nil {
		problem("reading ClickHouse: %v", err)
		o.status = "?"
		return
	}
	o.status, o.loaded, o.rejected = a.Status, a.Loaded, a.Rejected
	o.lost, o.duplicated = a.Lost(o.rows, o.good), a.Duplicated()
	if !o.completed {
		problem("did not complete in the deadline: %d imports, %d of %d rows audited", a.Imports, a.AuditedRows, o.rows)
	}
	o.problems = append(o.problems, a.Problems(o.rows, o.bad)...)
	if o.emails != 1 {
		problem("%d summary emails, want 1", o.emails)
	}
	// No fault here is a broken message: a message on a poison subject
	// means a transient error was taken for a permanent one.
	if poison := harness.Poisoned(p); poison != "" {
		problem("poisoned: %s", poison)
	}
}
