package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluicehq/sluice/platform/bus"
)

// migrateNATS creates or updates the streams and KV buckets.
func migrateNATS(_ context.Context, cfg config, natsURL string, logger *slog.Logger) error {
	nc, err := bus.Connect(natsURL, "migrate", cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if err := bus.EnsureStreams(js, cfg.NATSReplicas); err != nil {
		return err
	}
	logger.Info("sluice: nats migrated", "url", natsURL)
	return nil
}
