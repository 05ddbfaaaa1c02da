package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sluicehq/sluice/operate"
)

const errorsUsage = `usage: sluice errors IMPORT_ID [-o FILE]

Writes the import's error report, the CSV its email attaches (row, column,
rule, value, message, solution; at most SLUICE_NOTIFY_MAX_REPORT_ROWS rows),
to FILE or to standard output; while the import runs, the rows rejected so
far. A file rejected whole has none: the command says why it was rejected.
It reads ClickHouse as the read-only user (SLUICE_READER_CLICKHOUSE_USER).`

// errorsReport runs `sluice errors`: operate.WriteReport.
func errorsReport(ctx context.Context, cfg config, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("errors", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, errorsUsage) }
	path := fs.String("o", "", "the file to write (default: standard output)")
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("errors: want one import id\n%s", errorsUsage)
	}
	ops, err := openOps(ctx, cfg)
	if err != nil {
		return err
	}
	defer ops.Close()
	if *path == "" {
		return ops.WriteReport(ctx, operate.AllTenants, ids[0], out)
	}
	f, err := os.Create(*path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil { // a refusal leaves no file
			err = errors.Join(err, os.Remove(*path))
		}
	}()
	if err := ops.WriteReport(ctx, operate.AllTenants, ids[0], f); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s\n", *path)
	return nil
}
