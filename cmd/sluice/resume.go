package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/schemas"
)

// resumeWait is how long `sluice continue` and `sluice confirm` wait for notify to have
// resumed the import before it says it did not.
const resumeWait = 2 * time.Minute

// resumeUsage is the usage of the commands that resume an ended import.
var resumeUsage = map[string]string{
	schemas.EventContinue: `usage: sluice continue IMPORT_ID

Loads the good rows an import that requires intervention held back (seed
002's "Continue"), leaving the rejected ones out: the import ends
completed_with_errors and its uploader gets the summary. Any other import is
refused.`,
	schemas.EventConfirm: `usage: sluice confirm IMPORT_ID

Imports a previewed import (X-Amz-Meta-Preview: true) as its preview decided
it, without reading its file again: it ends as it would have without the
preview, and its uploader gets the summary. Any other import is refused, and
so is a preview some of whose records a later upload changed.`,
}

// resume returns the command that sends the operator's event (schemas.
// EventContinue, EventConfirm) for the import its one argument names, with
// operate (which refuses what notify would refuse), and waits until notify,
// which owns the staged records and loads them, has resumed it. It writes
// nothing to ClickHouse itself.
func resume(event string) func(ctx context.Context, cfg config, args []string, out io.Writer) error {
	return func(ctx context.Context, cfg config, args []string, out io.Writer) error {
		if len(args) != 1 || len(args[0]) == 0 || args[0][0] == '-' {
			return fmt.Errorf("%s: want one import id\n%s", event, resumeUsage[event])
		}
		id := args[0]
		ops, err := openOps(ctx, cfg)
		if err != nil {
			return err
		}
		defer ops.Close()
		send := ops.Continue
		if event == schemas.EventConfirm {
			send = ops.Confirm
		}
		if err := send(ctx, operate.AllTenants, id); err != nil {
			return fmt.Errorf("%s: %w", event, err)
		}
		fmt.Fprintf(out, "import %s: %s sent\n", id, event)
		wait, cancel := context.WithTimeout(ctx, resumeWait)
		defer cancel()
		var done operate.Import
		err = ops.Follow(wait, operate.AllTenants, id, func(imp operate.Import) bool {
			done = imp
			return imp.Resumed == event
		})
		if err != nil {
			return fmt.Errorf("%s: import %s not resumed within %s (is notify running?): %w", event, id, resumeWait, err)
		}
		k := done.Counts
		fmt.Fprintf(out, "import %s: %s: %d created, %d updated, %d unchanged, %d rejected\n",
			id, done.Status, k.Created, k.Updated, k.Unchanged, k.Rejected)
		return nil
	}
}

// openOps opens operate with the configuration: ClickHouse as the
// read-only user, NATS as the configured user, notify's report size.
func openOps(ctx context.Context, cfg config) (*operate.Ops, error) {
	return operate.Open(ctx, operate.Config{ClickHouse: cfg.ClickHouse, NATS: opsPublisher(cfg), MaxReportRows: cfg.stages.notify.MaxReportRows})
}

// opsPublisher publishes the operator's events as the configured NATS
// user (deploy/nats.conf: admin).
func opsPublisher(cfg config) operate.Publisher {
	return operate.Publisher{URL: cfg.NATSURL, User: cfg.NATSUser, Password: cfg.NATSPassword}
}
