// Package tenantkeys owns the partners' MinIO credentials: each tenant
// uploads with its own MinIO user, whose policy allows put, get, delete and
// list only under <bucket>/<tenant>/, and the tenants file records that
// user's access key (platform.Tenant.AccessKeys), so that ingest can tell
// whose key put an object.
//
// It talks to MinIO's admin API (madmin-go) with the operator's admin keys,
// and rewrites the tenants file atomically (a temporary file renamed over
// it), leaving every other setting of every tenant as it was. It does not
// check bucket events: ingest does, against the file this package writes.
package tenantkeys

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/madmin-go/v3"

	"github.com/sluicehq/sluice/platform"
)

// ErrExists says a tenant already has a key: rotate it instead.
var ErrExists = errors.New("tenant already has a key")

// ErrUnknown says the tenants file has no such tenant, or it has no key.
var ErrUnknown = errors.New("no such tenant with a key")

// Key is a tenant's MinIO credentials. The secret is shown once, when the
// key is made, and kept nowhere by sluice.
type Key struct {
	AccessKey string
	SecretKey string
}

// Admin manages the tenants' keys on one MinIO and their records in one
// tenants file.
type Admin struct {
	client *madmin.AdminClient
	bucket string
	file   string
}

// NewAdmin returns an Admin on the MinIO at cfg.Endpoint, with cfg's admin
// keys, for the bucket cfg.Bucket and the tenants file at file.
func NewAdmin(cfg platform.S3Config, file string) (*Admin, error) {
	if cfg.AdminAccessKey == "" || cfg.AdminSecretKey == "" {
		return nil, errors.New("tenantkeys: SLUICE_S3_ADMIN_ACCESS_KEY and SLUICE_S3_ADMIN_SECRET_KEY must be set (MinIO's admin keys)")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("tenantkeys: endpoint %q is not a URL", cfg.Endpoint)
	}
	client, err := madmin.New(u.Host, cfg.AdminAccessKey, cfg.AdminSecretKey, u.Scheme == "https")
	if err != nil {
		return nil, fmt.Errorf("tenantkeys: %w", err)
	}
	return &Admin{client: client, bucket: cfg.Bucket, file: file}, nil
}

// PolicyName is the name of the MinIO policy of tenant name.
func PolicyName(name string) string { return "sluice-tenant-" + name }

// Policy is the MinIO policy of tenant name on bucket: put, get and delete
// objects under <bucket>/<tenant>/ (and the multipart uploads of a large
// put), and list only with a prefix under it.
func Policy(bucket, name string) []byte {
	p := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{
				"Effect": "Allow",
				"Action": []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject",
					"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
				"Resource": []string{fmt.Sprintf("arn:aws:s3:::%s/%s/*", bucket, name)},
			},
			{
				"Effect":    "Allow",
				"Action":    []string{"s3:ListBucket"},
				"Resource":  []string{"arn:aws:s3:::" + bucket},
				"Condition": map[string]any{"StringLike": map[string]any{"s3:prefix": []string{name + "/*"}}},
			},
			{
				// Clients such as mc ask where the bucket is before they put.
				"Effect":   "Allow",
				"Action":   []string{"s3:GetBucketLocation"},
				"Resource": []string{"arn:aws:s3:::" + bucket},
			},
		},
	}
	b, _ := json.Marshal(p)
	return b
}

// Add makes a key for tenant name and records it, with contact, in the
// tenants file. A tenant already in the file without a key (one removed, or
// written by hand) keeps its other settings; one with a key is ErrExists.
func (a *Admin) Add(ctx context.Context, name, contact string) (Key, error) {
	if _, err := mail.ParseAddress(contact); err != nil {
		return Key{}, fmt.Errorf("tenantkeys: contact %q is not an email address", contact)
	}
	rec, err := a.record(name)
	if err != nil {
		return Key{}, err
	}
	if len(rec.AccessKeys) > 0 {
		return Key{}, fmt.Errorf("tenantkeys: %s: %w", name, ErrExists)
	}
	if err := a.client.AddCannedPolicy(ctx, PolicyName(name), Policy(a.bucket, name)); err != nil {
		return Key{}, fmt.Errorf("tenantkeys: %s: policy: %w", name, err)
	}
	key, err := a.newUser(ctx, name)
	if err != nil {
		return Key{}, err
	}
	err = updateFile(a.file, name, func(t map[string]json.RawMessage) {
		t["contact"], _ = json.Marshal(contact)
		t["access_keys"], _ = json.Marshal([]string{key.AccessKey})
	})
	if err != nil {
		return Key{}, errors.Join(err, a.removeUser(ctx, key.AccessKey))
	}
	return key, nil
}

// Rotate replaces tenant name's key with a new one: once it returns, the
// old key no longer works.
func (a *Admin) Rotate(ctx context.Context, name string) (Key, error) {
	rec, err := a.record(name)
	if err != nil {
		return Key{}, err
	}
	if len(rec.AccessKeys) == 0 {
		return Key{}, fmt.Errorf("tenantkeys: %s: %w", name, ErrUnknown)
	}
	key, err := a.newUser(ctx, name)
	if err != nil {
		return Key{}, err
	}
	err = updateFile(a.file, name, func(t map[string]json.RawMessage) {
		t["access_keys"], _ = json.Marshal([]string{key.AccessKey})
	})
	if err != nil {
		return Key{}, errors.Join(err, a.removeUser(ctx, key.AccessKey))
	}
	var errs []error
	for _, old := range rec.AccessKeys {
		errs = append(errs, a.removeUser(ctx, old))
	}
	return key, errors.Join(errs...)
}

// Remove deletes tenant name's keys and policy, and its keys from the
// tenants file. The tenant's record stays, without a key: imports already
// under way finish and their emails reach the contact, no new upload is
// possible, and Add gives the tenant a key again.
func (a *Admin) Remove(ctx context.Context, name string) error {
	rec, err := a.record(name)
	if err != nil {
		return err
	}
	if len(rec.AccessKeys) == 0 {
		return fmt.Errorf("tenantkeys: %s: %w", name, ErrUnknown)
	}
	var errs []error
	for _, old := range rec.AccessKeys {
		errs = append(errs, a.removeUser(ctx, old))
	}
	if err := a.client.RemoveCannedPolicy(ctx, PolicyName(name)); err != nil && !notFound(err) {
		errs = append(errs, fmt.Errorf("tenantkeys: %s: remove policy: %w", name, err))
	}
	errs = append(errs, updateFile(a.file, name, func(t map[string]json.RawMessage) { delete(t, "access_keys") }))
	return errors.Join(errs...)
}

// UploadKey makes a key for uploads by tenant name that lapses after ttl
// (at least 15 minutes): a MinIO service account of the tenant's own user,
// allowed only to put objects under <bucket>/<tenant>/. MinIO names the
// parent user, the tenant's access key, in the bucket events of its
// uploads, so ingest takes them as the tenant's. The console presigns its
// browser uploads with one.
func (a *Admin) UploadKey(ctx context.Context, name string, ttl time.Duration) (Key, error) {
	rec, err := a.record(name)
	if err != nil {
		return Key{}, err
	}
	if len(rec.AccessKeys) == 0 {
		return Key{}, fmt.Errorf("tenantkeys: %s: %w", name, ErrUnknown)
	}
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Action": []string{"s3:PutObject"},
			"Resource": []string{fmt.Sprintf("arn:aws:s3:::%s/%s/*", a.bucket, name)},
		}},
	})
	expires := time.Now().Add(ttl)
	creds, err := a.client.AddServiceAccount(ctx, madmin.AddServiceAccountReq{
		TargetUser: rec.AccessKeys[0], Policy: policy, Expiration: &expires,
		AccessKey: randomString(20, upperAlnum), SecretKey: randomString(40, alnum),
		Description: "sluice console uploads of " + name,
	})
	if err != nil {
		return Key{}, fmt.Errorf("tenantkeys: %s: upload key: %w", name, err)
	}
	return Key{AccessKey: creds.AccessKey, SecretKey: creds.SecretKey}, nil
}

// Entry is one tenant as List shows it: never a secret.
type Entry struct {
	Name       string
	Contact    string
	AccessKeys []string
}

// List reads the tenants of the tenants file at file, by name.
func List(file string) ([]Entry, error) {
	ts, err := platform.LoadTenants(file)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for name, t := range ts {
		out = append(out, Entry{Name: name, Contact: t.Contact, AccessKeys: t.AccessKeys})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// record returns tenant name as the tenants file has it (the zero Tenant
// when it has none). A file that does not exist yet has no tenant.
func (a *Admin) record(name string) (platform.Tenant, error) {
	if !platform.ValidTenantName(name) {
		return platform.Tenant{}, fmt.Errorf("tenantkeys: %q is not a valid tenant name (lower-case letters, digits, _ and -)", name)
	}
	if _, err := os.Stat(a.file); errors.Is(err, os.ErrNotExist) {
		return platform.Tenant{}, nil
	}
	ts, err := platform.LoadTenants(a.file)
	if err != nil {
		return platform.Tenant{}, err
	}
	return ts[name], nil
}

// newUser makes a MinIO user for tenant name, with a random key, and gives
// it the tenant's policy.
func (a *Admin) newUser(ctx context.Context, name string) (Key, error) {
	// An access key of 20 and a secret of 40, as AWS's; MinIO's principalId
	// in a bucket event is the access key (see ingest).
	key := Key{AccessKey: randomString(20, upperAlnum), SecretKey: randomString(40, alnum)}
	if err := a.client.AddUser(ctx, key.AccessKey, key.SecretKey); err != nil {
		return Key{}, fmt.Errorf("tenantkeys: %s: add user: %w", name, err)
	}
	_, err := a.client.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{PolicyName(name)}, User: key.AccessKey})
	if err != nil {
		return Key{}, errors.Join(fmt.Errorf("tenantkeys: %s: attach policy: %w", name, err), a.removeUser(ctx, key.AccessKey))
	}
	return key, nil
}

// removeUser deletes the MinIO user accessKey; one already gone is no error.
func (a *Admin) removeUser(ctx context.Context, accessKey string) error {
	if err := a.client.RemoveUser(ctx, accessKey); err != nil && !notFound(err) {
		return fmt.Errorf("tenantkeys: remove user %s: %w", accessKey, err)
	}
	return nil
}

// notFound reports whether MinIO answered that the user or policy does not
// exist.
func notFound(err error) bool {
	var resp madmin.ErrorResponse
	return errors.As(err, &resp) && (resp.Code == "XMinioAdminNoSuchUser" || resp.Code == "XMinioAdminNoSuchPolicy")
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// randomString returns n characters drawn uniformly from chars.
func randomString(n int, chars string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[randIndex(len(chars))]
	}
	return string(b)
}

// randIndex returns a uniform random number in [0, n), n < 256.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on a supported platform
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// updateFile changes tenant name's record in the tenants file at path with
// change (creating the record, and the file, if needed), checks the result
// as the stages will read it, and renames it over the file, so that a stage
// reading it sees the old file or the new one, never part of one. Every
// other field and tenant is kept as written.
func updateFile(path, name string, change func(map[string]json.RawMessage)) error {
	all := map[string]json.RawMessage{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &all); err != nil {
			return fmt.Errorf("tenantkeys: %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("tenantkeys: %w", err)
	}
	rec := map[string]json.RawMessage{}
	if raw, ok := all[name]; ok {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("tenantkeys: %s: %s: %w", path, name, err)
		}
	}
	change(rec)
	if all[name], err = json.Marshal(rec); err != nil {
		return fmt.Errorf("tenantkeys: %w", err)
	}
	out, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("tenantkeys: %w", err)
	}
	return writeAtomic(path, append(out, '\n'))
}

// writeAtomic writes data to a temporary file beside path, checks it reads
// as a tenants file, and renames it over path.
func writeAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("tenantkeys: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Sync(), tmp.Chmod(mode), tmp.Close())
	if err != nil {
		return fmt.Errorf("tenantkeys: write %s: %w", tmp.Name(), err)
	}
	if _, err := platform.LoadTenants(tmp.Name()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tenantkeys: %w", err)
	}
	return nil
}
