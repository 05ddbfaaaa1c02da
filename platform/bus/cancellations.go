package bus

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/schemas"
)

// Cancellations says which imports are cancelled: an import of an object is,
// when the object's key was deleted from the bucket after the import's
// upload (seed 003's stop button is, for a partner of a bucket, deleting the
// file). A later upload of the key is an import of its own, not cancelled.
type Cancellations struct {
	KV nats.KeyValue
}

func cancelKey(bucket, key string) string {
	sum := sha256.Sum256([]byte(bucket + "/" + key))
	return hex.EncodeToString(sum[:])
}

// Cancel records that the object at bucket/key was deleted at, unless a
// later deletion is recorded (events may come again, and late).
func (c Cancellations) Cancel(bucket, key string, at time.Time) error {
	k := cancelKey(bucket, key)
	if e, err := c.KV.Get(k); err == nil {
		if was, perr := time.Parse(time.RFC3339Nano, string(e.Value())); perr == nil && !was.Before(at) {
			return nil
		}
	} else if !errors.Is(err, nats.ErrKeyNotFound) {
		return fmt.Errorf("bus: cancel %s: %w", key, err)
	}
	if _, err := c.KV.Put(k, []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("bus: cancel %s: %w", key, err)
	}
	return nil
}

// Cancelled reports whether the import is cancelled.
func (c Cancellations) Cancelled(imp *schemas.Import) (bool, error) {
	e, err := c.KV.Get(cancelKey(imp.Bucket, imp.Key))
	if errors.Is(err, nats.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bus: cancelled %s: %w", imp.Key, err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return false, fmt.Errorf("bus: cancelled %s: %w", imp.Key, err)
	}
	return !at.Before(imp.UploadedAt()), nil
}
