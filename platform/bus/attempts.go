package bus

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// attempts records what became of the deliveries of a message that came
// back: how many times its handler started, and how many of those ended in
// a nak for an outage (see waitOutages). The delivery limit (MaxDeliveries)
// counts only the handlings that ended with no answer, a crash or a
// timeout: not the naks, which JetStream counts as deliveries too, and not
// a delivery its process held without starting it (killed with messages
// waiting in its buffer). The record lives in the NaksBucket KV bucket,
// keyed by the message's delivery (sequence), so that it outlives the
// process; a first delivery is not recorded unless it naks.
type attempts struct{ kv nats.KeyValue }

// attempt is the record of one message.
type attempt struct{ Starts, Naks int }

// crashes is how many recorded handlings of the message ended with no
// answer.
func (a attempt) crashes() int { return a.Starts - a.Naks }

func attemptsKey(msg *message.Message) string { return sequence(msg) }

// of returns msg's record; the zero record on its first delivery, without
// asking.
func (a attempts) of(msg *message.Message) attempt {
	key := attemptsKey(msg)
	if a.kv == nil || key == "" || Delivered(msg) < 2 {
		return attempt{}
	}
	e, err := a.kv.Get(key)
	if err != nil {
		return attempt{} // not found, or NATS away
	}
	var r attempt
	_, _ = fmt.Sscanf(string(e.Value()), "%d %d", &r.Starts, &r.Naks)
	return r
}

// put stores msg's record.
func (a attempts) put(msg *message.Message, r attempt) error {
	key := attemptsKey(msg)
	if a.kv == nil || key == "" {
		return nil
	}
	_, err := a.kv.Put(key, fmt.Appendf(nil, "%d %d", r.Starts, r.Naks))
	return err
}

// forget drops msg's record once it is handled; a first delivery has none.
func (a attempts) forget(msg *message.Message) error {
	if a.kv == nil || Delivered(msg) < 2 {
		return nil
	}
	if err := a.kv.Purge(attemptsKey(msg)); err != nil && !errors.Is(err, nats.ErrKeyNotFound) {
		return err
	}
	return nil
}

// tracked is the attempts record as MaxDeliveries uses it.
type tracked struct {
	attempts
	logger *slog.Logger
}

func (t tracked) starting(msg *message.Message, maxDeliver int) int {
	r := t.of(msg)
	if maxDeliver > 0 && r.crashes()+1 >= maxDeliver {
		return r.crashes()
	}
	r.Starts++
	if err := t.put(msg, r); err != nil {
		t.logger.Warn("bus: record a start", "message", msg.UUID, "err", err)
	}
	return r.crashes()
}
