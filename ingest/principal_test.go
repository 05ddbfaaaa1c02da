package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

func TestRefusal(t *testing.T) {
	tenants := platform.Tenants{
		"acme":    {AccessKeys: []string{"ACMEKEY", "ACMEKEY2"}},
		"globex":  {AccessKeys: []string{"GLOBEXKEY"}},
		"keyless": {},
	}
	for _, tc := range []struct {
		name, key, principal string
		reason, owner        string
	}{
		{"own key, own prefix", "acme/clients/f.csv", "ACMEKEY", "", "acme"},
		{"second key", "acme/clients/f.csv", "ACMEKEY2", "", "acme"},
		{"other tenant's key", "acme/clients/f.csv", "GLOBEXKEY", ingest.RefusedOtherTenant, "globex"},
		{"bucket root", "f.csv", "ACMEKEY", ingest.RefusedOtherTenant, "acme"},
		{"prefix that only starts with the tenant", "acme2/clients/f.csv", "ACMEKEY", ingest.RefusedOtherTenant, "acme"},
		{"root key", "acme/clients/f.csv", "sluice", ingest.RefusedUnknownKey, ""},
		{"no principal", "acme/clients/f.csv", "", ingest.RefusedUnknownKey, ""},
		{"tenant without keys", "keyless/clients/f.csv", "", ingest.RefusedUnknownKey, ""},
		{"unknown tenant, own key", "nobody/clients/f.csv", "ACMEKEY", ingest.RefusedOtherTenant, "acme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, owner := ingest.Refusal(tc.key, tc.principal, tenants)
			if reason != tc.reason || owner != tc.owner {
				t.Errorf("got %q, %q; want %q, %q", reason, owner, tc.reason, tc.owner)
			}
		})
	}
}

// TestIngestChecksThePrincipal runs ingest on a real MinIO with two
// tenants whose keys `sluice tenant add` would make. It shows that MinIO's
// principalId is the access key that put the object; that a tenant's own
// upload is imported; that an upload by the root key, or an event naming
// another tenant's key, is refused: no import event, a refused count by
// reason; that a tenant added while ingest runs is served at once; and
// that the bucket sync does not import the refused object later.
func TestIngestChecksThePrincipal(t *testing.T) {
	ns, nc := testkit.NATS(t)
	cfg, err := parts.MinIOConfig()
	if err != nil {
		t.Fatal(err)
	}
	minio, err := parts.NewMinIO(t.TempDir(), ns.ClientURL(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(minio.Stop)
	ctx := t.Context()
	cfg.AdminAccessKey, cfg.AdminSecretKey = cfg.AccessKey, cfg.SecretKey
	file := t.TempDir() + "/tenants.json"
	admin, err := tenantkeys.NewAdmin(cfg, file)
	if err != nil {
		t.Fatal(err)
	}
	acme, err := admin.Add(ctx, "acme", "imports@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := admin.Add(ctx, "globex", "data@globex.example")
	if err != nil {
		t.Fatal(err)
	}
	tenants, err := platform.OpenTenants(file, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m, err := platform.NewMetrics(prometheus.NewRegistry(), schemas.StageIngest)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	root := platform.NewS3Client(cfg)
	var logs bytes.Buffer
	icfg := ingest.Config{Bucket: cfg.Bucket, SyncGrace: time.Millisecond}
	migrateSync(t, nc, icfg)
	st, err := ingest.New(icfg,
		nc, ingest.S3Store{Client: root}, tenants, secrets, m, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := nc.JetStream()
	received, err := js.SubscribeSync(schemas.ImportSubject(schemas.EventReceived, "*"), nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	events, err := js.SubscribeSync(schemas.SubjectS3Events, nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, st)

	putAs := func(c *s3.Client, key string) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key),
			Body: strings.NewReader("firstName,email\nAnn,ann@acme.example\n")}); err != nil {
			t.Fatal(err)
		}
	}
	acmeCfg := cfg
	acmeCfg.AccessKey, acmeCfg.SecretKey = acme.AccessKey, acme.SecretKey
	putAs(platform.NewS3Client(acmeCfg), "acme/clients/own.csv")
	putAs(root, "acme/clients/by-root.csv")

	// What MinIO says of each put: principalId is the access key.
	principals := map[string]string{}
	for len(principals) < 2 {
		msg, err := events.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatalf("MinIO sent no bucket event: %v", err)
		}
		var ev schemas.BucketEvent
		if err := json.Unmarshal(msg.Data, &ev); err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Records {
			principals[r.S3.Object.Key] = r.UserIdentity.PrincipalID
		}
	}
	if got := principals["acme%2Fclients%2Fown.csv"]; got != acme.AccessKey {
		t.Errorf("principalId of acme's put = %q, want its access key %q", got, acme.AccessKey)
	}
	if got := principals["acme%2Fclients%2Fby-root.csv"]; got != cfg.AccessKey {
		t.Errorf("principalId of root's put = %q, want the root key %q", got, cfg.AccessKey)
	}

	// An event saying globex's key put a file under acme's prefix (MinIO's
	// policy would deny the put itself: this is the check behind it).
	forged := bytes.ReplaceAll(bytes.ReplaceAll(eventData(t, js, "own.csv"), []byte(acme.AccessKey), []byte(globex.AccessKey)),
		[]byte("own.csv"), []byte("forged.csv"))
	if err := st.Pub.Publish(schemas.SubjectS3Events, message.NewMessage("forged", forged)); err != nil {
		t.Fatal(err)
	}

	err = parts.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		return testutil.ToFloat64(m.Refused.WithLabelValues(ingest.RefusedUnknownKey)) == 1 &&
			testutil.ToFloat64(m.Refused.WithLabelValues(ingest.RefusedOtherTenant)) == 1, nil
	})
	if err != nil {
		t.Fatalf("refused counts: unknown_key %v, other_tenant %v; want 1 each: %v\n%s",
			testutil.ToFloat64(m.Refused.WithLabelValues(ingest.RefusedUnknownKey)),
			testutil.ToFloat64(m.Refused.WithLabelValues(ingest.RefusedOtherTenant)), err, logs.String())
	}
	for _, want := range []string{"key=acme/clients/by-root.csv principal=" + cfg.AccessKey, "reason=unknown_key",
		"key=acme/clients/forged.csv principal=" + globex.AccessKey + " principal_tenant=globex reason=other_tenant"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log line with %q:\n%s", want, logs.String())
		}
	}
	msg, err := received.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("acme's own upload was not received: %v", err)
	}
	if !strings.Contains(string(msg.Data), "own.csv") {
		t.Errorf("received %s, want acme's own upload", msg.Data)
	}
	if msg, err := received.NextMsg(2 * time.Second); err == nil {
		t.Errorf("a refused upload was received: %s", msg.Data)
	}

	// A tenant added while ingest runs (no Watch here): its first upload
	// is not refused, though the tenants file was not read since.
	initech, err := admin.Add(ctx, "initech", "hr@initech.example")
	if err != nil {
		t.Fatal(err)
	}
	initechCfg := cfg
	initechCfg.AccessKey, initechCfg.SecretKey = initech.AccessKey, initech.SecretKey
	putAs(platform.NewS3Client(initechCfg), "initech/clients/new.csv")
	msg, err = received.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("the new tenant's upload was not received: %v\n%s", err, logs.String())
	}
	if !strings.Contains(string(msg.Data), "initech/clients/new.csv") {
		t.Errorf("received %s, want initech's upload", msg.Data)
	}

	n, failed, err := st.Sync(ctx)
	if err != nil || failed != 0 {
		t.Fatalf("Sync: %d failed, %v", failed, err)
	}
	if n != 0 {
		t.Errorf("the bucket sync imported %d objects, want 0: a refused upload is not imported later", n)
	}
}

// eventData returns the data of the bucket event of the object whose key
// ends with suffix.
func eventData(t *testing.T, js nats.JetStreamContext, suffix string) []byte {
	t.Helper()
	sub, err := js.SubscribeSync(schemas.SubjectS3Events, nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("no event for %s: %v", suffix, err)
		}
		if strings.Contains(string(msg.Data), suffix) {
			return msg.Data
		}
	}
}
