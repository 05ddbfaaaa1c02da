package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// expireEvery is how often `sluice expire` (and `sluice up`) deletes the
// personal data that has outlived SLUICE_PERSONAL_DATA_TTL.
const expireEvery = time.Hour

// migrateWarehouse creates or updates ClickHouse's tables (on the cluster
// SLUICE_CLICKHOUSE_CLUSTER names, if set), and deletes the personal data
// that has expired, as the migration user: the only one with DDL, which a
// delete is on 18.16.
func migrateWarehouse(ctx context.Context, cfg config, logger *slog.Logger) error {
	ch, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Migrate)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := warehouse.MigrateCluster(ctx, ch, cfg.ClickHouse.Database, cfg.ClickHouse.Cluster, schemas.Datasets, cfg.PersonalDataTTL); err != nil {
		return err
	}
	if err := warehouse.ExpireCluster(ctx, ch, cfg.ClickHouse.Database, cfg.ClickHouse.Cluster, schemas.Datasets, cfg.PersonalDataTTL); err != nil {
		return err
	}
	logger.Info("sluice: clickhouse migrated", "addr", cfg.ClickHouse.Addr, "cluster", cfg.ClickHouse.Cluster, "user", cfg.ClickHouse.Migrate.Name)
	return nil
}

// expire deletes, every expireEvery until ctx ends, the personal data in
// ClickHouse older than SLUICE_PERSONAL_DATA_TTL (see warehouse.Expire), as
// the migration user. A failed round is logged and tried again at the next.
func expire(ctx context.Context, cfg config, logger *slog.Logger) error {
	ch, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Migrate)
	if err != nil {
		return err
	}
	defer ch.Close()
	tick := time.NewTicker(expireEvery)
	defer tick.Stop()
	for {
		if err := warehouse.ExpireCluster(ctx, ch, cfg.ClickHouse.Database, cfg.ClickHouse.Cluster, schemas.Datasets, cfg.PersonalDataTTL); err != nil {
			logger.Warn("sluice: expire personal data", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
