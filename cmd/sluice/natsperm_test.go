package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// confUsers are deploy/nats.conf's users; each gets the password "pw-<user>".
var confUsers = append(slices.Clone(schemas.Stages), "minio", "admin", "console")

// startConfNATS runs nats-server in process from deploy/nats.conf, as
// compose does, on a free loopback port, and returns its URL.
func startConfNATS(t *testing.T) string {
	t.Helper()
	for _, u := range confUsers {
		t.Setenv(strings.ToUpper(u)+"_PASSWORD", "pw-"+u)
	}
	opts, err := server.ProcessConfigFile("../../deploy/nats.conf")
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return ns.ClientURL()
}

// violations records the permission violations the server reports to one
// connection.
type violations struct {
	mu   sync.Mutex
	seen []string
}

func (v *violations) record(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.seen = append(v.seen, err.Error())
	}
}

func (v *violations) all() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seen)
}

// denied fails t unless the server reports that op ("Publish" or
// "Subscription") on subject was denied.
func (v *violations) denied(t *testing.T, op, subject string) {
	t.Helper()
	want := fmt.Sprintf("%s to %q", op, subject)
	err := parts.WaitFor(t.Context(), 3*time.Second, func() (bool, error) {
		return slices.ContainsFunc(v.all(), func(s string) bool { return strings.Contains(s, want) }), nil
	})
	if err != nil {
		t.Errorf("no permissions violation for %s; violations: %q", want, v.all())
	}
}

// connectAs connects to url as user, through bus.Connect as the stage or
// command called name does, recording the permission violations.
func connectAs(t *testing.T, url, name, user string) (*nats.Conn, *violations) {
	t.Helper()
	nc, err := bus.Connect(url, name, user, "pw-"+user)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	v := &violations{}
	nc.SetErrorHandler(v.record)
	if err := parts.WaitFor(t.Context(), 5*time.Second, func() (bool, error) { return nc.IsConnected(), nil }); err != nil {
		t.Fatalf("%s: not connected: %v", user, err)
	}
	return nc, v
}

// stageWork is what a stage does on the bus, as deploy/nats.conf allows it.
type stageWork struct {
	input    string   // what its consumer is sent (the test publishes it as admin)
	produces []string // what it publishes
	kv       []string // the KV buckets it writes and reads
	kvRead   []string // the KV buckets it only reads
	// invitations: it lists the invitations for those that lapsed
	// (notify.Invitations.ExpireLapsed), through a consumer of its own on
	// their bucket's stream.
	invitations bool
}

var works = map[string]stageWork{
	schemas.StageIngest: {
		input: schemas.SubjectS3Events,
		produces: []string{schemas.RawRowsSubject("acme", "clients"), schemas.ImportSubject(schemas.EventReceived, "imp1"),
			schemas.ImportSubject(schemas.EventRejected, "imp1"), schemas.ImportSubject(schemas.EventIngested, "imp1"),
			schemas.PoisonSubject(schemas.StageIngest), schemas.ImportSubject(schemas.EventWaiting, "imp1"), schemas.ImportSubject(schemas.EventFailed, "imp1")},
		kv: []string{bus.ClaimsBucket, bus.CancelledBucket},
	},
	schemas.StageValidate: {
		input: schemas.RawRowsSubject("acme", "clients"),
		produces: []string{schemas.ValidRowsSubject("acme", "clients"), schemas.DLQRowsSubject("acme", "clients"),
			schemas.PoisonSubject(schemas.StageValidate), schemas.ImportSubject(schemas.EventWaiting, "imp1")},
	},
	schemas.StageTransform: {
		input:    schemas.ValidRowsSubject("acme", "clients"),
		produces: []string{schemas.ReadyRowsSubject("acme", "clients"), schemas.PoisonSubject(schemas.StageTransform), schemas.ImportSubject(schemas.EventFailed, "imp1")},
	},
	schemas.StageLoad: {
		input: schemas.ReadyRowsSubject("acme", "clients"),
		produces: []string{schemas.ImportSubject(schemas.EventProgress, "imp1"), schemas.DLQRowsSubject("acme", "clients"),
			schemas.PoisonSubject(schemas.StageLoad)},
		kvRead: []string{bus.CancelledBucket},
	},
	schemas.StageNotify: {
		input:       schemas.ImportSubject(schemas.EventIngested, "imp-notify"),
		produces:    []string{schemas.ImportSubject(schemas.EventCompleted, "imp1"), schemas.PoisonSubject(schemas.StageNotify)},
		kv:          []string{bus.MailedBucket, bus.InvitesBucket},
		invitations: true,
	},
}

var buckets = []string{bus.ClaimsBucket, bus.MailedBucket, bus.CancelledBucket, bus.NaksBucket, bus.InvitesBucket,
	bus.AccountsBucket, bus.SessionsBucket}

// TestNATSLeastPrivilege runs nats-server from deploy/nats.conf and the real
// migrate as admin; then, for every stage, its real runner binds its
// consumer, is delivered a message on its own deliver subject, naks it
// (recording the attempt in its keys of sluice_naks), publishes what the
// stage produces, uses its KV buckets, and acks it on the redelivery, with
// no permission denied. Each stage is denied: another stage's deliveries,
// creating a consumer, updating, purging or deleting a stream, the KV
// buckets it does not own (and the other stages' sluice_naks keys), writing
// a bucket it only reads, acking another stage's consumer, publishing what
// another stage produces, or an operator's event. Its metrics collector
// reads its consumer's state; notify's the DLQ's depth too, which the others'
// may not read. MinIO may only publish its
// events; the admin runs sluice replay, and publishes the events of sluice
// continue, sluice confirm and sluice cancel. The console's request to use
// an invitation is answered by notify; the console may not receive them.
func TestNATSLeastPrivilege(t *testing.T) {
	url := startConfNATS(t)
	ctx := t.Context()
	const ttl = 72 * time.Hour
	cfg := config{Config: platform.Config{NATSURL: url, NATSUser: "admin", NATSPassword: "pw-admin", PersonalDataTTL: ttl}}
	if err := migrateNATS(ctx, cfg, url, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate as admin: %v", err)
	}
	admin, adminViolations := connectAs(t, url, "migrate", "admin")
	ajs, err := admin.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if info, err := ajs.StreamInfo(schemas.StreamDLQ); err != nil || info.Config.MaxAge != ttl {
		t.Fatalf("DLQ after migrate: %v, want MaxAge %v", err, ttl)
	}
	// A key in each bucket, written by its owner: the others may not read it.
	for _, stage := range []string{schemas.StageIngest, schemas.StageNotify} {
		nc, _ := connectAs(t, url, stage, stage)
		js, _ := nc.JetStream()
		for _, b := range works[stage].kv {
			kv, err := js.KeyValue(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put("secret", []byte("not yours")); err != nil {
				t.Fatalf("%s writes %s: %v", stage, b, err)
			}
		}
		nc.Close()
	}
	consumers, err := stageConsumers(cfg.stages)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("stages", func(t *testing.T) {
		for i, c := range consumers {
			other := consumers[(i+1)%len(consumers)]
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				stageWorks(t, url, ajs, c, works[c.Name])
				stageDenied(t, url, ajs, c, other)
			})
		}
	})
	t.Run("ingest sync", func(t *testing.T) { ingestSyncs(t, url, ajs, cfg) })
	t.Run("minio", func(t *testing.T) { minioUnderConf(t, url, ajs) })
	t.Run("admin", func(t *testing.T) { adminReplays(t, cfg) })
	t.Run("admin continues", func(t *testing.T) { adminContinues(t, cfg, ajs) })
	t.Run("admin cancels", func(t *testing.T) { adminCancels(t, cfg, ajs) })
	t.Run("console", func(t *testing.T) { consoleUnderConf(t, url, ajs) })
	if v := adminViolations.all(); len(v) > 0 {
		t.Errorf("admin denied: %q", v)
	}
}

// stageWorks runs the stage's runner on its consumer c, under its user, and
// checks it does its work with nothing denied.
func stageWorks(t *testing.T, url string, ajs nats.JetStreamContext, c bus.Consumer, w stageWork) {
	nc, v := connectAs(t, url, c.Name, c.Name)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), c.Name)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("input of " + c.Name)
	type delivery struct {
		n       int
		subject string
		err     error
	}
	deliveries := make(chan delivery, 8)
	var pub message.Publisher
	var worked atomic.Bool
	handle := func(msg *message.Message) error {
		if !bytes.Equal(msg.Payload, marker) {
			return nil // what other tests sent this stage
		}
		if n := bus.Delivered(msg); n > 1 {
			deliveries <- delivery{n: n, subject: msg.Metadata.Get(bus.MetaSubject)}
			return nil
		}
		if worked.CompareAndSwap(false, true) { // not again on the retries of the first delivery
			deliveries <- delivery{n: 1, subject: msg.Metadata.Get(bus.MetaSubject), err: stageUsesBus(js, pub, c.Name, w)}
		}
		// A part is away: the delivery is nak'd and its attempt recorded.
		return platform.From(platform.PartClickHouse, fmt.Errorf("dial: %w", syscall.ECONNREFUSED))
	}
	r, err := bus.NewRunner(c.Name, nc, c, m, slog.New(slog.DiscardHandler), handle)
	if err != nil {
		t.Fatalf("runner under %s's user: %v", c.Name, err)
	}
	pub = r.Pub
	runCtx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	}()
	<-r.Running()
	if _, err := ajs.Publish(w.input, marker); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		select {
		case d := <-deliveries:
			if d.n != want || d.subject != w.input || d.err != nil {
				t.Fatalf("delivery %d: got %d on %s, error %v", want, d.n, d.subject, d.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("delivery %d of %s never came", want, w.input)
		}
	}
	err = parts.WaitFor(t.Context(), 10*time.Second, func() (bool, error) {
		info, err := ajs.ConsumerInfo(c.Stream, c.Name)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0, err
	})
	if err != nil {
		t.Errorf("the delivery was not acked: %v", err)
	}
	// The nak recorded the attempt in the stage's own keys, and the ack
	// purged it.
	keys := fmt.Sprintf("$KV.%s.%s.%s.>", bus.NaksBucket, c.Stream, c.Name)
	info, err := ajs.StreamInfo("KV_"+bus.NaksBucket, &nats.StreamInfoRequest{SubjectsFilter: keys})
	if err != nil || len(info.State.Subjects) == 0 {
		t.Errorf("no attempts record under %s: %v", keys, err)
	}
	// Its /metrics: its consumer's state, and for notify the DLQ's depth.
	col, err := bus.NewCollector(nc, []bus.Consumer{c}, c.Name == schemas.StageNotify)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"sluice_jetstream_consumer_pending_messages": 1, "sluice_jetstream_dlq_messages": 0}
	if c.Name == schemas.StageNotify {
		want["sluice_jetstream_dlq_messages"] = 2 // rows and poison
	}
	for name, n := range want {
		if got := testutil.CollectAndCount(col, name); got != n {
			t.Errorf("%s's collector: %d series of %s, want %d", c.Name, got, name, n)
		}
	}
	if got := v.all(); len(got) > 0 {
		t.Errorf("%s's work was denied: %q", c.Name, got)
	}
}

// stageUsesBus publishes what the stage produces and uses its KV buckets.
func stageUsesBus(js nats.JetStreamContext, pub message.Publisher, stage string, w stageWork) error {
	for i, subject := range w.produces {
		if err := bus.Publish(pub, subject, fmt.Sprintf("%s.%d", stage, i), map[string]string{"by": stage}); err != nil {
			return err
		}
	}
	for _, b := range w.kv {
		kv, err := js.KeyValue(b)
		if err != nil {
			return err
		}
		if _, err := kv.Create(stage+".key", []byte(stage)); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		if e, err := kv.Get(stage + ".key"); err != nil || string(e.Value()) != stage {
			return fmt.Errorf("%s: read back: %v", b, err)
		}
	}
	for _, b := range w.kvRead {
		kv, err := js.KeyValue(b)
		if err != nil {
			return err
		}
		if e, err := kv.Get("secret"); err != nil || string(e.Value()) != "not yours" {
			return fmt.Errorf("%s: read: %v", b, err)
		}
	}
	if w.invitations {
		kv, err := js.KeyValue(bus.InvitesBucket)
		if err != nil {
			return err
		}
		// Its entries are no invitations: none lapsed, no user to change.
		if _, err := notify.NewInvitations(kv, nil, nil, 0, nil).ExpireLapsed(context.Background()); err != nil {
			return fmt.Errorf("%s: list: %w", bus.InvitesBucket, err)
		}
	}
	return nil
}

// stageDenied checks what the stage of consumer c may not do, other being
// another stage's consumer.
func stageDenied(t *testing.T, url string, ajs nats.JetStreamContext, c, other bus.Consumer) {
	nc, v := connectAs(t, url, c.Name, c.Name)
	js, err := nc.JetStream(nats.MaxWait(500 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	// Another stage's deliveries: joining its queue group is refused, and
	// what the other consumer has to send does not arrive.
	spy, err := nc.QueueSubscribeSync(schemas.DeliverSubject(other.Name), other.Name)
	if err != nil {
		t.Fatal(err)
	}
	v.denied(t, "Subscription", schemas.DeliverSubject(other.Name))
	for range 3 {
		if _, err := ajs.Publish(works[other.Name].input, []byte("for "+other.Name+" only")); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := spy.NextMsg(time.Second); err == nil {
		t.Errorf("%s read %s's delivery: %q", c.Name, other.Name, m.Data)
	}

	// No consumer of its own making: one delivering to its inbox could
	// read a whole stream.
	spyName := "spy-" + c.Name
	create := fmt.Sprintf(`{"stream_name":"ROWS","config":{"name":%q,"deliver_subject":"%s.spy","ack_policy":"none"}}`, spyName, bus.InboxPrefix(c.Name))
	if m, err := nc.Request("$JS.API.CONSUMER.CREATE.ROWS."+spyName, []byte(create), 500*time.Millisecond); err == nil {
		t.Errorf("%s created a consumer: %s", c.Name, m.Data)
	}
	v.denied(t, "Publish", "$JS.API.CONSUMER.CREATE.ROWS."+spyName)
	if _, err := ajs.ConsumerInfo(schemas.StreamRows, spyName); !errors.Is(err, nats.ErrConsumerNotFound) {
		t.Errorf("consumer %s: got %v, want none", spyName, err)
	}

	// No stream administration.
	dlq, err := ajs.StreamInfo(schemas.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	shrunk := dlq.Config
	shrunk.MaxAge = time.Second
	if _, err := js.UpdateStream(&shrunk); err == nil {
		t.Errorf("%s updated the DLQ", c.Name)
	}
	v.denied(t, "Publish", "$JS.API.STREAM.UPDATE.DLQ")
	if err := js.PurgeStream(schemas.StreamDLQ); err == nil {
		t.Errorf("%s purged the DLQ", c.Name)
	}
	v.denied(t, "Publish", "$JS.API.STREAM.PURGE.DLQ")
	if err := js.DeleteStream(schemas.StreamImports); err == nil {
		t.Errorf("%s deleted the IMPORTS stream", c.Name)
	}
	v.denied(t, "Publish", "$JS.API.STREAM.DELETE.IMPORTS")
	if after, err := ajs.StreamInfo(schemas.StreamDLQ); err != nil || after.Config.MaxAge != dlq.Config.MaxAge {
		t.Errorf("the DLQ changed: %v", err)
	}
	if _, err := ajs.StreamInfo(schemas.StreamImports); err != nil {
		t.Errorf("the IMPORTS stream: %v", err)
	}

	// The DLQ's info: notify alone exports its depth.
	if c.Name != schemas.StageNotify {
		col, err := bus.NewCollector(nc, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		if n := testutil.CollectAndCount(col, "sluice_jetstream_dlq_messages"); n != 0 {
			t.Errorf("%s read the DLQ's depth: %d series", c.Name, n)
		}
		v.denied(t, "Publish", "$JS.API.STREAM.INFO.DLQ")
	}

	// The KV buckets it does not own: it can neither open them nor read
	// their keys directly.
	w := works[c.Name]
	for _, b := range buckets {
		if b == bus.NaksBucket || slices.Contains(w.kv, b) || slices.Contains(w.kvRead, b) {
			continue
		}
		if _, err := js.KeyValue(b); err == nil {
			t.Errorf("%s opened the %s bucket", c.Name, b)
		}
		v.denied(t, "Publish", "$JS.API.STREAM.INFO.KV_"+b)
		get := fmt.Sprintf("$JS.API.DIRECT.GET.KV_%s.$KV.%s.secret", b, b)
		if m, err := nc.Request(get, nil, 500*time.Millisecond); err == nil {
			t.Errorf("%s read %s: %q", c.Name, b, m.Data)
		}
		v.denied(t, "Publish", get)
	}
	// Only its own keys of sluice_naks.
	naks, err := js.KeyValue(bus.NaksBucket)
	if err != nil {
		t.Fatal(err)
	}
	theirs := fmt.Sprintf("%s.%s.1", other.Stream, other.Name)
	if _, err := naks.Get(theirs); err == nil {
		t.Errorf("%s read %s's attempts", c.Name, other.Name)
	}
	v.denied(t, "Publish", fmt.Sprintf("$JS.API.DIRECT.GET.KV_%s.$KV.%s.%s", bus.NaksBucket, bus.NaksBucket, theirs))
	if _, err := naks.Put(theirs, []byte("9 9")); err == nil {
		t.Errorf("%s wrote %s's attempts", c.Name, other.Name)
	}
	v.denied(t, "Publish", fmt.Sprintf("$KV.%s.%s", bus.NaksBucket, theirs))
	// A bucket it only reads.
	for _, b := range w.kvRead {
		kv, err := js.KeyValue(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put("forged", []byte(c.Name)); err == nil {
			t.Errorf("%s wrote %s, which it only reads", c.Name, b)
		}
		v.denied(t, "Publish", fmt.Sprintf("$KV.%s.forged", b))
	}

	// Acking another stage's consumer, publishing what another produces,
	// or an operator's event (only the admin continues or confirms an
	// import).
	ack := fmt.Sprintf("$JS.ACK.%s.%s.1.1.1.1700000000000000000.0", other.Stream, other.Name)
	forged := works[other.Name].produces[0]
	for _, subject := range []string{ack, forged, schemas.ImportSubject(schemas.EventContinue, "imp1"), schemas.ImportSubject(schemas.EventConfirm, "imp1")} {
		if err := nc.Publish(subject, []byte("+ACK")); err != nil {
			t.Fatal(err)
		}
		v.denied(t, "Publish", subject)
	}
}

// minioUnderConf: MinIO's user publishes bucket events, waiting for the
// stream's ack on its inbox as MinIO does, and nothing else.
func minioUnderConf(t *testing.T, url string, ajs nats.JetStreamContext) {
	v := &violations{}
	nc, err := nats.Connect(url, nats.UserInfo("minio", "pw-minio"), nats.ErrorHandler(v.record))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(schemas.SubjectS3Events, []byte(`{"EventName":"s3:ObjectCreated:Put"}`))
	if err != nil || ack.Stream != schemas.StreamS3Events {
		t.Fatalf("minio's event: %v %+v", err, ack)
	}
	if got := v.all(); len(got) > 0 {
		t.Fatalf("minio's event was denied: %q", got)
	}
	for _, subject := range []string{schemas.RawRowsSubject("acme", "clients"), schemas.ImportSubject(schemas.EventCompleted, "imp1"),
		"$JS.API.STREAM.PURGE.S3_EVENTS", "$JS.API.CONSUMER.CREATE.S3_EVENTS", "$JS.ACK.S3_EVENTS.ingest.1.1.1.1700000000000000000.0"} {
		if err := nc.Publish(subject, nil); err != nil {
			t.Fatal(err)
		}
		v.denied(t, "Publish", subject)
	}
	if _, err := js.StreamInfo(schemas.StreamS3Events); err == nil {
		t.Error("minio read the stream's info")
	}
	for _, subject := range []string{schemas.DeliverSubject(schemas.DurableIngest), "sluice.>", bus.InboxPrefix(schemas.StageIngest) + ".>"} {
		if _, err := nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		v.denied(t, "Subscription", subject)
	}
	if info, err := ajs.StreamInfo(schemas.StreamS3Events); err != nil || info.State.Msgs == 0 {
		t.Errorf("S3_EVENTS after minio: %v", err)
	}
}

// adminReplays: `sluice replay` as admin lists a poison chunk (published by
// load's user) and re-drives it into load's input.
func adminReplays(t *testing.T, cfg config) {
	nc, v := connectAs(t, cfg.NATSURL, schemas.StageLoad, schemas.StageLoad)
	pub, err := bus.NewPublisher(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &schemas.Chunk{Import: schemas.Import{ID: "imp-replay", Tenant: "acme", Dataset: "clients"}, Number: 2}
	if err := bus.PublishChunk(pub, schemas.PoisonSubject(schemas.StageLoad), "imp-replay.transform.2", c); err != nil {
		t.Fatalf("load's poison chunk: %v (violations %q)", err, v.all())
	}
	var out bytes.Buffer
	if err := replay(t.Context(), cfg, []string{"--import", "imp-replay", "--run", "all"}, &out); err != nil {
		t.Fatalf("replay as admin: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "replayed: 1, failed: 0") {
		t.Errorf("replay as admin:\n%s\nwant one replayed", out.String())
	}
}

// adminContinues: `sluice continue` and `sluice confirm` as admin publish
// their events into the IMPORTS stream, each on its own inbox, with
// nothing denied.
func adminContinues(t *testing.T, cfg config, ajs nats.JetStreamContext) {
	imp := schemas.Import{ID: "imp-resumed", Tenant: "acme", Dataset: "clients"}
	for _, event := range []string{schemas.EventContinue, schemas.EventConfirm} {
		if err := opsPublisher(cfg).Resume(event, imp); err != nil {
			t.Fatalf("%s as admin: %v", event, err)
		}
		subject := schemas.ImportSubject(event, imp.ID)
		m, err := ajs.GetLastMsg(schemas.StreamImports, subject)
		if err != nil {
			t.Fatalf("%s in %s: %v", subject, schemas.StreamImports, err)
		}
		var ev schemas.ImportEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Type != event || ev.Import.ID != imp.ID {
			t.Errorf("%s event: %s (%v), want type %s of %s", event, m.Data, err, event, imp.ID)
		}
	}
}

// adminCancels: `sluice cancel` as admin publishes the deletion of the
// import's file into the bucket events, on its own inbox, with nothing
// denied; ingest reads it as a deletion of that file.
func adminCancels(t *testing.T, cfg config, ajs nats.JetStreamContext) {
	imp := schemas.Import{ID: "imp-cancelled", Bucket: "imports", Key: "acme/clients/a file.csv", Version: 1 << 40}
	if err := opsPublisher(cfg).Cancel(imp); err != nil {
		t.Fatalf("cancel as admin: %v", err)
	}
	m, err := ajs.GetLastMsg(schemas.StreamS3Events, schemas.SubjectS3Events)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := ingest.ParseEvent(m.Data)
	if err != nil || len(refs) != 1 || !refs[0].Removed || refs[0].Bucket != imp.Bucket || refs[0].Key != imp.Key {
		t.Errorf("cancel event %s: %+v (%v), want the deletion of %s/%s", m.Data, refs, err, imp.Bucket, imp.Key)
	}
}

// consoleUnderConf: the web console's user keeps its accounts and sessions
// in its own buckets, and sends Continue and Stop as operate does, with
// nothing denied; it may not open another bucket, confirm a preview, or
// publish a stage's product.
func consoleUnderConf(t *testing.T, url string, ajs nats.JetStreamContext) {
	nc, v := connectAs(t, url, "console", "console")
	accounts, sessions, err := console.Open(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := accounts.Add(console.Account{Login: "ann", Tenant: "acme", Role: console.RoleAdmin}, "Secret123"); err != nil {
		t.Fatalf("add an account: %v", err)
	}
	if _, err := accounts.SignIn("ann", "Secret123"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	token, err := sessions.Start("ann")
	if err != nil {
		t.Fatalf("start a session: %v", err)
	}
	if _, err := sessions.Get(token); err != nil {
		t.Fatalf("read a session: %v", err)
	}
	if err := sessions.End(token); err != nil {
		t.Fatalf("end a session: %v", err)
	}
	pub := operate.Publisher{URL: url, User: "console", Password: "pw-console"}
	imp := schemas.Import{ID: "imp-console", Tenant: "acme", Dataset: "clients", Bucket: "imports", Key: "acme/clients/c.csv"}
	if err := pub.Resume(schemas.EventContinue, imp); err != nil {
		t.Errorf("continue as console: %v", err)
	}
	if err := pub.Cancel(imp); err != nil {
		t.Errorf("stop as console: %v", err)
	}
	// Its /invite page asks notify, which answers as notify's user.
	nn, nv := connectAs(t, url, schemas.StageNotify, schemas.StageNotify)
	njs, err := nn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	invites, err := njs.KeyValue(bus.InvitesBucket)
	if err != nil {
		t.Fatal(err)
	}
	answering, stop := context.WithCancel(t.Context())
	defer stop()
	go notify.AnswerInvitations(answering, nn, notify.NewInvitations(invites, nil, nil, 0, nil), nil, slog.New(slog.DiscardHandler))
	if err := parts.WaitFor(t.Context(), 5*time.Second, func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := notify.InviteRequests{NC: nc}.Accept(ctx, "no-such-token", "Welcome2024x")
		return errors.Is(err, notify.ErrInviteUnknown), nil
	}); err != nil {
		t.Errorf("console's request to use an invitation: not answered by notify: %v", err)
	}
	if got := nv.all(); len(got) > 0 {
		t.Errorf("notify denied answering the console: %q", got)
	}
	if got := v.all(); len(got) > 0 {
		t.Fatalf("console denied its own work: %q", got)
	}
	// Nor may it read the passwords others send.
	if _, err := nc.Subscribe(schemas.SubjectInviteAccept, func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	v.denied(t, "Subscription", schemas.SubjectInviteAccept)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.KeyValue(bus.InvitesBucket); err == nil {
		t.Error("console opened notify's invitations")
	}
	v.denied(t, "Publish", "$JS.API.STREAM.INFO.KV_"+bus.InvitesBucket)
	for _, subject := range []string{schemas.ImportSubject(schemas.EventConfirm, imp.ID), schemas.RawRowsSubject("acme", "clients")} {
		if err := nc.Publish(subject, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		v.denied(t, "Publish", subject)
	}
	if _, err := ajs.GetLastMsg(schemas.StreamImports, schemas.ImportSubject(schemas.EventConfirm, imp.ID)); err == nil {
		t.Error("the console's forged confirm reached the imports stream")
	}
}

// ingestSyncs: migrate put the bucket sync's schedule on the SYNC stream;
// ingest's user binds its sync consumer, asks for a sync as it does when
// it starts, is delivered the request, naks it once and acks it, with
// nothing denied; it may not put a schedule, nor may another stage ask for
// a sync.
func ingestSyncs(t *testing.T, url string, ajs nats.JetStreamContext, cfg config) {
	schedule, err := ajs.GetLastMsg(schemas.StreamSync, schemas.SubjectSyncSchedule)
	if err != nil || schedule.Header.Get("Nats-Schedule") != "0 0 2 * * *" || schedule.Header.Get("Nats-Schedule-Target") != schemas.SubjectSyncRun {
		t.Fatalf("the sync schedule after migrate: %v %v", err, schedule)
	}
	nc, v := connectAs(t, url, schemas.StageIngest, schemas.StageIngest)
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageIngest)
	if err != nil {
		t.Fatal(err)
	}
	deliveries := make(chan int, 4)
	var seen [3]sync.Once // not again on the retries of a delivery
	c := ingest.SyncConsumer(cfg.stages.ingest)
	r, err := bus.NewRunner(schemas.StageIngest, nc, c, m, slog.New(slog.DiscardHandler), func(msg *message.Message) error {
		n := min(bus.Delivered(msg), 2)
		seen[n].Do(func() { deliveries <- n })
		if n == 1 {
			return platform.From(platform.PartS3, fmt.Errorf("dial: %w", syscall.ECONNREFUSED))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sync runner under ingest's user: %v", err)
	}
	runCtx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	}()
	<-r.Running()
	if err := bus.Publish(r.Pub, schemas.SubjectSyncRun, "perm.start-up", bus.SyncAtStartUp); err != nil {
		t.Fatalf("ingest asks for a sync: %v", err)
	}
	for want := 1; want <= 2; want++ {
		select {
		case n := <-deliveries:
			if n != want {
				t.Fatalf("delivery %d, want %d", n, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("delivery %d of the sync request never came", want)
		}
	}
	err = parts.WaitFor(t.Context(), 10*time.Second, func() (bool, error) {
		info, err := ajs.ConsumerInfo(c.Stream, c.Name)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0, err
	})
	if err != nil {
		t.Errorf("the sync request was not acked: %v", err)
	}
	if got := v.all(); len(got) > 0 {
		t.Errorf("ingest's sync was denied: %q", got)
	}
	if err := nc.Publish(schemas.SubjectSyncSchedule, []byte(`"schedule"`)); err != nil {
		t.Fatal(err)
	}
	v.denied(t, "Publish", schemas.SubjectSyncSchedule)
	other, ov := connectAs(t, url, schemas.StageValidate, schemas.StageValidate)
	if err := other.Publish(schemas.SubjectSyncRun, []byte(`"start-up"`)); err != nil {
		t.Fatal(err)
	}
	ov.denied(t, "Publish", schemas.SubjectSyncRun)
}
