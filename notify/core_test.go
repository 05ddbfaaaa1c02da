package notify

import (
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

func TestStatus(t *testing.T) {
	cases := []struct {
		name      string
		onError   string
		counts    schemas.Counts
		cancelled int
		want      string
	}{
		{name: "continue, no rejected row", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 3}, want: schemas.StatusCompleted},
		{name: "on_error unset, no rejected row", counts: schemas.Counts{Rows: 3, Updated: 3}, want: schemas.StatusCompleted},
		{name: "abort, no rejected row", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Created: 1, Unchanged: 2}, want: schemas.StatusCompleted},
		{name: "empty file", onError: schemas.OnErrorAbort, want: schemas.StatusCompleted},
		{name: "continue, rejected rows", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, want: schemas.StatusCompletedWithErrors},
		{name: "on_error unset, rejected rows", counts: schemas.Counts{Rows: 3, Rejected: 3}, want: schemas.StatusCompletedWithErrors},
		{name: "abort, rejected rows", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, want: schemas.StatusRequiresIntervention},
		{name: "continue, cancelled rows", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 1, Rejected: 2}, cancelled: 2, want: schemas.StatusCancelled},
		{name: "abort, cancelled rows", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Rejected: 3}, cancelled: 1, want: schemas.StatusCancelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := &schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", OnError: tc.onError}
			if got := Status(imp, tc.counts, tc.cancelled); got != tc.want {
				t.Errorf("Status(on_error %q, %+v, %d cancelled) = %q, want %q", tc.onError, tc.counts, tc.cancelled, got, tc.want)
			}
		})
	}
}

func TestStatusRank(t *testing.T) {
	cases := []struct {
		status string
		want   uint64
	}{
		{status: schemas.StatusReceived, want: 1},
		{status: schemas.StatusProcessing, want: 2},
		{status: schemas.StatusCompleted, want: 3},
		{status: schemas.StatusCompletedWithErrors, want: 3},
		{status: schemas.StatusRequiresIntervention, want: 3},
		{status: schemas.StatusCancelled, want: 3},
		{status: schemas.StatusRejected, want: 3},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			if got := statusRank(tc.status); got != tc.want {
				t.Errorf("statusRank(%q) = %d, want %d", tc.status, got, tc.want)
			}
		})
	}
}
