package bus

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

func TestPublishDeadLetters(t *testing.T) {
	imp := schemas.Import{ID: "imp1", Tenant: "acme", Dataset: "clients"}
	rows := func(n, violations int) []schemas.Rejected {
		out := make([]schemas.Rejected, n)
		for i := range out {
			out[i].N = i + 2
			for range violations {
				out[i].Violations = append(out[i].Violations, schemas.Violation{Column: "firstName", Code: "format",
					Message: "the entered value does not match the format", Value: strings.Repeat("x", 256)})
			}
		}
		return out
	}
	cases := []struct {
		name     string
		rejected []schemas.Rejected
		several  bool // else one message
	}{
		{"one row", rows(1, 1), false},
		{"a chunk of ordinary rejections", rows(100, 2), false},
		{"every cell of 5,000 rows broken", rows(5000, 9), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := &capture{}
			m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageValidate)
			if err != nil {
				t.Fatal(err)
			}
			if err := PublishDeadLetters(pub, m, schemas.TokenValidateDLQ, imp, 3, tc.rejected); err != nil {
				t.Fatal(err)
			}
			// Every rule broken, counted once, by tenant and code.
			broken := len(tc.rejected) * len(tc.rejected[0].Violations)
			if got := testutil.ToFloat64(m.Rejections.WithLabelValues("acme", "format")); got != float64(broken) {
				t.Errorf("rejections{acme, format} = %v, want %d", got, broken)
			}
			if got := len(pub.msgs) > 1; got != tc.several || len(pub.msgs) == 0 {
				t.Errorf("%d messages, want several: %v", len(pub.msgs), tc.several)
			}
			next, ids := 2, map[string]bool{}
			for i, m := range pub.msgs {
				if len(m.Payload) > MaxDeadLetterBytes {
					t.Errorf("part %d is %d bytes, over %d", i, len(m.Payload), MaxDeadLetterBytes)
				}
				var d schemas.DLQRows
				if err := json.Unmarshal(m.Payload, &d); err != nil {
					t.Fatal(err)
				}
				if d.Part != i || d.Chunk != 3 || d.Import.ID != "imp1" {
					t.Errorf("part %d: got part %d of chunk %d of %s", i, d.Part, d.Chunk, d.Import.ID)
				}
				for _, r := range d.Rejected {
					if r.N != next {
						t.Fatalf("part %d: row %d, want %d (every row once, in order)", i, r.N, next)
					}
					next++
				}
				if ids[m.UUID] {
					t.Errorf("Msg-Id %s twice", m.UUID)
				}
				ids[m.UUID] = true
			}
			if next != len(tc.rejected)+2 {
				t.Errorf("rows sent up to %d, want %d", next-1, len(tc.rejected)+1)
			}
			if got, want := pub.msgs[0].UUID, schemas.MsgID("imp1", schemas.TokenValidateDLQ, 3); got != want {
				t.Errorf("first Msg-Id = %q, want %q (as before parts)", got, want)
			}
		})
	}
}
