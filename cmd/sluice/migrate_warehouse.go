package main

import (
	"context"
	"log/slog"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// migrateWarehouse creates or updates ClickHouse's tables.
func migrateWarehouse(ctx context.Context, cfg config, logger *slog.Logger) error {
	ch, err := warehouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := warehouse.Migrate(ctx, ch, cfg.ClickHouse.Database, schemas.Datasets); err != nil {
		return err
	}
	logger.Info("sluice: clickhouse migrated", "addr", cfg.ClickHouse.Addr)
	return nil
}
