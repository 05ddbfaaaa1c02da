package bus

import (
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/platform"
)

func TestWaitOutages(t *testing.T) {
	outage := platform.Transient(platform.From(platform.PartClickHouse, errors.New("connection refused")))
	broken := errors.New("bus: chunk cells do not add up")
	cases := []struct {
		name          string
		handlerErr    error
		age           time.Duration // since the stream stored the message
		wantErr       error
		wantTransient bool
		wantWaiting   float64
	}{
		{name: "handled", age: time.Minute},
		{name: "outage within the horizon waits", handlerErr: outage, age: time.Hour, wantErr: outage, wantTransient: true, wantWaiting: 1},
		{name: "outage past the horizon is permanent", handlerErr: outage, age: 25 * time.Hour, wantErr: ErrOutageTooLong},
		{name: "permanent error passes on", handlerErr: broken, age: time.Minute, wantErr: broken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := platform.NewMetrics(prometheus.NewRegistry(), "test")
			if err != nil {
				t.Fatal(err)
			}
			h := waitOutages(&topics{}, "test", 24*time.Hour, attempts{}, m, slog.New(slog.DiscardHandler))(func(*message.Message) ([]*message.Message, error) {
				return nil, tc.handlerErr
			})
			msg := message.NewMessage(watermill.NewUUID(), nil)
			msg.Metadata.Set(metaStored, strconv.FormatInt(time.Now().Add(-tc.age).UnixNano(), 10))
			_, err = h(msg)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if got := platform.IsTransient(err); got != tc.wantTransient {
				t.Errorf("transient = %v, want %v (%v)", got, tc.wantTransient, err)
			}
			if got := testutil.ToFloat64(m.Waiting.WithLabelValues("clickhouse")); got != tc.wantWaiting {
				t.Errorf("waiting{part=clickhouse} = %v, want %v", got, tc.wantWaiting)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: time.Second, max: time.Minute}
	for _, tc := range []struct {
		delivered uint64
		want      time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {7, time.Minute}, {1000, time.Minute}} {
		if got := b.WaitTime(tc.delivered); got != tc.want {
			t.Errorf("WaitTime(%d) = %v, want %v", tc.delivered, got, tc.want)
		}
	}
}
