package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// ErrOutageTooLong is the reason a message whose part stayed away past the
// stage's horizon goes to the poison queue.
var ErrOutageTooLong = errors.New("a part stayed away past the horizon")

// waitOutages lets a message wait out an outage: when its handler fails
// with a transient error (platform.IsTransient), the error goes up to the
// router, which naks the message with a growing delay (backoff), and the nak
// is recorded (attempts); nothing is poisoned. Once the message has waited longer
// than horizon since it was stored, its error is made permanent. A message
// handled after a nak drops its count.
//
// It announces that the message's import waits (schemas.EventWaiting), once
// per part and delivery.
func waitOutages(pub message.Publisher, stage string, horizon time.Duration, counts attempts, m *platform.Metrics, logger *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil {
				if ferr := counts.forget(msg); ferr != nil {
					logger.Warn("bus: forget attempts", "message", msg.UUID, "err", ferr)
				}
				return out, nil
			}
			if !platform.IsTransient(err) {
				return out, err
			}
			if at := stored(msg); !at.IsZero() && time.Since(at) > horizon {
				return out, platform.Permanent(fmt.Errorf("%w (%s): %w", ErrOutageTooLong, horizon, err))
			}
			part := string(platform.PartOf(err))
			m.Waiting.WithLabelValues(part).Inc()
			had := counts.of(msg)
			had.Naks++
			if Delivered(msg) < 2 {
				had.Starts++ // a first delivery's start is recorded with its nak
			}
			if aerr := counts.put(msg, had); aerr != nil {
				logger.Warn("bus: record a nak", "message", msg.UUID, "err", aerr)
			}
			logger.Warn("bus: waiting for a part", "part", part, "message", msg.UUID, "delivered", Delivered(msg), "err", err)
			if part != string(platform.PartNATS) {
				waiting := schemas.Violation{Code: schemas.CodeWaiting, Message: schemas.MsgWaiting(part)}
				if aerr := announce(pub, stage, schemas.EventWaiting, msg, waiting); aerr != nil {
					logger.Warn("bus: announce waiting", "message", msg.UUID, "err", aerr)
				}
			}
			return out, err
		}
	}
}

// backoff is the delay of the nak of a message's delivery n: it doubles
// from min up to max.
type backoff struct{ min, max time.Duration }

// WaitTime implements watermill-nats's Delay.
func (b backoff) WaitTime(n uint64) time.Duration {
	d := b.min
	for i := uint64(1); i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}
