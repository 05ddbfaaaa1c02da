// Command sluice runs the bulk-import pipeline.
//
//	sluice migrate             creates the streams, consumers, KV buckets and tables, with admin users
//	sluice expire              deletes expired personal data from ClickHouse, hourly, as the migration user
//	sluice up                  every stage in one process, with an embedded NATS JetStream server
//	sluice ingest|validate|transform|load|notify
//	                           one stage against an external NATS (SLUICE_NATS_URL), to scale out
//	sluice demo                the parts, the pipeline and MinIO on loopback; uploads examples/
//	sluice template <dataset> [--xlsx] [-o folder]
//	                           the template partners download, with the rules
//	sluice tenant add NAME --contact ADDRESS | list | rotate NAME | remove NAME
//	                           the partners' MinIO keys, each confined to its tenant's prefix
//	sluice replay [--stage s] [--import id] [--reason text] [--run <seq>,...|all] [--force]
//	                           lists the DLQ's poison messages and dead letters; --run re-drives poison messages
//	sluice import FILE --tenant T --dataset D [--mode m] [--on-error e] [--uploader a] ...
//	                           uploads FILE with the tenant's own key and follows its import to its end
//	sluice imports [--tenant T] [--status s] [--dataset d]
//	                           lists the imports, newest first
//	sluice errors IMPORT_ID [-o FILE]
//	                           writes the import's error report, the CSV its email attaches
//	sluice cancel IMPORT_ID    stops an import that runs, as deleting its file does
//	sluice continue IMPORT_ID  loads the good rows an import that requires intervention held back
//	sluice confirm IMPORT_ID   imports a previewed import as its preview decided it
//	sluice invite accept [--password p] TOKEN
//	                           sets the password of a user invited without one (from stdin), who becomes active
//	sluice console             the web console (also run by up and demo)
//	sluice console user add (--tenant T | --operator) --role admin|viewer LOGIN
//	                           a console account; its password from stdin
//
// Configuration comes from SLUICE_* environment variables (loadConfig).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/sluicehq/sluice/schemas"
)

const usage = `usage: sluice migrate | expire | up | demo | ingest | validate | transform | load | notify | template <dataset> [--xlsx] | tenant add|list|rotate|remove | replay [--run <seq>,...|all] | import FILE --tenant T --dataset D | imports | errors IMPORT_ID | cancel IMPORT_ID | continue IMPORT_ID | confirm IMPORT_ID | invite accept TOKEN | console [user add ...]`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "template" {
		if err := template(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "console" {
		err := withArgs(os.Args[2:], func(ctx context.Context, cfg config, args []string, out io.Writer) error {
			return consoleCommand(ctx, cfg, args, os.Stdin, out)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && slices.Contains([]string{"tenant", "replay", "import", "imports", "errors", "cancel", schemas.EventContinue, schemas.EventConfirm, "invite"}, os.Args[1]) {
		run := replay
		switch os.Args[1] {
		case "tenant":
			run = tenant
		case "import":
			run = importFile
		case "imports":
			run = imports
		case "errors":
			run = errorsReport
		case "cancel":
			run = cancelImport
		case schemas.EventContinue, schemas.EventConfirm:
			run = resume(os.Args[1])
		case "invite":
			run = func(ctx context.Context, cfg config, args []string, out io.Writer) error {
				return invite(ctx, cfg, args, os.Stdin, out)
			}
		}
		if err := withArgs(os.Args[2:], run); err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
			code := 1
			if e := (exitError{}); errors.As(err, &e) {
				code = e.code
			}
			os.Exit(code)
		}
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(2)
	}
	setMemoryLimit(cfg.MemoryLimit)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd := os.Args[1]; {
	case cmd == "migrate":
		err = migrate(ctx, cfg, cfg.NATSURL, logger)
	case cmd == "expire":
		err = expire(ctx, cfg, logger)
	case cmd == "up":
		err = up(ctx, cfg, logger)
	case cmd == "demo":
		err = demo(ctx, cfg, logger)
	case cmd == "console":
		err = runConsole(ctx, cfg, cfg.NATSURL, logger)
	case slices.Contains(schemas.Stages, cmd):
		err = runStages(ctx, cfg, logger, cfg.NATSURL, []string{cmd}, false)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		logger.Error("sluice: " + err.Error())
		os.Exit(1)
	}
}

// withArgs runs a command that takes arguments (tenant, replay, import,
// imports, errors, cancel, continue, confirm, invite) with args,
// the config from the environment, printing to stdout, until it is done or
// interrupted; asking for its help is not an error.
func withArgs(args []string, run func(ctx context.Context, cfg config, args []string, out io.Writer) error) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, args, os.Stdout); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

// setMemoryLimit sets the Go runtime's soft memory limit, in bytes (0:
// none). The limit bounds the heap, so it may grow further between
// collections than Go's default doubling: a stage's live heap is small and
// short-lived (a few chunks), and collecting it at every doubling costs a
// fifth of the stages' CPU (BENCHMARKS.md).
func setMemoryLimit(limit int64) {
	if limit > 0 {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(400)
	}
}
