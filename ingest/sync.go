package ingest

import (
	"context"
	"crypto/rand"
	"strings"
	"time"
)

// Sync imports every object of the bucket that no event brought: it lists
// the bucket and imports each object older than the grace period (its event
// may still be on its way) whose upload was never claimed, or whose import
// stopped unfinished (Ledger.Taken). It returns how many objects it
// imported. Several instances may sync at once, and an event may come late:
// the claims keep each upload to one import.
func (s *Stage) Sync(ctx context.Context) (int, error) {
	n := 0
	// This run holds what it claims: another run, here or elsewhere, takes
	// a claim it left unfinished over only once its lease has lapsed.
	holder := "sync " + rand.Text()
	err := s.store.List(ctx, s.cfg.Bucket, func(ref ObjectRef) error {
		if time.Since(ref.Time) < s.cfg.SyncGrace {
			return nil
		}
		taken, err := s.ledger.Taken(ref)
		if err != nil || taken {
			return err
		}
		md, err := s.store.Metadata(ctx, ref.Bucket, ref.Key)
		if err != nil {
			return err
		}
		ref.Uploader, ref.Meta = uploader(md), md
		ref.Version = "etag:" + strings.Trim(ref.ETag, `"`)
		s.logger.Warn("ingest: the bucket sync found an object no event brought", "key", ref.Key)
		s.metrics.Rows.WithLabelValues("synced_file").Inc()
		n++
		return s.Ingest(ctx, ref, holder, func() {})
	})
	return n, err
}

// syncEvery runs Sync every SyncInterval until ctx ends.
func (s *Stage) syncEvery(ctx context.Context) {
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("ingest: bucket sync", "err", err)
			}
		}
	}
}
