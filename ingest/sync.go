package ingest

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// The bucket sync runs when it is asked for on schemas.SubjectSyncRun, by
// one ingest instance (their shared consumer, SyncConsumer): at the wall-clock
// time the operator sets, through a JetStream message schedule that `sluice
// migrate` puts on the SYNC stream (SyncSchedule, bus.EnsureSchedule), which
// the server fires once however many instances run; and as an instance
// starts (askStartUpSync), once for instances that start together.

// syncStartUpMsgID is the Nats-Msg-Id of the request an instance sends as
// it starts: instances that start within bus.DuplicateWindow of each other
// ask once.
const syncStartUpMsgID = "sync.start-up"

// syncTimeout bounds one sync: it ends well before the next day's.
const syncTimeout = 12 * time.Hour

// SyncSchedule is the schedule of the bucket sync cfg sets: SyncAt is a
// time of day ("02:00", every day) or a cron expression as nats-server
// reads it (six fields, seconds first, or @daily, @hourly, ...), in
// SyncTimeZone (an IANA zone).
func SyncSchedule(cfg Config) (bus.Schedule, error) {
	cfg.setDefaults()
	if _, err := time.LoadLocation(cfg.SyncTimeZone); err != nil {
		return bus.Schedule{}, fmt.Errorf("ingest: SyncTimeZone %q: %w", cfg.SyncTimeZone, err)
	}
	s := bus.Schedule{Cron: cfg.SyncAt, TimeZone: cfg.SyncTimeZone}
	if at, err := time.Parse("15:04", cfg.SyncAt); err == nil {
		s.Cron = fmt.Sprintf("0 %d %d * * *", at.Minute(), at.Hour())
		return s, nil
	}
	if !strings.HasPrefix(cfg.SyncAt, "@") && len(strings.Fields(cfg.SyncAt)) != 6 {
		return bus.Schedule{}, fmt.Errorf("ingest: SyncAt %q is neither a time of day (HH:MM) nor a cron expression of six fields", cfg.SyncAt)
	}
	if strings.HasPrefix(cfg.SyncAt, "@every") || strings.HasPrefix(cfg.SyncAt, "@at") {
		s.TimeZone = "" // the server takes no zone with these
	}
	return s, nil
}

// SyncConsumer is ingest's durable consumer of the requests for a bucket
// sync: `sluice migrate` creates it, New binds to it when cfg has a Bucket.
// One instance handles each request, sending in-progress acks while it
// lists and imports.
func SyncConsumer(cfg Config) bus.Consumer {
	cfg.setDefaults()
	return bus.Consumer{
		Name:           schemas.DurableIngestSync,
		Stream:         schemas.StreamSync,
		Subject:        schemas.SubjectSyncRun,
		AckWait:        cfg.AckWait,
		HandlerTimeout: syncTimeout,
		MaxDeliver:     cfg.MaxDeliver,
		Horizon:        cfg.Horizon,
		Concurrency:    1,
	}
}

// askStartUpSync asks for a bucket sync as the instance starts. A request
// that cannot be sent is logged: the next scheduled sync does its work.
func (s *Stage) askStartUpSync() {
	if err := bus.Publish(s.Pub, schemas.SubjectSyncRun, syncStartUpMsgID, bus.SyncAtStartUp); err != nil {
		s.logger.Error("ingest: could not ask for the start-up bucket sync", "err", err)
	}
}

// handleSync runs the bucket sync a request asks for. An object that
// fails is logged and left to the next sync (its claim is released); only a
// bucket that cannot be listed fails the request, which is then retried.
func (s *Stage) handleSync(msg *message.Message) error {
	var by string
	if err := bus.Decode(msg, &by); err != nil {
		return err
	}
	stop := bus.Working(s.nc, msg, s.cfg.AckWait/3)
	defer stop()
	imported, failed, err := s.Sync(msg.Context())
	s.logger.Info("ingest: bucket sync done", "by", by, "imported", imported, "failed", failed, "err", err)
	return err
}

// Sync imports every object of the bucket that no event brought: it lists
// the bucket and imports each object older than the grace period (its event
// may still be on its way) whose upload was never claimed, or whose import
// stopped unfinished (Ledger.Taken). It returns how many objects it
// imported and how many failed: an object that cannot be read or imported
// is logged and the sync goes on with the others. Only a listing that
// fails is an error. Several instances may sync at once, and an event may
// come late: the claims keep each upload to one import.
func (s *Stage) Sync(ctx context.Context) (imported, failed int, err error) {
	// This run holds what it claims: another run, here or elsewhere, takes
	// a claim it left unfinished over only once its lease has lapsed.
	holder := "sync " + rand.Text()
	err = s.store.List(ctx, s.cfg.Bucket, func(ref ObjectRef) error {
		if time.Since(ref.Time) < s.cfg.SyncGrace {
			return nil
		}
		found, err := s.syncObject(ctx, ref, holder)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			failed++
			s.metrics.Rows.WithLabelValues("sync_failed_file").Inc()
			s.logger.Error("ingest: the bucket sync could not import an object; the next sync tries again", "key", ref.Key, "err", err)
		case found:
			imported++
		}
		return nil
	})
	return imported, failed, err
}

// syncObject imports ref unless its upload was claimed already, and says
// whether it did.
func (s *Stage) syncObject(ctx context.Context, ref ObjectRef, holder string) (bool, error) {
	taken, err := s.ledger.Taken(ref)
	if err != nil || taken {
		return false, err
	}
	md, err := s.store.Metadata(ctx, ref.Bucket, ref.Key)
	if err != nil {
		return false, err
	}
	ref.Uploader, ref.Meta = uploader(md), md
	ref.Version = "etag:" + strings.Trim(ref.ETag, `"`)
	s.logger.Warn("ingest: the bucket sync found an object no event brought", "key", ref.Key)
	s.metrics.Rows.WithLabelValues("synced_file").Inc()
	return true, s.Ingest(ctx, ref, holder, func() {})
}
