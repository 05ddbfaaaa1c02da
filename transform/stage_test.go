package transform_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/transform"
)

// TestLongHashingIsNotSentAgain: a chunk of passwords that takes transform
// longer than its consumer's AckWait to hash is not sent again meanwhile
// (transform tells JetStream it is still working), so it is hashed and
// published once; a transform that died would have it back after AckWait.
func TestLongHashingIsNotSentAgain(t *testing.T) {
	_, nc := testkit.NATS(t)
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageTransform)
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = 2 * time.Second
	cons, err := transform.Consumer(transform.Config{AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Consumer(t, nc, cons) // as sluice migrate does
	st, err := transform.New(transform.Config{AckWait: ackWait}, nc, secrets, m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)
	ctx := t.Context()
	js, _ := nc.JetStream()

	imp := schemas.Import{ID: "slow", Tenant: "acme", Dataset: "users", Region: "RU", ReceivedAt: time.Unix(1e9, 0), Password: schemas.DefaultPasswordPolicy}
	c := &schemas.Chunk{Import: imp, Number: 1, FirstRow: 2}
	for i := range 300 { // hundreds of tens of milliseconds, on at most two cores
		cells := make([]string, len(schemas.Users.Fields))
		for name, v := range map[string]string{"login": fmt.Sprintf("user%d", i), "password": secrets.Seal(fmt.Sprintf("Welcome%d", i)),
			"email": fmt.Sprintf("user%d@acme.example", i), "firstName": "Anna", "lastName": "Lee"} {
			cells[schemas.Users.Index(name)] = v
		}
		c.Rows = append(c.Rows, schemas.Row{N: i + 2, Cells: cells})
	}
	start := time.Now()
	if err := bus.PublishChunk(st.Pub, schemas.ValidRowsSubject("acme", "users"), "slow.validate.1", c); err != nil {
		t.Fatal(err)
	}
	err = parts.WaitFor(ctx, 2*time.Minute, func() (bool, error) {
		_, err := js.GetLastMsg(schemas.StreamRows, schemas.ReadyRowsSubject("acme", "users"))
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no transformed chunk: %v", err)
	}
	took := time.Since(start)
	if took < 2*ackWait {
		t.Logf("hashing took %v, less than twice AckWait: the test proves little on this machine", took)
	}
	err = parts.WaitFor(ctx, 5*time.Second, func() (bool, error) {
		info, err := js.ConsumerInfo(schemas.StreamRows, schemas.DurableTransform)
		return err == nil && info.NumAckPending == 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.ConsumerInfo(schemas.StreamRows, schemas.DurableTransform)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || info.Delivered.Consumer != 1 {
		t.Errorf("the chunk was delivered %d times (%d redelivered) over %v of hashing, want once", info.Delivered.Consumer, info.NumRedelivered, took)
	}
}
