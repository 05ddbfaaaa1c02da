package bus

import (
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/platform"
)

func TestTiming(t *testing.T) {
	errHandler := errors.New("failed")
	cases := []struct {
		name       string
		handlerErr error
		wantResult string
	}{
		{name: "ok", wantResult: "ok"},
		{name: "error", handlerErr: errHandler, wantResult: "error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := platform.NewMetrics(reg, "test")
			if err != nil {
				t.Fatal(err)
			}
			h := timing(m)(func(*message.Message) ([]*message.Message, error) { return nil, tc.handlerErr })
			if _, err := h(message.NewMessage(watermill.NewUUID(), nil)); !errors.Is(err, tc.handlerErr) {
				t.Errorf("error = %v, want %v passed on", err, tc.handlerErr)
			}
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			observed := map[string]uint64{}
			for _, f := range families {
				if f.GetName() != "sluice_test_message_duration_seconds" {
					continue
				}
				for _, s := range f.GetMetric() {
					for _, l := range s.GetLabel() {
						if l.GetName() == "result" {
							observed[l.GetValue()] += s.GetHistogram().GetSampleCount()
						}
					}
				}
			}
			if len(observed) != 1 || observed[tc.wantResult] != 1 {
				t.Errorf("observations by result = %v, want one %q", observed, tc.wantResult)
			}
		})
	}
}
