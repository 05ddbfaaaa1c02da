package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
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
// EventContinue, EventConfirm) for the import its one argument names: it reads the import
// as the read-only ClickHouse user and refuses what notify would refuse
// (notify.Resumable), publishes the event into the IMPORTS stream (Msg-Id
// per import and event: sent twice, it is stored once), and waits until
// notify, which owns the staged records and loads them, has resumed it. It
// writes nothing to ClickHouse itself.
func resume(event string) func(ctx context.Context, cfg config, args []string, out io.Writer) error {
	return func(ctx context.Context, cfg config, args []string, out io.Writer) error {
		if len(args) != 1 || len(args[0]) == 0 || args[0][0] == '-' {
			return fmt.Errorf("%s: want one import id\n%s", event, resumeUsage[event])
		}
		id := args[0]
		conn, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Reader)
		if err != nil {
			return err
		}
		defer conn.Close()
		store := &notify.ClickHouse{Conn: conn, Database: cfg.ClickHouse.Database}
		rec, _, err := notify.Resumable(ctx, store, event, id)
		if err != nil {
			return fmt.Errorf("%s: %w", event, err)
		}
		if err := publishResume(cfg, event, rec.Import); err != nil {
			return err
		}
		fmt.Fprintf(out, "import %s: %s sent\n", id, event)
		var done notify.ImportRecord
		err = parts.WaitFor(ctx, resumeWait, func() (bool, error) {
			var ok bool
			done, ok, err = store.Import(ctx, id)
			return ok && done.Resumed == event, err
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

// publishResume publishes the operator's event for imp, as the NATS user
// the configuration names (deploy/nats.conf: admin), and waits for the
// stream's ack.
func publishResume(cfg config, event string, imp schemas.Import) error {
	nc, err := bus.Connect(cfg.NATSURL, event, cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("%s: %w", event, err)
	}
	data, err := json.Marshal(schemas.ImportEvent{Type: event, Import: imp, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = js.Publish(schemas.ImportSubject(event, imp.ID), data, nats.MsgId(schemas.MsgID(imp.ID, event, 0)))
	if err != nil {
		return fmt.Errorf("%s: publish: %w", event, err)
	}
	return nil
}
