package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/transform"
	"github.com/sluicehq/sluice/validate"
)

// migrateNATS creates or updates the streams, the KV buckets and every
// stage's durable consumer, as cfg configures the stage: the stages' users
// may only look their consumer up and bind to it (deploy/nats.conf). The
// DLQ's MaxAge is SLUICE_PERSONAL_DATA_TTL.
func migrateNATS(ctx context.Context, cfg config, natsURL string, logger *slog.Logger) error {
	consumers, err := stageConsumers(cfg.stages)
	if err != nil {
		return err
	}
	nc, err := bus.Connect(natsURL, "migrate", cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if err := bus.EnsureStreams(js, cfg.NATSReplicas, cfg.PersonalDataTTL); err != nil {
		return err
	}
	for _, c := range consumers {
		if err := bus.EnsureConsumer(js, c); err != nil {
			return err
		}
	}
	if err := migrateSyncSchedule(ctx, nc, cfg); err != nil {
		return err
	}
	logger.Info("sluice: nats migrated", "url", natsURL)
	return nil
}

// migrateSyncSchedule puts the bucket sync's schedule (SLUICE_SYNC_AT, in
// SLUICE_SYNC_TIME_ZONE) on the SYNC stream, and creates ingest's consumer
// of what it fires.
func migrateSyncSchedule(ctx context.Context, nc *nats.Conn, cfg config) error {
	schedule, err := ingest.SyncSchedule(cfg.stages.ingest)
	if err != nil {
		return err
	}
	if err := bus.EnsureSchedule(ctx, nc, cfg.NATSReplicas, schedule); err != nil {
		return err
	}
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	return bus.EnsureConsumer(js, ingest.SyncConsumer(cfg.stages.ingest))
}

// stageConsumers is every stage's durable consumer, from its configuration.
func stageConsumers(s stageConfigs) ([]bus.Consumer, error) {
	in, inErr := ingest.Consumer(s.ingest)
	va, vaErr := validate.Consumer(s.validate)
	tr, trErr := transform.Consumer(s.transform)
	lo, loErr := load.Consumer(s.load)
	no, noErr := notify.Consumer(s.notify)
	if err := errors.Join(inErr, vaErr, trErr, loErr, noErr); err != nil {
		return nil, err
	}
	return []bus.Consumer{in, va, tr, lo, no}, nil
}
