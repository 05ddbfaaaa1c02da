package bus

import (
	"errors"
	"strconv"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
)

// fakeHandlings is an attempts record held in memory.
type fakeHandlings struct{ crashes, starts int }

func (f *fakeHandlings) starting(_ *message.Message, maxDeliver int) int {
	if maxDeliver == 0 || f.crashes+1 < maxDeliver {
		f.starts++
	}
	return f.crashes
}

func TestMaxDeliveries(t *testing.T) {
	errHandler := errors.New("handler failed")
	cases := []struct {
		name       string
		delivered  int // the Sluice-Delivered metadata; 0: none
		crashes    int // recorded handlings that ended with no answer
		maxDeliver int
		handlerErr error
		wantRun    bool
		wantStart  bool // the start is recorded
		wantErr    error
	}{
		{name: "first delivery, not recorded", delivered: 1, maxDeliver: 5, wantRun: true},
		{name: "no metadata", maxDeliver: 5, wantRun: true},
		{name: "redelivered, no crash recorded", delivered: 40, maxDeliver: 5, wantRun: true, wantStart: true},
		{name: "below the limit", delivered: 6, crashes: 3, maxDeliver: 5, wantRun: true, wantStart: true},
		{name: "at the limit", delivered: 6, crashes: 4, maxDeliver: 5, wantErr: ErrTooManyDeliveries},
		{name: "over the limit", delivered: 9, crashes: 8, maxDeliver: 5, wantErr: ErrTooManyDeliveries},
		{name: "no limit", delivered: 100, crashes: 99, maxDeliver: 0, wantRun: true, wantStart: true},
		{name: "handler error passed on", delivered: 2, maxDeliver: 5, handlerErr: errHandler, wantRun: true, wantStart: true, wantErr: errHandler},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			rec := &fakeHandlings{crashes: tc.crashes}
			h := MaxDeliveries(tc.maxDeliver, rec)(func(*message.Message) ([]*message.Message, error) {
				ran = true
				return nil, tc.handlerErr
			})
			msg := message.NewMessage(watermill.NewUUID(), []byte("{}"))
			if tc.delivered > 0 {
				msg.Metadata.Set(MetaDelivered, strconv.Itoa(tc.delivered))
			}
			_, err := h(msg)
			if ran != tc.wantRun {
				t.Errorf("handler ran = %v, want %v", ran, tc.wantRun)
			}
			if got := rec.starts == 1; got != tc.wantStart {
				t.Errorf("start recorded = %v, want %v", got, tc.wantStart)
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("error = %v, want none", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantErr)
			}
			if errors.Is(err, ErrTooManyDeliveries) && platform.IsTransient(err) {
				t.Errorf("error %v is transient, want permanent (to the poison subject)", err)
			}
		})
	}
}
