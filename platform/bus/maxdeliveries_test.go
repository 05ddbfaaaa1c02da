package bus_test

import (
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
)

func TestMaxDeliveries(t *testing.T) {
	errHandler := errors.New("handler failed")
	cases := []struct {
		name       string
		delivered  string // the Sluice-Delivered metadata; "": none
		maxDeliver int
		naks       int // deliveries nak'd for an outage
		handlerErr error
		wantRun    bool
		wantErr    error
	}{
		{name: "first delivery", delivered: "1", maxDeliver: 5, wantRun: true},
		{name: "below the limit", delivered: "4", maxDeliver: 5, wantRun: true},
		{name: "at the limit", delivered: "5", maxDeliver: 5, wantErr: bus.ErrTooManyDeliveries},
		{name: "over the limit", delivered: "9", maxDeliver: 5, wantErr: bus.ErrTooManyDeliveries},
		{name: "limit of one stops the first delivery", delivered: "1", maxDeliver: 1, wantErr: bus.ErrTooManyDeliveries},
		{name: "no metadata", maxDeliver: 5, wantRun: true},
		{name: "no limit", delivered: "100", maxDeliver: 0, wantRun: true},
		{name: "handler error passed on", delivered: "2", maxDeliver: 5, handlerErr: errHandler, wantRun: true, wantErr: errHandler},
		{name: "naks for an outage do not count", delivered: "40", maxDeliver: 5, naks: 36, wantRun: true},
		{name: "crashes between naks count", delivered: "40", maxDeliver: 5, naks: 35, wantErr: bus.ErrTooManyDeliveries},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			h := bus.MaxDeliveries(tc.maxDeliver, func(*message.Message) int { return tc.naks })(func(*message.Message) ([]*message.Message, error) {
				ran = true
				return nil, tc.handlerErr
			})
			msg := message.NewMessage(watermill.NewUUID(), []byte("{}"))
			if tc.delivered != "" {
				msg.Metadata.Set(bus.MetaDelivered, tc.delivered)
			}
			_, err := h(msg)
			if ran != tc.wantRun {
				t.Errorf("handler ran = %v, want %v", ran, tc.wantRun)
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("error = %v, want none", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantErr)
			}
			if errors.Is(err, bus.ErrTooManyDeliveries) && platform.IsTransient(err) {
				t.Errorf("error %v is transient, want permanent (to the poison subject)", err)
			}
		})
	}
}
