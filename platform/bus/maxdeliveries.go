package bus

import (
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
)

// ErrTooManyDeliveries is the reason a message JetStream has delivered
// MaxDeliver times goes to the poison queue without running its handler again
// (each earlier delivery ended without an ack: a crash or a timeout).
var ErrTooManyDeliveries = errors.New("delivered too many times without an ack")

// MaxDeliveries stops a message on its last delivery, so that it reaches the
// poison queue instead of staying unacked in the stream.
func MaxDeliveries(maxDeliver int) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			if n := Delivered(msg); maxDeliver > 0 && n >= maxDeliver {
				return nil, fmt.Errorf("%w (%d of %d)", ErrTooManyDeliveries, n, maxDeliver)
			}
			return h(msg)
		}
	}
}
