package ingest

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// S3Store reads objects from an S3-compatible bucket with aws-sdk-go-v2.
type S3Store struct{ Client *s3.Client }

// Open streams the object, and only the version the event announced: if the
// key now holds other content (its ETag changed), the import is rejected and
// the newer upload's own event imports the new content.
func (s S3Store) Open(ctx context.Context, ref ObjectRef) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(ref.Bucket), Key: aws.String(ref.Key)}
	if ref.ETag != "" {
		in.IfMatch = aws.String(`"` + strings.Trim(ref.ETag, `"`) + `"`)
	}
	out, err := s.Client.GetObject(ctx, in)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed":
			return nil, fileError(schemas.CodeSuperseded, schemas.MsgSuperseded)
		case "NoSuchKey":
			return nil, fileError(schemas.CodeSuperseded, schemas.MsgDeleted)
		}
	}
	if err != nil {
		return nil, platform.Errorf(platform.PartS3, "ingest: get %s/%s: %w", ref.Bucket, ref.Key, err)
	}
	return out.Body, nil
}

// List implements ObjectStore.
func (s S3Store) List(ctx context.Context, bucket string, each func(ObjectRef) error) error {
	pages := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return platform.Errorf(platform.PartS3, "ingest: list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			modified := aws.ToTime(o.LastModified).UTC()
			ref := ObjectRef{Bucket: bucket, Key: aws.ToString(o.Key), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
				Size: aws.ToInt64(o.Size), Time: modified, Modified: modified.Truncate(time.Millisecond)}
			if err := each(ref); err != nil {
				return err
			}
		}
	}
	return nil
}

// Metadata implements ObjectStore.
func (s S3Store) Metadata(ctx context.Context, bucket, key string) (map[string]string, error) {
	out, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, platform.Errorf(platform.PartS3, "ingest: head %s/%s: %w", bucket, key, err)
	}
	return out.Metadata, nil
}
