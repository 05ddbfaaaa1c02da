package parts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// MinIONATSQueueARN is the notification target MinIO registers for its
// MINIO_NOTIFY_NATS_*_PRIMARY settings.
const MinIONATSQueueARN = "arn:minio:sqs::PRIMARY:nats"

// ConfigureBucket creates the bucket if needed and has every object created
// in it, or removed, published to the NATS target.
func ConfigureBucket(ctx context.Context, client *s3.Client, bucket string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("s3: create bucket %s: %w", bucket, err)
	}
	// MinIO registers its NATS target in the background after it starts
	// serving: until then it calls the target's ARN unknown (a 400
	// InvalidArgument), so that one answer is retried for a while.
	var last error
	err = WaitFor(ctx, 30*time.Second, func() (bool, error) {
		_, last = client.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(bucket),
			NotificationConfiguration: &types.NotificationConfiguration{
				QueueConfigurations: []types.QueueConfiguration{{
					QueueArn: aws.String(MinIONATSQueueARN),
					// Removed: deleting a file cancels its import.
					Events: []types.Event{types.EventS3ObjectCreated, types.EventS3ObjectRemoved},
				}},
			},
		})
		var api smithy.APIError
		if errors.As(last, &api) && api.ErrorCode() == "InvalidArgument" {
			return false, nil
		}
		return true, last
	})
	if errors.Is(err, ErrNotReady) {
		err = last
	}
	if err != nil {
		return fmt.Errorf("s3: bucket notification %s: %w", bucket, err)
	}
	return nil
}
