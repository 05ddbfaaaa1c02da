package bus

import (
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// topics is a publisher that keeps each message with its topic.
type topics struct {
	topic []string
	msgs  []*message.Message
	err   error
}

func (p *topics) Publish(topic string, msgs ...*message.Message) error {
	if p.err != nil {
		return p.err
	}
	for _, m := range msgs {
		p.topic, p.msgs = append(p.topic, topic), append(p.msgs, m)
	}
	return nil
}
func (p *topics) Close() error { return nil }

func TestPoisonQueue(t *testing.T) {
	errHandler := errors.New("cannot decode")
	errPublish := errors.New("nats down")
	cases := []struct {
		name       string
		handlerErr error
		publishErr error
		wantErr    error // what the middleware returns: nil acks the message
		wantSent   bool
	}{
		{name: "success passes through", wantErr: nil},
		{name: "failure goes to the poison subject and is acked", handlerErr: errHandler, wantSent: true},
		{name: "failed publish is not acked", handlerErr: errHandler, publishErr: errPublish, wantErr: errPublish},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := platform.NewMetrics(prometheus.NewRegistry(), "test")
			if err != nil {
				t.Fatal(err)
			}
			pub := &topics{err: tc.publishErr}
			poison, err := poisonQueue(pub, "load", m)
			if err != nil {
				t.Fatal(err)
			}
			msg := message.NewMessage(watermill.NewUUID(), []byte("payload"))
			_, err = poison(func(*message.Message) ([]*message.Message, error) { return nil, tc.handlerErr })(msg)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if got := len(pub.msgs) == 1; got != tc.wantSent {
				t.Fatalf("sent to poison = %v (%d messages), want %v", got, len(pub.msgs), tc.wantSent)
			}
			if tc.wantSent {
				if pub.topic[0] != schemas.PoisonSubject("load") {
					t.Errorf("topic = %q, want %q", pub.topic[0], schemas.PoisonSubject("load"))
				}
				if got := pub.msgs[0].Metadata.Get(middleware.ReasonForPoisonedKey); got != errHandler.Error() {
					t.Errorf("reason = %q, want %q", got, errHandler.Error())
				}
				if string(pub.msgs[0].Payload) != "payload" {
					t.Errorf("payload = %q, want the original", pub.msgs[0].Payload)
				}
			}
			want := 0.0
			if tc.handlerErr != nil {
				want = 1 // counted when the poison queue takes it, sent or not
			}
			if got := testutil.ToFloat64(m.Poisoned); got != want {
				t.Errorf("poisoned counter = %v, want %v", got, want)
			}
		})
	}
}
