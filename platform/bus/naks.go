package bus

import (
	"errors"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// naks counts the deliveries of each message that ended in a nak for an
// outage (see waitOutages), so that the delivery limit counts only the
// deliveries that ended with no answer: a crash or a timeout. JetStream's
// own count has both. The count lives in the NaksBucket KV bucket, keyed by
// the message's delivery (sequence), so that it outlives the process; its
// entries expire with the bucket's MaxAge.
type naks struct{ kv nats.KeyValue }

func naksKey(msg *message.Message) string { return sequence(msg) }

// of returns how many deliveries of msg were nak'd for an outage; 0 on the
// first delivery, without asking.
func (n naks) of(msg *message.Message) int {
	key := naksKey(msg)
	if n.kv == nil || key == "" || Delivered(msg) < 2 {
		return 0
	}
	e, err := n.kv.Get(key)
	if err != nil {
		return 0 // not found, or NATS away: every delivery counts
	}
	c, _ := strconv.Atoi(string(e.Value()))
	return c
}

// add records one more nak of msg.
func (n naks) add(msg *message.Message, had int) error {
	key := naksKey(msg)
	if n.kv == nil || key == "" {
		return nil
	}
	_, err := n.kv.Put(key, []byte(strconv.Itoa(had+1)))
	return err
}

// forget drops msg's count once it is handled.
func (n naks) forget(msg *message.Message, had int) error {
	if n.kv == nil || had == 0 {
		return nil
	}
	if err := n.kv.Purge(naksKey(msg)); err != nil && !errors.Is(err, nats.ErrKeyNotFound) {
		return err
	}
	return nil
}
