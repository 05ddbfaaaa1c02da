package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	if err := migrate(ctx, cfg, ns.ClientURL(), logger); err != nil {
		return err
	}
	return runAll(ctx, cfg, logger, ns.ClientURL(), false)
}

// runAll runs every stage, the expiry of personal data in ClickHouse
// (`sluice expire`) and the web console in this process: `sluice up` and
// the demo.
func runAll(ctx context.Context, cfg config, logger *slog.Logger, natsURL string, demo bool) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runStages(ctx, cfg, logger, natsURL, schemas.Stages, demo) })
	g.Go(func() error { return expire(ctx, cfg, logger) })
	g.Go(func() error { return runConsole(ctx, cfg, natsURL, logger) })
	return g.Wait()
}

// runStages connects to NATS and runs the named stages, with one metrics and
// health server, until ctx ends or a stage fails. Only the demo may use
// the demo's secret key.
func runStages(ctx context.Context, cfg config, logger *slog.Logger, natsURL string, names []string, demo bool) error {
	var res resources
	defer res.close()
	if err := res.open(ctx, cfg.Config, natsURL, names, demo, logger); err != nil {
		return err
	}
	reg := newRegistry()
	stages, err := newStages(names, cfg, &res, reg, logger)
	if err != nil {
		return err
	}
	if err := registerCollector(reg, res.nc, cfg, names); err != nil {
		return err
	}
	logger.Info("sluice: running", "stages", names, "metrics", "http://"+cfg.MetricsAddr+"/metrics")
	return serve(ctx, cfg.Config, &res, stages, reg)
}

// resources is what the stages of one process share: the NATS connection,
// and what only some stages use, opened only when one of them runs. Load
// and notify each have their own ClickHouse user, so each its own
// connection.
type resources struct {
	nc       *nats.Conn
	chLoad   driver.Conn           // load
	chNotify driver.Conn           // notify
	tenants  *platform.TenantsFile // ingest and notify
	secrets  *platform.Secrets     // ingest, validate and transform
}

// open reads the secret keys first (a stage with no key, or a published
// one, does not start), connects to NATS at natsURL, as the first of names,
// and opens what the named stages use; `sluice migrate` has created their
// streams and consumers. close releases what it opened, even when it failed.
func (r *resources) open(ctx context.Context, cfg platform.Config, natsURL string, names []string, demo bool, logger *slog.Logger) error {
	var err error
	if r.secrets, err = loadSecrets(cfg, demo, names); err != nil {
		return err
	}
	if r.nc, err = bus.Connect(natsURL, names[0], cfg.NATSUser, cfg.NATSPassword); err != nil {
		return err
	}
	if r.chLoad, err = openWarehouse(ctx, cfg.ClickHouse, cfg.ClickHouse.Load, names, schemas.StageLoad); err != nil {
		return err
	}
	if r.chNotify, err = openWarehouse(ctx, cfg.ClickHouse, cfg.ClickHouse.Notify, names, schemas.StageNotify); err != nil {
		return err
	}
	r.tenants, err = loadTenants(cfg.TenantsFile, names, logger)
	return err
}

// close closes the connections open opened.
func (r *resources) close() {
	for _, ch := range r.warehouses() {
		ch.Close()
	}
	if r.nc != nil {
		r.nc.Close()
	}
}

// warehouses are the ClickHouse connections open opened.
func (r *resources) warehouses() []driver.Conn {
	var out []driver.Conn
	for _, ch := range []driver.Conn{r.chLoad, r.chNotify} {
		if ch != nil {
			out = append(out, ch)
		}
	}
	return out
}

// runs reports whether one of the stages runs among names.
func runs(names []string, stages ...string) bool {
	return slices.ContainsFunc(names, func(name string) bool { return slices.Contains(stages, name) })
}

// openWarehouse connects to ClickHouse as user when stage runs among names;
// nil otherwise. The stages do not migrate: their users have no DDL
// (`sluice migrate` does it, as the migration user).
func openWarehouse(ctx context.Context, cfg platform.ClickHouseConfig, user platform.ClickHouseUser, names []string, stage string) (driver.Conn, error) {
	if !runs(names, stage) {
		return nil, nil
	}
	return warehouse.Open(ctx, cfg, user)
}

// loadTenants reads the tenants file when ingest or notify runs, to follow
// its changes while they run (see serve); nil otherwise.
func loadTenants(file string, names []string, logger *slog.Logger) (*platform.TenantsFile, error) {
	if !runs(names, schemas.StageIngest, schemas.StageNotify) {
		return nil, nil
	}
	return platform.OpenTenants(file, logger)
}

// loadSecrets reads the secret keys (see platform.LoadSecrets) when a stage
// that handles plaintext secrets runs (notify: the passwords set from
// invitations); nil otherwise.
func loadSecrets(cfg platform.Config, demo bool, names []string) (*platform.Secrets, error) {
	if !runs(names, schemas.StageIngest, schemas.StageValidate, schemas.StageTransform, schemas.StageNotify) {
		return nil, nil
	}
	return platform.LoadSecrets(cfg.SecretKey, cfg.SecretKeyPrevious, demo)
}

// newRegistry returns the process's metrics registry, with the Go runtime's
// and the process's collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newStages builds the named stages, each with its metrics.
func newStages(names []string, cfg config, res *resources, reg *prometheus.Registry, logger *slog.Logger) ([]stage, error) {
	var stages []stage
	for _, name := range names {
		m, err := platform.NewMetrics(reg, name)
		if err != nil {
			return nil, err
		}
		s, err := newStage(name, cfg, res, m, logger)
		if err != nil {
			return nil, err
		}
		stages = append(stages, s)
	}
	return stages, nil
}

// registerCollector registers the JetStream collector (bus.Collector) of
// the named stages' durable consumers, each named after its stage, and
// ingest's bucket sync's; with the DLQ's depth when notify runs among
// them, notify being its one exporter.
func registerCollector(reg *prometheus.Registry, nc *nats.Conn, cfg config, names []string) error {
	all, err := stageConsumers(cfg.stages)
	if err != nil {
		return err
	}
	var mine []bus.Consumer
	for _, c := range all {
		if slices.Contains(names, c.Name) {
			mine = append(mine, c)
		}
	}
	if runs(names, schemas.StageIngest) {
		mine = append(mine, ingest.SyncConsumer(cfg.stages.ingest))
	}
	c, err := bus.NewCollector(nc, mine, runs(names, schemas.StageNotify))
	if err != nil {
		return err
	}
	return reg.Register(c)
}

// serve runs the stages and the metrics and health server until ctx ends
// or one of them fails.
func serve(ctx context.Context, cfg platform.Config, res *resources, stages []stage, reg *prometheus.Registry) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range stages {
		g.Go(func() error { return s.Run(ctx) })
	}
	g.Go(func() error { return platform.Serve(ctx, cfg.MetricsAddr, reg, health(ctx, res, stages), cfg.Pprof) })
	if res.tenants != nil {
		g.Go(func() error { res.tenants.Watch(ctx); return nil })
	}
	return g.Wait()
}

// health reports whether the process serves: NATS connected, ClickHouse
// answering when a stage uses it, and every stage consuming.
func health(ctx context.Context, res *resources, stages []stage) func() error {
	return func() error {
		if !res.nc.IsConnected() {
			return errors.New("nats: not connected")
		}
		for _, ch := range res.warehouses() {
			if err := ch.Ping(ctx); err != nil {
				return fmt.Errorf("clickhouse: %w", err)
			}
		}
		if !allRunning(stages) {
			return errors.New("stages starting")
		}
		return nil
	}
}

// allRunning reports whether every stage consumes.
func allRunning(stages []stage) bool {
	for _, s := range stages {
		select {
		case <-s.Running():
		default:
			return false
		}
	}
	return true
}

// newStage builds the stage called name from its part of cfg.
func newStage(name string, cfg config, res *resources, m *platform.Metrics, logger *slog.Logger) (stage, error) {
	nc, tenants, secrets := res.nc, res.tenants, res.secrets
	logger = logger.With("stage", name)
	switch name {
	case schemas.StageIngest:
		return ingest.New(cfg.stages.ingest, nc, ingest.S3Store{Client: platform.NewS3Client(cfg.S3)}, tenants, secrets, m, logger)
	case schemas.StageValidate:
		return validate.New(cfg.stages.validate, nc, secrets, m, logger)
	case schemas.StageTransform:
		return transform.New(cfg.stages.transform, nc, secrets, m, logger)
	case schemas.StageLoad:
		return load.New(cfg.stages.load, nc, &load.ClickHouse{Conn: res.chLoad, Database: cfg.ClickHouse.Database}, m, logger)
	case schemas.StageNotify:
		return notify.New(cfg.stages.notify, nc, &notify.ClickHouse{Conn: res.chNotify, Database: cfg.ClickHouse.Database},
			notify.SMTP{Addr: cfg.SMTPAddr, From: cfg.MailFrom}, tenants, secrets, m, logger)
	}
	return nil, fmt.Errorf("unknown stage %q", name)
}
