package ingest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// ObjectRef is one object version a bucket event (or the bucket sync) points
// at.
type ObjectRef struct {
	Bucket string
	Key    string
	// Version is the version id, or MinIO's sequencer where the bucket is not
	// versioned: either way, a new PUT of the same key has a new one.
	Version  string
	ETag     string
	Size     int64
	Uploader string
	// Meta is the object's user metadata (X-Amz-Meta-*): the upload's
	// options (see options).
	Meta map[string]string
	Time time.Time
	// Modified is when the object was last modified, to the millisecond,
	// where known: a listing's LastModified, or MinIO's sequencer (see
	// modifiedAt). With the ETag it names the upload in the claims ledger,
	// whether an event or the bucket sync finds it (see uploadKey).
	Modified time.Time
	// Removed says the event is the object's deletion, not its upload.
	Removed bool
	// Principal is the access key that put the object, as the bucket event
	// says (the bucket sync does not know it): see Refusal.
	Principal string
}

// The events that start an import, and those that cancel one (MinIO's
// internal/event/name.go; AWS sends the same names). Every other event says
// nothing about a file's content: tagging, retention and legal hold come as
// s3:ObjectCreated:PutTagging, :DeleteTagging, :PutRetention and
// :PutLegalHold (they match s3:ObjectCreated:*), reads as
// s3:ObjectAccessed:*, and a deletion of nothing as s3:ObjectRemoved:NoOP.
var (
	createdEvents = []string{"s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload"}
	removedEvents = []string{"s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRemoved:DeleteAllVersions"}
)

// ParseEvent reads the objects created or removed by a bucket notification;
// it ignores every other event (see createdEvents).
// The key arrives URL-encoded (acme%2Fclients%2Fmy+file.csv).
func ParseEvent(data []byte) ([]ObjectRef, error) {
	var ev schemas.BucketEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("ingest: bucket event: %w", err)
	}
	var refs []ObjectRef
	for _, r := range ev.Records {
		name := r.EventName
		if !strings.HasPrefix(name, "s3:") {
			name = "s3:" + name
		}
		removed := slices.Contains(removedEvents, name)
		if !removed && !slices.Contains(createdEvents, name) {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("ingest: bucket event key %q: %w", r.S3.Object.Key, err)
		}
		version := r.S3.Object.VersionID
		if version == "" || version == "null" {
			version = r.S3.Object.Sequencer
		}
		refs = append(refs, ObjectRef{
			Bucket:   r.S3.Bucket.Name,
			Key:      key,
			Version:  version,
			ETag:     r.S3.Object.ETag,
			Size:     r.S3.Object.Size,
			Uploader: uploader(r.S3.Object.UserMetadata),
			Meta:     r.S3.Object.UserMetadata,
			Time:     r.EventTime,
			Modified: modifiedAt(r.S3.Object.Sequencer, r.EventTime),
			Removed:  removed,

			Principal: r.UserIdentity.PrincipalID,
		})
	}
	return refs, nil
}

// modifiedAt reads an object's modification time from MinIO's sequencer,
// which is that time in nanoseconds, in hex (cmd/event-notification.go), and
// cuts it to the millisecond, as a listing gives it. AWS's sequencer is
// opaque: a value that is not a time shortly before the event is none.
func modifiedAt(sequencer string, event time.Time) time.Time {
	ns, err := strconv.ParseUint(sequencer, 16, 63)
	if err != nil || event.IsZero() {
		return time.Time{}
	}
	t := time.Unix(0, int64(ns)).UTC()
	if t.After(event.Add(time.Minute)) || t.Before(event.Add(-24*time.Hour)) {
		return time.Time{}
	}
	return t.Truncate(time.Millisecond)
}

// uploader finds X-Amz-Meta-Uploader. CR and LF never reach a mail header.
func uploader(md map[string]string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(metadata(md, "uploader"))
}

// metadata finds the user metadata X-Amz-Meta-<name>, whatever case and
// prefix the server gave it.
func metadata(md map[string]string, name string) string {
	for k, v := range md {
		if strings.EqualFold(k, "X-Amz-Meta-"+name) || strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// splitKey splits <tenant>/<dataset>/<file name>, or, for the groups
// dataset, <tenant>/<dataset>/<group type>/<file name>: the type the file
// gives its groups (schemas.GroupRecords).
func splitKey(key string) (tenant, dataset, groupType, file string, ok bool) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", "", false
	}
	tenant, dataset, file = parts[0], parts[1], parts[2]
	if typ, name, nested := strings.Cut(file, "/"); nested {
		ds, _ := schemas.Lookup(dataset)
		if ds != schemas.Groups || !schemas.ValidGroupType(typ) || name == "" || strings.Contains(name, "/") {
			return "", "", "", "", false
		}
		groupType, file = typ, name
	}
	return tenant, dataset, groupType, file, true
}
