package transform_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/transform"
)

// TestConsumerWaitsForHashing: transform's consumer gives a chunk minutes,
// not the default 30 s, before JetStream sends it again: chunks of
// passwords wait for the hashing slots behind those sent before them, and a
// redelivered chunk is hashed twice.
func TestConsumerWaitsForHashing(t *testing.T) {
	_, nc := testkit.NATS(t)
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageTransform)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transform.New(transform.Config{}, nc, secrets, m, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.ConsumerInfo(schemas.StreamRows, schemas.DurableTransform)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.AckWait < 2*time.Minute {
		t.Errorf("transform's AckWait is %v, want at least 2m", info.Config.AckWait)
	}
}
