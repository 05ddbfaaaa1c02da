package ingest

import (
	"context"
	"strings"
	"time"
)

// Sync imports every object of the bucket that no event brought: it lists
// the bucket and imports each object older than the grace period (its event
// may still be on its way) whose content was never claimed. It returns how
// many objects it imported. Several instances may sync at once: the claims
// keep each object to one import.
func (s *Stage) Sync(ctx context.Context) (int, error) {
	n := 0
	err := s.store.List(ctx, s.cfg.Bucket, func(ref ObjectRef) error {
		if time.Since(ref.Time) < s.cfg.SyncGrace {
			return nil
		}
		seen, err := s.ledger.Seen(ref.Bucket, ref.Key, ref.ETag)
		if err != nil || seen {
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
		return s.Ingest(ctx, ref, func() {})
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
