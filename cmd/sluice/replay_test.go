package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

func TestParseReplayArgs(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    replayArgs
		wantErr bool
	}{
		{name: "list", args: nil},
		{name: "filters", args: []string{"--stage", "load", "--import", "imp1", "--reason", "table"},
			want: replayArgs{filter: bus.DLQFilter{Stage: "load", Import: "imp1", Reason: "table"}}},
		{name: "run all forced", args: []string{"--run", "all", "--force"}, want: replayArgs{run: "all", force: true}},
		{name: "unknown flag", args: []string{"--stages", "load"}, wantErr: true},
		{name: "stray argument", args: []string{"load"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReplayArgs(tc.args, &bytes.Buffer{})
			if (err != nil) != tc.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReplayCommand: `sluice replay` lists a poison chunk of load, and
// --run all re-drives it into load's subject once: a second --run all finds
// nothing to do, and naming it again is refused.
func TestReplayCommand(t *testing.T) {
	ctx := context.Background()
	ns, nc := testkit.NATS(t)
	cfg := config{Config: platform.Config{NATSURL: ns.ClientURL()}}
	pub, err := bus.NewPublisher(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &schemas.Chunk{Import: schemas.Import{ID: "imp1", Tenant: "acme", Dataset: "clients"}, Number: 4}
	if err := bus.PublishChunk(pub, schemas.PoisonSubject(schemas.StageLoad), "imp1.transform.4", c); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := replay(ctx, cfg, args, &out)
		return out.String(), err
	}

	out, err := run("--stage", "load")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sluice replay --stage load:\n%s", out)
	if !strings.Contains(out, "entries: 1") || !strings.Contains(out, "poison  load   imp1") {
		t.Errorf("list:\n%s\nwant the poison chunk of load", out)
	}
	if out, _ := run("--stage", "validate"); !strings.Contains(out, "entries: 0") {
		t.Errorf("list of validate:\n%s\nwant none", out)
	}

	out, err = run("--run", "all", "--import", "imp1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "replayed: 1, failed: 0") || !strings.Contains(out, schemas.ReadyRowsSubject("acme", "clients")) {
		t.Errorf("run all:\n%s\nwant one replayed to load's subject", out)
	}
	js, _ := nc.JetStream()
	m, err := js.GetLastMsg(schemas.StreamRows, schemas.ReadyRowsSubject("acme", "clients"))
	if err != nil {
		t.Fatalf("replayed chunk: %v", err)
	}
	if id := m.Header.Get(nats.MsgIdHdr); !strings.HasPrefix(id, "imp1.transform.4.replay.") {
		t.Errorf("replayed Msg-Id: got %q", id)
	}

	if out, err := run("--run", "all"); err != nil || !strings.Contains(out, "replayed: 0, failed: 0") {
		t.Errorf("run all again: got %v\n%s\nwant nothing to do", err, out)
	}
	entries, err := mustDLQ(t, nc).List(ctx, bus.DLQFilter{Kind: bus.KindPoison})
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries: %v %v", entries, err)
	}
	if _, err := run("--run", strconv.FormatUint(entries[0].Seq, 10)); !errors.Is(err, bus.ErrReplayed) {
		t.Errorf("replay again: got %v, want %v", err, bus.ErrReplayed)
	}
	if out, err := run("--run", strconv.FormatUint(entries[0].Seq, 10), "--force"); err != nil || !strings.Contains(out, ".replay.") {
		t.Errorf("forced replay: got %v\n%s", err, out)
	}
}

func mustDLQ(t *testing.T, nc *nats.Conn) *bus.DLQ {
	t.Helper()
	dlq, err := bus.NewDLQ(nc)
	if err != nil {
		t.Fatal(err)
	}
	return dlq
}
