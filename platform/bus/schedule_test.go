package bus_test

import (
	"testing"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestEnsureSchedule: the SYNC stream allows message schedules; migrating
// again with the same schedule leaves it as it is, and a new one replaces
// it (one schedule message, the new one).
func TestEnsureSchedule(t *testing.T) {
	_, nc := testkit.NATS(t)
	js, _ := nc.JetStream()
	lastSchedule := func() (cron, zone string, seq uint64) {
		t.Helper()
		m, err := js.GetLastMsg(schemas.StreamSync, schemas.SubjectSyncSchedule)
		if err != nil {
			t.Fatal(err)
		}
		return m.Header.Get("Nats-Schedule"), m.Header.Get("Nats-Schedule-Time-Zone"), m.Sequence
	}
	daily := bus.Schedule{Cron: "0 0 2 * * *", TimeZone: "Europe/Moscow"}
	if err := bus.EnsureSchedule(t.Context(), nc, 1, daily); err != nil {
		t.Fatal(err)
	}
	_, _, first := lastSchedule()
	if err := bus.EnsureSchedule(t.Context(), nc, 1, daily); err != nil {
		t.Fatal(err)
	}
	if cron, zone, seq := lastSchedule(); cron != daily.Cron || zone != daily.TimeZone || seq != first {
		t.Errorf("after the same schedule again: %q %q at %d, want %q %q at %d", cron, zone, seq, daily.Cron, daily.TimeZone, first)
	}
	hourly := bus.Schedule{Cron: "@hourly", TimeZone: "UTC"}
	if err := bus.EnsureSchedule(t.Context(), nc, 1, hourly); err != nil {
		t.Fatal(err)
	}
	if cron, zone, seq := lastSchedule(); cron != hourly.Cron || zone != hourly.TimeZone || seq == first {
		t.Errorf("after a new schedule: %q %q at %d, want %q %q", cron, zone, seq, hourly.Cron, hourly.TimeZone)
	}
	info, err := js.StreamInfo(schemas.StreamSync)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("the SYNC stream holds %d messages, want the one schedule", info.State.Msgs)
	}
	if err := bus.EnsureSchedule(t.Context(), nc, 1, bus.Schedule{Cron: "0 0 2 * *"}); err == nil {
		t.Error("a cron expression of five fields was put, want the server's refusal")
	}
}
