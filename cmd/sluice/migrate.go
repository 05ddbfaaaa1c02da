package main

import (
	"context"
	"log/slog"
)

// migrate creates what the stages use and may not create themselves: the
// NATS streams, consumers and KV buckets (migrateNATS), and ClickHouse's
// tables (migrateWarehouse). It runs with the parts' admin users, before
// the stages start: `sluice migrate` in compose, and first thing in `sluice
// up` and the demo. It is safe to run again.
func migrate(ctx context.Context, cfg config, natsURL string, logger *slog.Logger) error {
	if err := migrateNATS(ctx, cfg, natsURL, logger); err != nil {
		return err
	}
	return migrateWarehouse(ctx, cfg, logger)
}
