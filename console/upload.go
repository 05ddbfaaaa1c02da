package console

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/tenantkeys"
)

// uploadKeyTTL is how long a tenant's upload key lives; the console uses
// one until uploadKeyUse before its end, so that a URL it presigns
// (presignTTL) always outlives its key's use.
const (
	uploadKeyTTL = time.Hour
	uploadKeyUse = 45 * time.Minute
	presignTTL   = 10 * time.Minute
)

// Uploads presigns the browser's uploads: each with a short-lived key of
// the tenant's own MinIO user (tenantkeys.Admin.UploadKey), kept while it
// is fresh.
type Uploads struct {
	admin *tenantkeys.Admin
	s3    platform.S3Config // the bucket as the browser reaches it

	mu   sync.Mutex
	keys map[string]uploadKey // by tenant
}

type uploadKey struct {
	key   tenantkeys.Key
	until time.Time
}

// NewUploads presigns uploads to the bucket of cfg (its endpoint as
// browsers reach it) with keys admin makes.
func NewUploads(admin *tenantkeys.Admin, cfg platform.S3Config) *Uploads {
	return &Uploads{admin: admin, s3: cfg, keys: map[string]uploadKey{}}
}

// origin is the bucket's origin, to which pages may send uploads.
func (u *Uploads) origin() string {
	e, err := url.Parse(u.s3.Endpoint)
	if err != nil {
		return ""
	}
	return e.Scheme + "://" + e.Host
}

// presigned is a PUT the browser makes: the URL, and the headers it must
// send as they were signed; then the page follows the import of Key
// received after Since (the server's clock, not the browser's).
type presigned struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Key     string            `json:"key"`
	Since   time.Time         `json:"since"`
}

// Presign returns a PUT of the object key of tenant, with metadata
// (X-Amz-Meta-*).
func (u *Uploads) Presign(ctx context.Context, tenant, key string, metadata map[string]string) (presigned, error) {
	k, err := u.key(ctx, tenant)
	if err != nil {
		return presigned{}, err
	}
	cfg := u.s3
	cfg.AccessKey, cfg.SecretKey = k.AccessKey, k.SecretKey
	req, err := s3.NewPresignClient(platform.NewS3Client(cfg)).PresignPutObject(ctx,
		&s3.PutObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key), Metadata: metadata},
		s3.WithPresignExpires(presignTTL))
	if err != nil {
		return presigned{}, fmt.Errorf("console: presign %s: %w", key, err)
	}
	out := presigned{URL: req.URL, Headers: map[string]string{}, Key: key, Since: time.Now().UTC()}
	for name, v := range req.SignedHeader {
		if !strings.EqualFold(name, "Host") && len(v) > 0 {
			out.Headers[name] = v[0]
		}
	}
	return out, nil
}

// key returns a fresh upload key of tenant.
func (u *Uploads) key(ctx context.Context, tenant string) (tenantkeys.Key, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if k, ok := u.keys[tenant]; ok && time.Now().Before(k.until) {
		return k.key, nil
	}
	k, err := u.admin.UploadKey(ctx, tenant, uploadKeyTTL)
	if err != nil {
		return tenantkeys.Key{}, err
	}
	u.keys[tenant] = uploadKey{key: k, until: time.Now().Add(uploadKeyUse)}
	return k, nil
}

// objectKey is where an upload of file into dataset goes for tenant:
// <tenant>/<dataset>/<file's base name>; "" when the name is not a file's.
func objectKey(tenant, dataset, file string) string {
	file = path.Base(strings.ReplaceAll(file, `\`, "/")) // browsers may send C:\fakepath\x.csv
	if file == "." || file == "/" || file == "" || strings.HasPrefix(file, ".") {
		return ""
	}
	return tenant + "/" + dataset + "/" + file
}
