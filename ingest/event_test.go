package ingest

import (
	"fmt"
	"testing"
	"time"
)

// minioNotification is a bucket notification as MinIO builds it
// (cmd/event-notification.go, ToEvent): the sequencer is the object's
// modification time in nanoseconds, in hex; a removal carries no ETag, size
// or metadata.
func minioNotification(name string, modified time.Time, versionID string) []byte {
	object := fmt.Sprintf(`"key": "acme%%2Fclients%%2Fa.csv", "versionId": %q, "sequencer": "%X"`, versionID, modified.UnixNano())
	switch name {
	case "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRemoved:NoOP":
	default:
		object += `, "size": 42, "eTag": "5fc7298143efe1276d39a3466d4e255f", "contentType": "text/csv",
			"userMetadata": {"X-Amz-Meta-Uploader": "jane@acme.example", "content-type": "text/csv"}`
	}
	return fmt.Appendf(nil, `{"EventName": %[1]q, "Key": "imports/acme/clients/a.csv", "Records": [{
		"eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventTime": "2024-06-13T15:06:03.123Z",
		"eventName": %[1]q, "userIdentity": {"principalId": "acme-uploader"},
		"requestParameters": {"principalId": "acme-uploader", "region": "", "sourceIPAddress": "127.0.0.1"},
		"responseElements": {"x-amz-id-2": "dd90", "x-amz-request-id": "17D8A3B2C1E0F9A8", "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
		"s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
			"bucket": {"name": "imports", "ownerIdentity": {"principalId": "acme-uploader"}, "arn": "arn:aws:s3:::imports"},
			"object": {%[2]s}},
		"source": {"host": "127.0.0.1", "port": "", "userAgent": "aws-sdk-go-v2"}}]}`, name, object)
}

// TestParseEventNames: only an object's creation starts an import and only
// its removal cancels one; tagging, retention, legal hold and reads (which
// MinIO sends under s3:ObjectCreated:* or s3:ObjectAccessed:*) do neither.
func TestParseEventNames(t *testing.T) {
	modified := time.Date(2024, 6, 13, 15, 6, 3, 120456789, time.UTC)
	cases := []struct {
		name    string
		created bool
		removed bool
	}{
		{name: "s3:ObjectCreated:Put", created: true},
		{name: "s3:ObjectCreated:Post", created: true},
		{name: "s3:ObjectCreated:Copy", created: true},
		{name: "s3:ObjectCreated:CompleteMultipartUpload", created: true},
		{name: "ObjectCreated:Put", created: true}, // AWS leaves out the s3: prefix
		{name: "s3:ObjectRemoved:Delete", removed: true},
		{name: "s3:ObjectRemoved:DeleteMarkerCreated", removed: true},
		{name: "s3:ObjectRemoved:DeleteAllVersions", removed: true},
		{name: "s3:ObjectRemoved:NoOP"}, // a deletion of nothing
		{name: "s3:ObjectCreated:PutTagging"},
		{name: "s3:ObjectCreated:DeleteTagging"},
		{name: "s3:ObjectCreated:PutRetention"},
		{name: "s3:ObjectCreated:PutLegalHold"},
		{name: "s3:ObjectAccessed:Get"},
		{name: "s3:ObjectAccessed:Head"},
		{name: "s3:ObjectAccessed:GetRetention"},
		{name: "s3:ObjectAccessed:GetLegalHold"},
		{name: "s3:ObjectAccessed:Attributes"},
		{name: "s3:ObjectRestore:Completed"},
		{name: "s3:ObjectTransition:Complete"},
		{name: "s3:Replication:OperationCompletedReplication"},
		{name: "s3:Scanner:ManyVersions"},
		{name: "s3:LifecycleDelMarkerExpiration:Delete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := ParseEvent(minioNotification(tc.name, modified, ""))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.created && !tc.removed {
				if len(refs) != 0 {
					t.Errorf("got %+v, want no ref: it neither starts nor cancels an import", refs)
				}
				return
			}
			if len(refs) != 1 {
				t.Fatalf("got %d refs, want 1", len(refs))
			}
			r := refs[0]
			if r.Removed != tc.removed || r.Key != "acme/clients/a.csv" || r.Version != fmt.Sprintf("%X", modified.UnixNano()) {
				t.Errorf("got removed=%v key %q version %q, want removed=%v acme/clients/a.csv %X", r.Removed, r.Key, r.Version, tc.removed, modified.UnixNano())
			}
			if want := modified.Truncate(time.Millisecond); !r.Modified.Equal(want) {
				t.Errorf("modified: got %v, want %v (as a listing gives it)", r.Modified, want)
			}
		})
	}
}

func TestModifiedAt(t *testing.T) {
	event := time.Date(2024, 6, 13, 15, 6, 3, 123e6, time.UTC)
	cases := []struct {
		name, sequencer string
		want            time.Time
	}{
		{"MinIO's sequencer", fmt.Sprintf("%X", event.Add(-3*time.Millisecond+456).UnixNano()), event.Add(-3 * time.Millisecond)},
		{"AWS's sequencer, too long", "0055AED6DCD90281E5", time.Time{}},
		{"AWS's sequencer, not a time near the event", "0A1B2C3D4E5F6071", time.Time{}},
		{"after the event", fmt.Sprintf("%X", event.Add(time.Hour).UnixNano()), time.Time{}},
		{"none", "", time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := modifiedAt(tc.sequencer, event); !got.Equal(tc.want) {
				t.Errorf("modifiedAt(%q): got %v, want %v", tc.sequencer, got, tc.want)
			}
		})
	}
}
