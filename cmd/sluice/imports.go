package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/operate"
)

const importsUsage = `usage: sluice imports [--tenant T] [--status S] [--dataset D] [--limit N]

Lists the imports, newest upload first, as a table: the import's id (for
sluice errors, cancel, continue), tenant, file, dataset, uploader, status,
rows (done/total while it runs), created, updated, unchanged, rejected,
when it started and how long it ran. It reads ClickHouse as the read-only
user (SLUICE_READER_CLICKHOUSE_USER).`

// imports runs `sluice imports`: operate.List as a table.
func imports(ctx context.Context, cfg config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("imports", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, importsUsage) }
	tenant := fs.String("tenant", "", "only this tenant's imports")
	var f operate.Filter
	fs.StringVar(&f.Status, "status", "", "only the imports in this status now")
	fs.StringVar(&f.Dataset, "dataset", "", "only the imports of this dataset")
	fs.IntVar(&f.Limit, "limit", operate.DefaultLimit, "at most this many")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("imports: unexpected %q\n%s", rest[0], importsUsage)
	}
	ops, err := openOps(ctx, cfg)
	if err != nil {
		return err
	}
	defer ops.Close()
	list, err := ops.List(ctx, operate.Scope(*tenant), f)
	if err != nil {
		return fmt.Errorf("imports: %w", err)
	}
	now := time.Now()
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "IMPORT\tTENANT\tFILE\tDATASET\tUPLOADER\tSTATUS\tROWS\tCREATED\tUPDATED\tUNCHANGED\tREJECTED\tSTARTED\tDURATION")
	for _, imp := range list {
		rows := strconv.Itoa(imp.Rows)
		if !imp.Final() {
			rows = fmt.Sprintf("%d/%d", imp.Done, imp.Rows)
		}
		k := imp.Counts
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", imp.ID, imp.Tenant, imp.FileName, imp.Dataset,
			cell(imp.Uploader), imp.Status, rows, k.Created, k.Updated, k.Unchanged, k.Rejected,
			imp.Started().UTC().Format(time.DateTime), imp.Duration(now).Round(time.Second))
	}
	return w.Flush()
}

// cell is "-" for an empty value, so that the table's columns stay in
// line.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseInterleaved parses args with fs, flags before or after the
// arguments, and returns the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
}
