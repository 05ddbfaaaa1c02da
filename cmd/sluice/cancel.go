package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/schemas"
)

const cancelUsage = `usage: sluice cancel IMPORT_ID

Stops an import that has not ended, as deleting its file from the bucket
does, without deleting it (operate.Ops.Cancel): the rows loaded stay, the
others are rejected as cancelled, the import ends cancelled and its
uploader is mailed. It then waits for the import to end and prints its
counts. An import that has ended is refused, exiting non-zero with the
reason; so is one whose rows were all loaded before the cancellation
reached them. It reads ClickHouse as the read-only user and publishes as
the NATS user SLUICE_NATS_USER (admin).`

// cancelWait is how long `sluice cancel` waits for the import it cancels
// to end: the rows already read still go through validate and transform.
const cancelWait = 10 * time.Minute

// cancelImport runs `sluice cancel`.
func cancelImport(ctx context.Context, cfg config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, cancelUsage) }
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("cancel: want one import id\n%s", cancelUsage)
	}
	id := ids[0]
	ops, err := openOps(ctx, cfg)
	if err != nil {
		return err
	}
	defer ops.Close()
	if err := ops.Cancel(ctx, operate.AllTenants, id); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	fmt.Fprintf(out, "import %s: cancel sent\n", id)
	wait, stop := context.WithTimeout(ctx, cancelWait)
	defer stop()
	var done operate.Import
	err = ops.Follow(wait, operate.AllTenants, id, func(imp operate.Import) bool {
		done = imp
		return imp.Final()
	})
	if err != nil {
		return fmt.Errorf("cancel: import %s did not end within %s (is the pipeline running?): %w", id, cancelWait, err)
	}
	k := done.Counts
	fmt.Fprintf(out, "import %s: %s: %d rows, %d loaded (%d created, %d updated, %d unchanged), %d rejected\n",
		id, done.Status, k.Rows, k.Created+k.Updated+k.Unchanged, k.Created, k.Updated, k.Unchanged, k.Rejected)
	if done.Status != schemas.StatusCancelled {
		return fmt.Errorf("cancel: import %s ended %s before the cancellation reached its rows", id, done.Status)
	}
	return nil
}
