package bus

import (
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
)

// ErrTooManyDeliveries is the reason a message whose deliveries ended
// MaxDeliver times with no answer (a crash or a timeout, not a nak for an
// outage) goes to the poison queue without running its handler again.
var ErrTooManyDeliveries = errors.New("delivered too many times without an ack")

// MaxDeliveries stops a message on its last allowed delivery, so that it
// reaches the poison queue instead of crashing its stage again and again.
// Deliveries nak'd for an outage (counted by naks) do not count.
func MaxDeliveries(maxDeliver int, count func(*message.Message) int) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			n := Delivered(msg) - count(msg)
			if maxDeliver > 0 && n >= maxDeliver {
				return nil, platform.Permanent(fmt.Errorf("%w (%d of %d)", ErrTooManyDeliveries, n, maxDeliver))
			}
			return h(msg)
		}
	}
}
