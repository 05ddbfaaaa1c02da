package bus

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
)

// timing observes how long each message took to handle, by result (ok or
// error), in the stage's message duration histogram.
func timing(m *platform.Metrics) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			start := time.Now()
			out, err := h(msg)
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.Chunk.WithLabelValues(result).Observe(time.Since(start).Seconds())
			return out, err
		}
	}
}
