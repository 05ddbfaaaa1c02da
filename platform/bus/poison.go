package bus

import (
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// poisonQueue sends a message whose handler failed with a permanent error
// to the stage's poison subject (sluice.dlq.poison.<stage>), with the reason
// in its metadata, counts it, and announces that its import failed
// (schemas.EventFailed); the message is then acked. A transient error passes
// on, to be nak'd. A message whose publish to the poison subject or whose
// announcement fails is not acked, and comes back.
func poisonQueue(pub message.Publisher, stage string, m *platform.Metrics) (message.HandlerMiddleware, error) {
	poison, err := middleware.PoisonQueueWithFilter(pub, schemas.PoisonSubject(stage), func(err error) bool {
		if platform.IsTransient(err) {
			return false
		}
		m.Poisoned.Inc()
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("bus: poison queue: %w", err)
	}
	failed := schemas.Violation{Code: schemas.CodeFailed, Message: schemas.MsgFailed(stage)}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			poisoned := false
			out, err := poison(func(msg *message.Message) ([]*message.Message, error) {
				out, err := h(msg)
				poisoned = err != nil && !platform.IsTransient(err)
				return out, err
			})(msg)
			if err == nil && poisoned {
				err = announce(pub, stage, schemas.EventFailed, msg, failed)
			}
			return out, err
		}
	}, nil
}
