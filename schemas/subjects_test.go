package schemas_test

import (
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestStableNames: durable consumer names and Msg-Id tokens are what the
// running streams know. A new durable name is a new consumer that starts
// from the beginning of its stream, and a new token lets a retried publish
// be stored twice, so neither may change silently.
func TestStableNames(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{name: "DurableIngest", got: schemas.DurableIngest, want: "ingest"},
		{name: "DurableValidate", got: schemas.DurableValidate, want: "validate"},
		{name: "DurableTransform", got: schemas.DurableTransform, want: "transform"},
		{name: "DurableLoad", got: schemas.DurableLoad, want: "load"},
		{name: "DurableNotify", got: schemas.DurableNotify, want: "notify"},
		{name: "TokenReceived", got: schemas.TokenReceived, want: "received"},
		{name: "TokenRejected", got: schemas.TokenRejected, want: "rejected"},
		{name: "TokenIngested", got: schemas.TokenIngested, want: "ingested"},
		{name: "TokenCompleted", got: schemas.TokenCompleted, want: "completed"},
		{name: "TokenValidateDLQ", got: schemas.TokenValidateDLQ, want: "validate-dlq"},
		{name: "TokenLoadDLQ", got: schemas.TokenLoadDLQ, want: "load-dlq"},
		// deploy/nats.conf names it in the stage's subscribe permission.
		{name: "DeliverSubject", got: schemas.DeliverSubject(schemas.DurableLoad), want: "sluice.deliver.load"},
		{name: "ReplayedSubject", got: schemas.ReplayedSubject(42), want: "sluice.dlq.replayed.42"},
		{name: "MsgID", got: schemas.MsgID("imp-1", schemas.TokenValidateDLQ, 3), want: "imp-1.validate-dlq.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
			}
		})
	}
}
