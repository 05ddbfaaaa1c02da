package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/transform"
	"github.com/sluicehq/sluice/validate"
)

// stage is what every stage is to main.
type stage interface {
	Run(ctx context.Context) error
	Running() chan struct{}
}

// up runs an embedded NATS JetStream server and every stage on it.
func up(ctx context.Context, cfg config, logger *slog.Logger) error {
	ns, err := bus.StartNATS(cfg.NATSPort, cfg.NATSStoreDir)
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	logger.Info("sluice: nats listening", "url", ns.ClientURL(), "store", cfg.NATSStoreDir)
	return runStages(ctx, cfg, logger, ns.ClientURL(), schemas.Stages, secretKeyFile(cfg.Config))
}

// secretKeyFile is where `sluice up` keeps its secret key when
// SLUICE_SECRET_KEY is not set: every stage runs in its process, so one key
// kept beside the data serves them all, across restarts.
func secretKeyFile(cfg platform.Config) string { return filepath.Join(cfg.DataDir, "secret.key") }

// runStages connects to NATS and runs the named stages, with one metrics and
// health server, until ctx ends or a stage fails. keyFile keeps the secret
// key when SLUICE_SECRET_KEY is not set ("": it must be).
func runStages(ctx context.Context, cfg config, logger *slog.Logger, natsURL string, names []string, keyFile string) error {
	nc, err := bus.Connect(natsURL, names[0], cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if err := bus.EnsureStreams(js); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var ch driver.Conn
	if slices.Contains(names, schemas.StageLoad) || slices.Contains(names, schemas.StageNotify) {
		ch, err = warehouse.Open(ctx, cfg.ClickHouse)
		if err != nil {
			return err
		}
		defer ch.Close()
		if err := warehouse.Migrate(ctx, ch, cfg.ClickHouse.Database, schemas.Datasets); err != nil {
			return err
		}
	}
	var tenants platform.Tenants
	if slices.Contains(names, schemas.StageIngest) || slices.Contains(names, schemas.StageNotify) {
		if tenants, err = platform.LoadTenants(cfg.TenantsFile); err != nil {
			return err
		}
	}

	var secrets *platform.Secrets
	if slices.ContainsFunc(names, func(n string) bool {
		return n == schemas.StageIngest || n == schemas.StageValidate || n == schemas.StageTransform
	}) {
		key, err := platform.SecretKey(cfg.SecretKey, keyFile)
		if err != nil {
			return err
		}
		if secrets, err = platform.NewSecrets(key); err != nil {
			return err
		}
	}

	var stages []stage
	for _, name := range names {
		m, err := platform.NewMetrics(reg, name)
		if err != nil {
			return err
		}
		s, err := newStage(name, cfg, nc, ch, tenants, secrets, m, reg, logger)
		if err != nil {
			return err
		}
		stages = append(stages, s)
	}

	healthy := func() error {
		if !nc.IsConnected() {
			return errors.New("nats: not connected")
		}
		if ch != nil {
			if err := ch.Ping(ctx); err != nil {
				return fmt.Errorf("clickhouse: %w", err)
			}
		}
		for _, s := range stages {
			select {
			case <-s.Running():
			default:
				return errors.New("stages starting")
			}
		}
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range stages {
		g.Go(func() error { return s.Run(ctx) })
	}
	g.Go(func() error { return platform.Serve(ctx, cfg.MetricsAddr, reg, healthy, cfg.Pprof) })
	logger.Info("sluice: running", "stages", names, "metrics", "http://"+cfg.MetricsAddr+"/metrics")
	return g.Wait()
}

// newStage builds the stage called name from its part of cfg.
func newStage(name string, cfg config, nc *nats.Conn, ch driver.Conn, tenants platform.Tenants, secrets *platform.Secrets,
	m *platform.Metrics, reg prometheus.Registerer, logger *slog.Logger) (stage, error) {
	logger = logger.With("stage", name)
	switch name {
	case schemas.StageIngest:
		return ingest.New(cfg.stages.ingest, nc, ingest.S3Store{Client: platform.NewS3Client(cfg.S3)}, tenants, secrets, m, logger)
	case schemas.StageValidate:
		return validate.New(cfg.stages.validate, nc, secrets, m, logger)
	case schemas.StageTransform:
		return transform.New(cfg.stages.transform, nc, secrets, m, logger)
	case schemas.StageLoad:
		return load.New(cfg.stages.load, nc, &load.ClickHouse{Conn: ch, Database: cfg.ClickHouse.Database}, m, logger)
	case schemas.StageNotify:
		return notify.New(cfg.stages.notify, nc, &notify.ClickHouse{Conn: ch, Database: cfg.ClickHouse.Database},
			notify.SMTP{Addr: cfg.SMTPAddr, From: cfg.MailFrom}, tenants, m, reg, logger)
	}
	return nil, fmt.Errorf("unknown stage %q", name)
}
