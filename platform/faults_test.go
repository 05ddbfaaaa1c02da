package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
)

// refused dials a loopback port nobody listens on: the error a client of a
// part that is down gets.
func refused(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		t.Fatalf("dial %s: no error", addr)
	}
	return err
}

func s3Answer(code int) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("answer")}
}

func TestIsTransient(t *testing.T) {
	var syntax error = json.Unmarshal([]byte("{"), &struct{}{})
	cases := []struct {
		name      string
		err       error
		transient bool
		part      platform.Part
	}{
		{name: "nil", err: nil},
		{name: "plain error", err: errors.New("bus: chunk cells do not add up")},
		{name: "bad JSON", err: fmt.Errorf("bus: decode: %w", syntax)},
		{name: "connection refused", err: fmt.Errorf("load: insert: %w", refused(t)), transient: true},
		{name: "refused, from ClickHouse", err: platform.From(platform.PartClickHouse, refused(t)), transient: true, part: platform.PartClickHouse},
		{name: "deadline", err: fmt.Errorf("load: %w", context.DeadlineExceeded), transient: true},
		{name: "connection cut mid-answer", err: fmt.Errorf("read: %w", errors.Join(errors.New("x"), context.DeadlineExceeded)), transient: true},
		{name: "ClickHouse too many queries", err: fmt.Errorf("load: %w", &clickhouse.Exception{Code: 202}), transient: true, part: platform.PartClickHouse},
		{name: "ClickHouse memory limit", err: &clickhouse.Exception{Code: 241}, transient: true, part: platform.PartClickHouse},
		{name: "ClickHouse unknown table", err: &clickhouse.Exception{Code: 60}, part: platform.PartClickHouse},
		{name: "ClickHouse syntax error", err: &clickhouse.Exception{Code: 62}, part: platform.PartClickHouse},
		{name: "ClickHouse pool exhausted", err: clickhouse.ErrAcquireConnTimeout, transient: true, part: platform.PartClickHouse},
		{name: "NATS timeout", err: fmt.Errorf("bus: publish: %w", nats.ErrTimeout), transient: true, part: platform.PartNATS},
		{name: "NATS no responders", err: nats.ErrNoResponders, transient: true, part: platform.PartNATS},
		{name: "no response from a stream electing its leader", err: fmt.Errorf("bus: publish: sending message failed: %w", nats.ErrNoStreamResponse), transient: true, part: platform.PartNATS},
		{name: "JetStream unavailable", err: &nats.APIError{Code: 503}, transient: true, part: platform.PartNATS},
		{name: "JetStream bad request", err: &nats.APIError{Code: 400}, part: platform.PartNATS},
		{name: "S3 503", err: s3Answer(503), transient: true, part: platform.PartS3},
		{name: "S3 throttled", err: s3Answer(429), transient: true, part: platform.PartS3},
		{name: "S3 not found", err: s3Answer(404), part: platform.PartS3},
		{name: "S3 no answer: refused", err: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{}}, Err: refused(t)},
			transient: true, part: platform.PartS3},
		{name: "marked transient", err: platform.Transient(errors.New("smtp 421")), transient: true},
		{name: "marked permanent wins over an outage", err: platform.Permanent(fmt.Errorf("x: %w", refused(t)))},
		{name: "part named, plain error", err: platform.Errorf(platform.PartSMTP, "notify: send: %w", errors.New("550 no such user")), part: platform.PartSMTP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := platform.IsTransient(tc.err); got != tc.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", tc.err, got, tc.transient)
			}
			if got := platform.PartOf(tc.err); got != tc.part {
				t.Errorf("PartOf(%v) = %q, want %q", tc.err, got, tc.part)
			}
		})
	}
}
