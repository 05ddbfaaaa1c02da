package parts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
)

// TestMinIODriveWiped runs MinIO erasure-coded over 4 drives and wipes one
// of them (rm -rf of its contents) in the middle of reading a multi-MB
// object: the read goes on with the right bytes, an upload with the drive
// still empty succeeds, both objects read back whole, and MinIO formats
// the empty drive again and heals the objects onto it.
func TestMinIODriveWiped(t *testing.T) {
	ns, _ := testkit.NATS(t) // MinIO publishes its bucket events there
	cfg, drives := testkit.ErasureMinIO(t, ns.ClientURL())
	ctx := t.Context()
	client := platform.NewS3Client(cfg)
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	open := func(key string) io.ReadCloser {
		t.Helper()
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		return out.Body
	}
	read := func(key string, want []byte) {
		t.Helper()
		body := open(key)
		defer body.Close()
		got, err := io.ReadAll(body)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: read %d bytes (%v), want the %d put", key, len(got), err, len(want))
		}
	}
	// The first in parts of 5 MiB: MinIO opens a part's files on the
	// drives as the read reaches it, so those after the first are read
	// with the drive wiped, from the other three.
	first, second := randomBytes(t, 16<<20), randomBytes(t, 12<<20)
	testkit.PutParts(ctx, t, client, cfg.Bucket, "first.bin", first, 5<<20)

	wiped := drives[1]
	body := open("first.bin")
	head := make([]byte, 2<<20)
	if _, err := io.ReadFull(body, head); err != nil {
		t.Fatal(err)
	}
	if err := testkit.WipeDrive(wiped); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(body)
	body.Close()
	if got := append(head, rest...); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("read across the wipe: %d bytes (%v), want the %d put", len(got), err, len(first))
	}
	put("second.bin", second)
	read("first.bin", first)
	read("second.bin", second)

	// MinIO looks for empty drives every few seconds, formats them and
	// heals every bucket onto them.
	healed := func() (bool, error) {
		_, format := os.Stat(filepath.Join(wiped, ".minio.sys", "format.json"))
		_, object := os.Stat(filepath.Join(wiped, cfg.Bucket, "second.bin"))
		return format == nil && object == nil, nil
	}
	start := time.Now()
	if err := parts.WaitFor(context.Background(), 3*time.Minute, healed); err != nil {
		t.Errorf("the wiped drive was not healed: %v", err)
	}
	t.Logf("the wiped drive healed in %v", time.Since(start).Round(time.Second))
	read("first.bin", first)
	read("second.bin", second)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
