package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/platform/bus"
)

// replayUsage is `sluice replay`'s usage.
const replayUsage = `usage: sluice replay [--stage <stage>] [--import <id>] [--reason <text>] [--run <seq>[,<seq>...]|all] [--force]

Lists the DLQ stream's poison messages and dead letters, by stage, import and
reason. With --run, publishes the chosen poison messages again into their
stage (all: every poison message the filters choose that was not replayed
yet). An entry replayed before is refused unless --force. Dead letters are
listed only: their rows are fixed by a new file.`

// replayArgs are `sluice replay`'s flags.
type replayArgs struct {
	filter bus.DLQFilter
	// run is "", "all", or a comma-separated list of DLQ sequences.
	run   string
	force bool
}

func parseReplayArgs(args []string, out io.Writer) (replayArgs, error) {
	var a replayArgs
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, replayUsage) }
	fs.StringVar(&a.filter.Stage, "stage", "", "only this stage's entries")
	fs.StringVar(&a.filter.Import, "import", "", "only this import's entries")
	fs.StringVar(&a.filter.Reason, "reason", "", "only entries whose reason contains this text, whatever the case")
	fs.StringVar(&a.run, "run", "", "replay these DLQ sequences (comma-separated), or all")
	fs.BoolVar(&a.force, "force", false, "replay entries replayed before once more")
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("replay: unexpected %q\n%s", fs.Arg(0), replayUsage)
	}
	return a, nil
}

// replay runs `sluice replay`: it lists the DLQ entries the flags choose, or
// replays the chosen poison messages, and prints a table to out.
func replay(ctx context.Context, cfg config, args []string, out io.Writer) error {
	a, err := parseReplayArgs(args, out)
	if err != nil {
		return err
	}
	nc, err := bus.Connect(cfg.NATSURL, "replay", cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer nc.Close()
	dlq, err := bus.NewDLQ(nc)
	if err != nil {
		return err
	}
	if a.run == "" {
		entries, err := dlq.List(ctx, a.filter)
		if err != nil {
			return err
		}
		printEntries(out, entries)
		return nil
	}
	seqs, err := chosen(ctx, dlq, a)
	if err != nil {
		return err
	}
	return runReplays(ctx, dlq, seqs, a.force, out)
}

// chosen returns the DLQ sequences --run names: those listed, or with all,
// every poison message the filters choose that was not replayed yet (every
// one with --force).
func chosen(ctx context.Context, dlq *bus.DLQ, a replayArgs) ([]uint64, error) {
	if a.run != "all" {
		var seqs []uint64
		for _, s := range strings.Split(a.run, ",") {
			seq, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil || seq == 0 {
				return nil, fmt.Errorf("replay: --run %q: want DLQ sequences separated by commas, or all", a.run)
			}
			seqs = append(seqs, seq)
		}
		return seqs, nil
	}
	f := a.filter
	f.Kind = bus.KindPoison
	entries, err := dlq.List(ctx, f)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		if a.force || !e.Replayed() {
			seqs = append(seqs, e.Seq)
		}
	}
	return seqs, nil
}

// runReplays replays each of seqs and prints what became of each; its
// error says how many failed.
func runReplays(ctx context.Context, dlq *bus.DLQ, seqs []uint64, force bool, out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tREPLAYED TO\tMSG-ID\tERROR")
	var failed []error
	for _, seq := range seqs {
		r, err := dlq.Replay(ctx, seq, force)
		if err != nil {
			failed = append(failed, err)
			fmt.Fprintf(w, "%d\t\t\t%s\n", seq, oneLine(err.Error(), 160))
			continue
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t\n", seq, r.Subject, r.MsgID)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "replayed: %d, failed: %d\n", len(seqs)-len(failed), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("replay: %d of %d failed: %w", len(failed), len(seqs), errors.Join(failed...))
	}
	return nil
}

// printEntries prints one line per entry.
func printEntries(out io.Writer, entries []bus.DLQEntry) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tKIND\tSTAGE\tIMPORT\tTENANT\tDATASET\tCHUNK\tTIME\tREPLAYED\tREASON")
	for _, e := range entries {
		chunk, replayed := "", ""
		if e.Chunk > 0 {
			chunk = strconv.Itoa(e.Chunk)
		}
		if e.Replayed() {
			last := e.Replays[len(e.Replays)-1]
			replayed = fmt.Sprintf("%dx, %s", last.N, last.At.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Kind, e.Stage, dash(e.Import), dash(e.Tenant), dash(e.Dataset),
			dash(chunk), e.Time.Format(time.RFC3339), dash(replayed), dash(oneLine(e.Reason, 160)))
	}
	_ = w.Flush()
	fmt.Fprintf(out, "entries: %d\n", len(entries))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine puts s on one line of at most n runes, cut with a marker.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
