package bus

import (
	"encoding/json"
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

// TestPoisonAnnouncesFailure: a poisoned message of an import (here an
// import event) is followed by the import's failed event, which names the
// stage; a chunk too.
func TestPoisonAnnouncesFailure(t *testing.T) {
	imp := schemas.Import{ID: "imp9", Tenant: "acme", Dataset: "clients"}
	event, _ := json.Marshal(schemas.ImportEvent{Type: schemas.EventProgress, Import: imp, Chunk: 3})
	chunks := &capture{}
	if err := PublishChunk(chunks, "x", "id", &schemas.Chunk{Import: imp, Number: 4}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		msg       *message.Message
		wantChunk int
	}{
		{"event", message.NewMessage(watermill.NewUUID(), event), 3},
		{"chunk", chunks.msgs[0], 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := platform.NewMetrics(prometheus.NewRegistry(), "test")
			if err != nil {
				t.Fatal(err)
			}
			pub := &topics{}
			poison, err := poisonQueue(pub, "load", m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := poison(func(*message.Message) ([]*message.Message, error) { return nil, errors.New("broken") })(tc.msg); err != nil {
				t.Fatalf("error = %v, want the message acked", err)
			}
			if len(pub.msgs) != 2 || pub.topic[1] != schemas.ImportSubject(schemas.EventFailed, "imp9") {
				t.Fatalf("published to %q, want the poison subject then the failed event", pub.topic)
			}
			var ev schemas.ImportEvent
			if err := json.Unmarshal(pub.msgs[1].Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != schemas.EventFailed || ev.Chunk != tc.wantChunk || ev.Reason == nil || ev.Reason.Code != schemas.CodeFailed ||
				ev.Reason.Message != schemas.MsgFailed("load") {
				t.Errorf("failed event = %+v, want chunk %d, reason %q", ev, tc.wantChunk, schemas.MsgFailed("load"))
			}
			if got, want := pub.msgs[1].UUID, schemas.MsgID("imp9", schemas.TokenFailed+"load", tc.wantChunk); got != want {
				t.Errorf("Msg-Id = %q, want %q", got, want)
			}
		})
	}
}
