package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
)

// PutParts uploads body to key in parts of size bytes (at least 5 MiB but
// the last), as S3 clients upload large files: a multipart upload.
func PutParts(ctx context.Context, t testing.TB, client *s3.Client, bucket, key string, body []byte, size int) {
	t.Helper()
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("testkit: upload %s: %v", key, err)
	}
	var done []types.CompletedPart
	for n := int32(1); len(body) > 0; n++ {
		part := body[:min(size, len(body))]
		body = body[len(part):]
		out, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
			UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(part)})
		if err != nil {
			t.Fatalf("testkit: part %d of %s: %v", n, key, err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatalf("testkit: complete %s: %v", key, err)
	}
}

// WipeDrive removes what one of MinIO's drives holds (parts.MinIODrives),
// as a disk lost and replaced by an empty one would. It may run on any
// goroutine.
func WipeDrive(drive string) error {
	entries, err := os.ReadDir(drive)
	if err != nil {
		return fmt.Errorf("testkit: %w", err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("testkit: drive %s is empty already", drive)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(drive, e.Name())); err != nil {
			return fmt.Errorf("testkit: %w", err)
		}
	}
	return nil
}

// ErasureMinIO starts MinIO erasure-coded over 4 drives
// (parts.StartMinIODrives), publishing its bucket events to the NATS
// server at natsURL, stopped when the test ends; it returns MinIO's config
// (root key) and the drives' folders.
func ErasureMinIO(t testing.TB, natsURL string) (platform.S3Config, []string) {
	t.Helper()
	cfg, err := parts.MinIOConfig()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	dir := t.TempDir()
	minio, err := parts.NewMinIODrives(dir, 4, natsURL, cfg)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(minio.Stop)
	return cfg, parts.MinIODrives(dir, 4)
}
