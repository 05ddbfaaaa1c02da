package tenantkeys_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/testkit"
)

// minio starts a real MinIO, with its bucket, and returns its root
// configuration and an Admin on it writing the tenants file it returns.
func minio(t *testing.T) (platform.S3Config, *tenantkeys.Admin, string) {
	t.Helper()
	ns, _ := testkit.NATS(t)
	cfg, err := parts.MinIOConfig()
	if err != nil {
		t.Fatal(err)
	}
	part, err := parts.NewMinIO(t.TempDir(), ns.ClientURL(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(part.Stop)
	cfg.AdminAccessKey, cfg.AdminSecretKey = cfg.AccessKey, cfg.SecretKey
	file := filepath.Join(t.TempDir(), "tenants.json")
	admin, err := tenantkeys.NewAdmin(cfg, file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, admin, file
}

// as returns an S3 client on cfg's MinIO with key.
func as(cfg platform.S3Config, key tenantkeys.Key) *s3.Client {
	cfg.AccessKey, cfg.SecretKey = key.AccessKey, key.SecretKey
	return platform.NewS3Client(cfg)
}

func put(ctx context.Context, c *s3.Client, bucket, key string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("a,b\n1,2\n"))})
	return err
}

func get(ctx context.Context, c *s3.Client, bucket, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func list(ctx context.Context, c *s3.Client, bucket, prefix string) error {
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	return err
}

func del(ctx context.Context, c *s3.Client, bucket, key string) error {
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// code is the S3 error code of err ("" for none).
func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestTenantKeyIsConfinedToItsPrefix shows on a real MinIO that a key from
// Add puts, gets, lists and deletes under its tenant's prefix, and is denied
// every one of them under another tenant's prefix and at the bucket root.
func TestTenantKeyIsConfinedToItsPrefix(t *testing.T) {
	cfg, admin, _ := minio(t)
	ctx := t.Context()
	acme, err := admin.Add(ctx, "acme", "imports@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Add(ctx, "globex", "data@globex.example"); err != nil {
		t.Fatal(err)
	}
	root := platform.NewS3Client(cfg)
	for _, k := range []string{"globex/clients/theirs.csv", "root.csv"} {
		if err := put(ctx, root, cfg.Bucket, k); err != nil {
			t.Fatal(err)
		}
	}
	c := as(cfg, acme)
	b := cfg.Bucket
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"put own", func() error { return put(ctx, c, b, "acme/clients/ours.csv") }, ""},
		{"get own", func() error { return get(ctx, c, b, "acme/clients/ours.csv") }, ""},
		{"list own", func() error { return list(ctx, c, b, "acme/") }, ""},
		{"list own dataset", func() error { return list(ctx, c, b, "acme/clients/") }, ""},
		{"delete own", func() error { return del(ctx, c, b, "acme/clients/ours.csv") }, ""},
		{"put other tenant", func() error { return put(ctx, c, b, "globex/clients/mine.csv") }, "AccessDenied"},
		{"get other tenant", func() error { return get(ctx, c, b, "globex/clients/theirs.csv") }, "AccessDenied"},
		{"list other tenant", func() error { return list(ctx, c, b, "globex/") }, "AccessDenied"},
		{"delete other tenant", func() error { return del(ctx, c, b, "globex/clients/theirs.csv") }, "AccessDenied"},
		{"put root", func() error { return put(ctx, c, b, "x.csv") }, "AccessDenied"},
		{"get root", func() error { return get(ctx, c, b, "root.csv") }, "AccessDenied"},
		{"list root", func() error { return list(ctx, c, b, "") }, "AccessDenied"},
		{"list prefix without slash", func() error { return list(ctx, c, b, "acm") }, "AccessDenied"},
		{"put other bucket", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acme")})
			return err
		}, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(tc.do()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if err := get(ctx, root, b, "globex/clients/theirs.csv"); err != nil {
		t.Errorf("the denied delete removed globex's file: %v", err)
	}
}

// TestRotateAndRemove shows that Rotate's key works and the old one no
// longer does, that Remove's tenant has no working key, and that the
// tenants file says so each time, keeping the tenant's other settings.
func TestRotateAndRemove(t *testing.T) {
	cfg, admin, file := minio(t)
	ctx := t.Context()
	if err := os.WriteFile(file, []byte(`{"acme": {"region": "US", "max_rows": 7}, "globex": {"contact": "data@globex.example"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := admin.Add(ctx, "acme", "imports@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Add(ctx, "acme", "imports@acme.example"); !errors.Is(err, tenantkeys.ErrExists) {
		t.Errorf("a second Add: got %v, want ErrExists", err)
	}
	check := func(wantKeys []string) platform.Tenant {
		t.Helper()
		ts, err := platform.LoadTenants(file)
		if err != nil {
			t.Fatal(err)
		}
		a := ts["acme"]
		if !slices.Equal(a.AccessKeys, wantKeys) || a.Contact != "imports@acme.example" || a.Region != "US" || a.MaxRows != 7 {
			t.Errorf("acme's record: got %+v, want keys %v and its settings kept", a, wantKeys)
		}
		if ts["globex"].Contact != "data@globex.example" {
			t.Errorf("globex's record changed: %+v", ts["globex"])
		}
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("the tenants file's mode changed: %v %v", fi.Mode(), err)
		}
		return a
	}
	check([]string{old.AccessKey})
	if len(old.AccessKey) != 20 || len(old.SecretKey) != 40 {
		t.Errorf("key %q: want 20 characters and a secret of 40", old.AccessKey)
	}

	rotated, err := admin.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	check([]string{rotated.AccessKey})
	if got := code(put(ctx, as(cfg, old), cfg.Bucket, "acme/clients/a.csv")); got != "InvalidAccessKeyId" {
		t.Errorf("the rotated-out key puts: got %q, want InvalidAccessKeyId", got)
	}
	if err := put(ctx, as(cfg, rotated), cfg.Bucket, "acme/clients/a.csv"); err != nil {
		t.Errorf("the new key: %v", err)
	}

	if err := admin.Remove(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	check(nil)
	if got := code(put(ctx, as(cfg, rotated), cfg.Bucket, "acme/clients/a.csv")); got != "InvalidAccessKeyId" {
		t.Errorf("the removed key puts: got %q, want InvalidAccessKeyId", got)
	}
	if _, err := admin.Rotate(ctx, "acme"); !errors.Is(err, tenantkeys.ErrUnknown) {
		t.Errorf("Rotate of a removed tenant: got %v, want ErrUnknown", err)
	}
	again, err := admin.Add(ctx, "acme", "imports@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, as(cfg, again), cfg.Bucket, "acme/clients/a.csv"); err != nil {
		t.Errorf("the key of the tenant added again: %v", err)
	}
	entries, err := tenantkeys.List(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Name != "acme" || !slices.Equal(entries[0].AccessKeys, []string{again.AccessKey}) {
		t.Errorf("List: got %+v", entries)
	}
	if data, _ := os.ReadFile(file); strings.Contains(string(data), again.SecretKey) {
		t.Error("the tenants file holds a secret key")
	}
}

// TestAddRefusesBadInput: a name that cannot be a prefix, or a contact that
// is not an address, makes no key.
func TestAddRefusesBadInput(t *testing.T) {
	_, admin, file := minio(t)
	for _, tc := range []struct{ name, contact string }{
		{"Acme", "a@acme.example"},
		{"../etc", "a@acme.example"},
		{"acme", "not an address"},
	} {
		if _, err := admin.Add(t.Context(), tc.name, tc.contact); err == nil {
			t.Errorf("Add(%q, %q): no error", tc.name, tc.contact)
		}
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the tenants file was written: %v", err)
	}
}

// TestUploadKeyOnlyPutsUnderItsTenant: the console's upload key of a
// tenant puts under the tenant's prefix and does nothing else, and stops
// working when the tenant's key is rotated.
func TestUploadKeyOnlyPutsUnderItsTenant(t *testing.T) {
	cfg, admin, _ := minio(t)
	ctx := t.Context()
	if _, err := admin.Add(ctx, "acme", "imports@acme.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UploadKey(ctx, "globex", time.Hour); !errors.Is(err, tenantkeys.ErrUnknown) {
		t.Errorf("upload key of a tenant with no key: %v, want ErrUnknown", err)
	}
	key, err := admin.UploadKey(ctx, "acme", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, b := as(cfg, key), cfg.Bucket
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"put own", func() error { return put(ctx, c, b, "acme/clients/ours.csv") }, ""},
		{"get own", func() error { return get(ctx, c, b, "acme/clients/ours.csv") }, "AccessDenied"},
		{"list own", func() error { return list(ctx, c, b, "acme/") }, "AccessDenied"},
		{"delete own", func() error { return del(ctx, c, b, "acme/clients/ours.csv") }, "AccessDenied"},
		{"put other tenant", func() error { return put(ctx, c, b, "globex/clients/mine.csv") }, "AccessDenied"},
		{"put root", func() error { return put(ctx, c, b, "x.csv") }, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(tc.do()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := admin.Rotate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, c, b, "acme/clients/after.csv"); code(err) == "" {
		t.Errorf("the upload key still puts after its tenant's key was rotated: %v", err)
	}
}
