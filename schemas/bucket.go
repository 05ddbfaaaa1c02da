package schemas

import "time"

// BucketEvent is the part of an S3 (MinIO) bucket notification sluice reads,
// as MinIO publishes it on sluice.s3.events: each record's event name
// (s3:ObjectCreated:Put, ...), time, bucket, and the object with its
// URL-encoded key and user metadata (X-Amz-Meta-*).
type BucketEvent struct {
	Records []struct {
		EventName string    `json:"eventName"`
		EventTime time.Time `json:"eventTime"`
		// UserIdentity names who made the request: MinIO's principalId is
		// the access key that signed it (its parent user's for a service
		// account or STS credentials).
		UserIdentity struct {
			PrincipalID string `json:"principalId"`
		} `json:"userIdentity"`
		S3 struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key          string            `json:"key"`
				Size         int64             `json:"size"`
				ETag         string            `json:"eTag"`
				VersionID    string            `json:"versionId"`
				Sequencer    string            `json:"sequencer"`
				UserMetadata map[string]string `json:"userMetadata"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}
