package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// demo starts ClickHouse, Mailpit, the pipeline (with its embedded NATS) and
// MinIO on loopback, with their data under SLUICE_DATA (.data), uploads the
// files under examples/ as partners would, prints one line per import, and
// leaves everything running until ctx ends (Ctrl-C).
func demo(ctx context.Context, cfg config, logger *slog.Logger) error {
	data, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	chPort, err := port(cfg.ClickHouse.Addr)
	if err != nil {
		return err
	}
	smtpPort, err := port(cfg.SMTPAddr)
	if err != nil {
		return err
	}
	s3URL, err := url.Parse(cfg.S3.Endpoint)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s3Port, err := port(s3URL.Host)
	if err != nil {
		return err
	}
	mailWeb := smtpPort + 7000 // 1025 -> 8025, Mailpit's usual pair

	fmt.Println("starting ClickHouse, Mailpit, NATS, MinIO and the pipeline (data in " + data + ")")
	ch, err := parts.StartClickHouse(ctx, filepath.Join(data, "clickhouse"), chPort, "deploy/clickhouse/users.d", cfg.ClickHouse.Database)
	if err != nil {
		return err
	}
	defer ch.Stop()
	mp, err := parts.StartMailpit(ctx, filepath.Join(data, "mailpit"), smtpPort, mailWeb)
	if err != nil {
		return err
	}
	defer mp.Stop()
	ns, err := bus.StartNATS(cfg.NATSPort, filepath.Join(data, "nats"))
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := bus.EnsureStreams(js); err != nil {
		return err
	}
	minio, err := parts.StartMinIO(ctx, filepath.Join(data, "minio"), s3Port, strings.TrimPrefix(ns.ClientURL(), "nats://"), cfg.S3)
	if err != nil {
		return err
	}
	defer minio.Stop()
	client := platform.NewS3Client(cfg.S3)
	if err := parts.ConfigureBucket(ctx, client, cfg.S3.Bucket); err != nil {
		return err
	}

	logFile, err := os.Create(filepath.Join(data, "sluice.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	stageLogger := slog.New(slog.NewTextHandler(logFile, nil))
	pipeline := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		pipeline <- runStages(ctx, cfg, stageLogger, ns.ClientURL(), schemas.Stages, secretKeyFile(cfg.Config))
	}()

	completed := make(chan schemas.ImportEvent, 64)
	sub, err := nc.Subscribe(schemas.ImportSubject(schemas.EventCompleted, "*"), func(m *nats.Msg) {
		var ev schemas.ImportEvent
		if json.Unmarshal(m.Data, &ev) == nil {
			completed <- ev
		}
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer sub.Unsubscribe()

	// One file after another, in name order, each once the one before has
	// been imported, as a partner would: accounts before the groups whose
	// members they are, groups before the users who belong to them.
	var files []string
	err = filepath.WalkDir("examples", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") && d.Name() != "README.md" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Printf("uploading %d files to s3://%s, each once the one before is imported\n\n", len(files), cfg.S3.Bucket)
	fmt.Printf("%-40s %-22s %7s %7s %7s %9s %8s %8s\n", "file", "status", "rows", "created", "updated", "unchanged", "rejected", "elapsed")
	for _, path := range files {
		key := filepath.ToSlash(strings.TrimPrefix(path, "examples"+string(filepath.Separator)))
		body, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		t0 := time.Now()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(cfg.S3.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
			Metadata: map[string]string{"uploader": "partner@" + strings.Split(key, "/")[0] + ".example"},
		}); err != nil {
			return fmt.Errorf("demo: upload: %w", err)
		}
		ev, err := awaitImport(ctx, completed, pipeline, key, logFile.Name())
		if err != nil || ev == nil {
			return err
		}
		k := ev.Counts
		fmt.Printf("%-40s %-22s %7d %7d %7d %9d %8d %8s\n", key, ev.Status, k.Rows, k.Created, k.Updated,
			k.Unchanged, k.Rejected, time.Since(t0).Round(time.Millisecond))
		if ev.Reason != nil {
			fmt.Printf("    rejected: %s\n", ev.Reason.Message)
		}
	}
	chHost, _, _ := net.SplitHostPort(cfg.ClickHouse.Addr)
	fmt.Printf(`
error reports: attached to the email each uploader got, in Mailpit at http://127.0.0.1:%d
rejected rows: clickhouse-client --host %s --port %d --user sluice_reader --password reader --query "SELECT import_id, row, columns, messages FROM sluice.import_rejections FINAL ORDER BY import_id, row"
loaded rows:   clickhouse-client --host %s --port %d --user sluice_reader --password reader --query "SELECT tenant, email, first_name, last_name, active, type, created FROM sluice.clients FINAL ORDER BY tenant, email FORMAT PrettyCompact"
               (and sluice.users, sluice.accounts, sluice.group_members, sluice.groups the same way)
metrics:       http://%s/metrics    logs: %s

the stack keeps running; Ctrl-C stops it
`, mailWeb, chHost, chPort, chHost, chPort, cfg.MetricsAddr, logFile.Name())
	select {
	case <-ctx.Done():
		return nil
	case err := <-pipeline:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}

// awaitImport waits for the completed event of the import of key; nil when
// ctx ends first.
func awaitImport(ctx context.Context, completed <-chan schemas.ImportEvent, pipeline <-chan error, key, log string) (*schemas.ImportEvent, error) {
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev := <-completed:
			if ev.Import.Key == key {
				return &ev, nil
			}
		case err := <-pipeline:
			return nil, fmt.Errorf("demo: pipeline stopped: %w", err)
		case <-timeout:
			return nil, fmt.Errorf("demo: %s was not imported in 2 minutes; see %s", key, log)
		case <-ctx.Done():
			return nil, nil
		}
	}
}

func port(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("demo: address %q: %w", addr, err)
	}
	return strconv.Atoi(p)
}
