package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// bucketEvents returns the bucket events S3_EVENTS holds for key, by name.
func bucketEvents(t *testing.T, key string) map[string][][]byte {
	t.Helper()
	sub, err := stack.js.SubscribeSync(schemas.SubjectS3Events, nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	encoded := url.QueryEscape(key)
	out := map[string][][]byte{}
	for {
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			return out
		}
		var ev schemas.BucketEvent
		if json.Unmarshal(m.Data, &ev) != nil {
			continue
		}
		for _, r := range ev.Records {
			if r.S3.Object.Key == encoded || r.S3.Object.Key == key {
				out[r.EventName] = append(out[r.EventName], m.Data)
			}
		}
	}
}

// waitForEvents waits for bucket events with these names for key to be in
// S3_EVENTS (MinIO sends them within seconds), then for an upload that
// comes after them to be imported: ingest has handled them by then.
func waitForEvents(t *testing.T, key string, names ...string) map[string][][]byte {
	t.Helper()
	var events map[string][][]byte
	err := parts.WaitFor(context.Background(), 60*time.Second, func() (bool, error) {
		events = bucketEvents(t, key)
		for _, n := range names {
			if len(events[n]) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("bucket events %v for %s: got %v: %v", names, key, keys(events), err)
	}
	after := strings.TrimSuffix(key, ".csv") + "-after.csv"
	upload(t, after, []byte("firstName,email\nZed,zed@acme.example\n"), "")
	time.Sleep(time.Second)
	return events
}

// cancelled reports whether the file at bucket/key is recorded as deleted
// (bus.Cancellations).
func cancelled(t *testing.T, bucket, key string) bool {
	t.Helper()
	kv, err := stack.js.KeyValue(bus.CancelledBucket)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(bucket + "/" + key))
	_, err = kv.Get(hex.EncodeToString(sum[:]))
	if errors.Is(err, nats.ErrKeyNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// finished waits for the first import of key to end.
func finished(t *testing.T, key string, within time.Duration) imp {
	t.Helper()
	var got imp
	if err := parts.WaitFor(context.Background(), within, func() (bool, error) {
		for _, i := range importsOf(t, key) {
			got = i
			return schemas.FinalStatus(i.Status), nil
		}
		return false, nil
	}); err != nil {
		t.Fatalf("import of %s did not end: %v", key, err)
	}
	return got
}

// TestMetadataEventsStartNothing: tagging a file already imported, and
// setting its retention and legal hold, send s3:ObjectCreated:* events;
// they start no import and cancel none.
//
// Serial: it grants acme's key a second bucket.
func TestMetadataEventsStartNothing(t *testing.T) {
	ctx := context.Background()
	t.Run("tagging", func(t *testing.T) {
		const key = "acme/clients/claims-tagged.csv"
		first := upload(t, key, []byte("firstName,email\nTia,tia@acme.example\n"), "")
		if first.Status != schemas.StatusCompleted {
			t.Fatalf("import: got %s, want completed", first.Status)
		}
		bucket := aws.String(stack.s3cfg.Bucket)
		if _, err := stack.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bucket, Key: aws.String(key),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("reviewed"), Value: aws.String("yes")}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := stack.s3.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: bucket, Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
		waitForEvents(t, key, "s3:ObjectCreated:PutTagging", "s3:ObjectCreated:DeleteTagging")
		if got := importsOf(t, key); len(got) != 1 || got[first.ID].Status != schemas.StatusCompleted {
			t.Errorf("imports of the file: got %+v, want only the first, completed", got)
		}
		if cancelled(t, stack.s3cfg.Bucket, key) {
			t.Error("tagging cancelled the file's imports")
		}
	})

	t.Run("retention and legal hold", func(t *testing.T) {
		// Retention needs a bucket with object lock (and so versioning).
		const bucket, key = "claims-locked", "acme/clients/claims-locked.csv"
		if _, err := stack.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		if err := parts.ConfigureBucket(ctx, stack.s3, bucket); err != nil {
			t.Fatal(err)
		}
		grantBucket(t, "acme", bucket)
		if _, err := partner(key).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader("firstName,email\nLou,lou.locked@acme.example\n")}); err != nil {
			t.Fatal(err)
		}
		first := finished(t, key, 120*time.Second)
		if first.Status != schemas.StatusCompleted {
			t.Fatalf("import in the locked bucket: got %+v, want completed", first)
		}
		until := time.Now().Add(time.Hour)
		if _, err := stack.s3.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: &until}}); err != nil {
			t.Fatal(err)
		}
		if _, err := stack.s3.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String(bucket), Key: aws.String(key),
			LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
			t.Fatal(err)
		}
		waitForEvents(t, key, "s3:ObjectCreated:PutRetention", "s3:ObjectCreated:PutLegalHold")
		if got := importsOf(t, key); len(got) != 1 || got[first.ID].Status != schemas.StatusCompleted {
			t.Errorf("imports of the file: got %+v, want only the first, completed", got)
		}
		if cancelled(t, bucket, key) {
			t.Error("retention or legal hold cancelled the file's imports")
		}
	})
}

// TestReplayedAndLateBucketEvents: a copy of a bucket event already handled
// (another message, with its own Msg-Id) imports nothing again, and neither
// does an event that comes late for a file the bucket sync imported.
//
// Serial: it turns the bucket's notifications off for a while.
func TestReplayedAndLateBucketEvents(t *testing.T) {
	ctx := context.Background()
	republish := func(t *testing.T, event []byte, msgID string) {
		t.Helper()
		if _, err := stack.js.Publish(schemas.SubjectS3Events, event, nats.MsgId(msgID)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("replayed event", func(t *testing.T) {
		const key = "acme/clients/claims-replayed.csv"
		first := upload(t, key, []byte("firstName,email\nRay,ray.replayed@acme.example\n"), "")
		events := bucketEvents(t, key)["s3:ObjectCreated:Put"]
		if len(events) != 1 {
			t.Fatalf("Put events for the file: got %d, want 1", len(events))
		}
		republish(t, events[0], "replayed-"+first.ID)
		waitForEvents(t, key, "s3:ObjectCreated:Put")
		if got := importsOf(t, key); len(got) != 1 {
			t.Errorf("imports of the file: got %d, want 1: %+v", len(got), got)
		}
	})

	t.Run("late event for a file the sync imported", func(t *testing.T) {
		const key = "acme/clients/claims-synced.csv"
		bucket := aws.String(stack.s3cfg.Bucket)
		// No notification while the file is put: only the sync finds it.
		if _, err := stack.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: bucket, NotificationConfiguration: &types.NotificationConfiguration{}}); err != nil {
			t.Fatal(err)
		}
		_, err := stack.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key),
			Body: strings.NewReader("firstName,email\nSid,sid.synced@acme.example\n")})
		if rerr := parts.ConfigureBucket(ctx, stack.s3, stack.s3cfg.Bucket); rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			t.Fatal(err)
		}
		first := finished(t, key, syncGrace+60*time.Second)
		if first.Status != schemas.StatusCompleted {
			t.Fatalf("the sync's import: got %+v, want completed", first)
		}
		// Tagging it sends an event as its upload's would have been (the
		// same sequencer: tags leave the modification time alone); as
		// that Put event, coming late, it must import nothing either.
		if _, err := stack.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bucket, Key: aws.String(key),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("synced"), Value: aws.String("yes")}}}}); err != nil {
			t.Fatal(err)
		}
		tagging := waitForEvents(t, key, "s3:ObjectCreated:PutTagging")["s3:ObjectCreated:PutTagging"][0]
		late := bytes.ReplaceAll(tagging, []byte(`"s3:ObjectCreated:PutTagging"`), []byte(`"s3:ObjectCreated:Put"`))
		republish(t, late, "late-"+first.ID)
		waitForEvents(t, key, "s3:ObjectCreated:Put")
		if got := importsOf(t, key); len(got) != 1 {
			t.Errorf("imports of the file: got %d, want 1: %+v", len(got), got)
		}
	})
}
