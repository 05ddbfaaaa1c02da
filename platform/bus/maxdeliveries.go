package bus

import (
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
)

// ErrTooManyDeliveries is the reason a message whose handling ended
// MaxDeliver times with no answer (a crash or a timeout, not a nak for an
// outage) goes to the poison queue without running its handler again.
var ErrTooManyDeliveries = errors.New("delivered too many times without an ack")

// handlings is what MaxDeliveries needs of the attempts record: starting
// returns how many handlings of msg ended with no answer, and records that
// one starts, unless they reach maxDeliver.
type handlings interface {
	starting(msg *message.Message, maxDeliver int) (crashed int)
}

// MaxDeliveries stops a message before its handler starts for the
// MaxDeliver-th time after ending with no answer, so that it reaches the
// poison queue instead of crashing its stage again and again. A delivery
// nak'd for an outage, or held by a process that died before starting it,
// does not count; the first delivery's fate is not known, and counts as
// that MaxDeliver-th.
func MaxDeliveries(maxDeliver int, h handlings) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			if Delivered(msg) < 2 {
				return next(msg)
			}
			if n := h.starting(msg, maxDeliver); maxDeliver > 0 && n+1 >= maxDeliver {
				return nil, platform.Permanent(fmt.Errorf("%w (%d of %d)", ErrTooManyDeliveries, n+1, maxDeliver))
			}
			return next(msg)
		}
	}
}
