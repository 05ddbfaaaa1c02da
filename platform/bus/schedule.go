package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/schemas"
)

// Schedule is when the bucket sync runs, as a JetStream message schedule
// (nats-server 2.12 and later): the SYNC stream holds one schedule message
// on schemas.SubjectSyncSchedule, and the server itself publishes one
// message on schemas.SubjectSyncRun each time it fires, whatever the number
// of ingest instances; one of them, through their shared durable consumer,
// runs the sync.
type Schedule struct {
	// Cron is the server's cron expression: six fields, seconds first
	// ("0 0 2 * * *": every day at 02:00), or @daily, @hourly, ...
	Cron string
	// TimeZone is the IANA zone Cron is read in ("": UTC).
	TimeZone string
}

// The body of a request for a bucket sync on schemas.SubjectSyncRun (a JSON
// string) says who asked for it: the schedule's firings carry
// SyncBySchedule (the server copies the schedule message's body), an
// ingest instance as it starts SyncAtStartUp.
const (
	SyncBySchedule = "schedule"
	SyncAtStartUp  = "start-up"
)

// EnsureSchedule creates the SYNC stream when it is missing, or gives an
// existing one what message schedules need, and puts s on it, unless the
// schedule already there is s. `sluice migrate` runs it with the admin
// user, the one user allowed to publish on schemas.SubjectSyncSchedule.
//
// The stream keeps one message per subject: the schedule (a new one rolls
// the old one up) and the latest request, which a newer one replaces if it
// is still waiting. Its messages hold no personal data, so it has no MaxAge,
// which would expire the schedule itself. It uses the jetstream API: the
// legacy StreamConfig of nats.go has no AllowMsgSchedules, so EnsureStreams
// must never update this stream.
func EnsureSchedule(ctx context.Context, nc *nats.Conn, replicas int, s Schedule) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	want := jetstream.StreamConfig{
		Name: schemas.StreamSync, Subjects: []string{schemas.SubjectSyncAll}, Storage: jetstream.FileStorage,
		Replicas: max(replicas, 1), Duplicates: DuplicateWindow, MaxMsgsPerSubject: 1,
		AllowMsgSchedules: true, AllowRollup: true,
	}
	stream, err := js.Stream(ctx, schemas.StreamSync)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		stream, err = js.CreateStream(ctx, want)
	case err == nil:
		have := stream.CachedInfo().Config
		if !have.AllowMsgSchedules || !have.AllowRollup || have.Replicas < want.Replicas {
			have.AllowMsgSchedules, have.AllowRollup, have.Replicas = true, true, max(have.Replicas, want.Replicas)
			stream, err = js.UpdateStream(ctx, have)
		}
	}
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", schemas.StreamSync, err)
	}
	last, err := stream.GetLastMsgForSubject(ctx, schemas.SubjectSyncSchedule)
	if err == nil && last.Header.Get(jetstream.ScheduleHeader) == s.Cron && last.Header.Get(jetstream.ScheduleTimeZoneHeader) == s.TimeZone {
		return nil
	}
	opts := []jetstream.PublishOpt{jetstream.WithScheduleCron(s.Cron), jetstream.WithScheduleTarget(schemas.SubjectSyncRun)}
	if s.TimeZone != "" {
		opts = append(opts, jetstream.WithScheduleTimeZone(s.TimeZone))
	}
	body := []byte(`"` + SyncBySchedule + `"`)
	if _, err := js.Publish(ctx, schemas.SubjectSyncSchedule, body, opts...); err != nil {
		return fmt.Errorf("nats: the sync schedule %q (%s): %w", s.Cron, s.TimeZone, err)
	}
	return nil
}
