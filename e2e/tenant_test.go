package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/madmin-go/v3"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestUploadsNotPutByTheirTenantAreRefused: a file put by MinIO's root key
// under a tenant's prefix, under an unknown tenant's or at the bucket's
// root, is not imported, not even by the bucket sync later; the operator is
// told (sluice_ingest_refused_uploads_total and an error line naming key,
// principal and reason). Another tenant's key cannot put there at all.
func TestUploadsNotPutByTheirTenantAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	before := refused(t, "unknown_key")
	keys := []string{"acme/clients/by-root.csv", "nobody/clients/by-root.csv", "by-root.csv"}
	for _, key := range keys {
		if _, err := stack.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key),
			Body: strings.NewReader("firstName,email\nRoot,root@acme.example\n"), Metadata: map[string]string{"uploader": "victim@elsewhere.example"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := stack.partners["globex"].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket),
		Key: aws.String("acme/clients/by-globex.csv"), Body: strings.NewReader("firstName,email\n")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Errorf("globex's key put under acme's prefix: got %v, want AccessDenied", err)
	}
	if err := parts.WaitFor(ctx, 120*time.Second, func() (bool, error) { return refused(t, "unknown_key") >= before+3, nil }); err != nil {
		t.Fatalf("refused uploads: got %v, want %v", refused(t, "unknown_key"), before+3)
	}
	log := readFile(t, stack.log)
	for _, key := range keys {
		line := regexp.MustCompile(`(?m)^.*upload refused.*key=` + regexp.QuoteMeta(key) + ` .*$`).Find(log)
		if !bytes.Contains(line, []byte("principal="+stack.s3cfg.AccessKey)) || !bytes.Contains(line, []byte("reason=unknown_key")) {
			t.Errorf("no error line naming %s, the root principal and the reason: %q", key, line)
		}
	}
	time.Sleep(syncGrace + 5*time.Second) // the bucket sync lists them now
	for _, key := range keys {
		if got := importsOf(t, key); len(got) != 0 {
			t.Errorf("%s, put by root, was imported: %+v", key, got)
		}
	}
	if msgs := testkit.Messages(t, stack.mail, "victim@elsewhere.example"); len(msgs) != 0 {
		t.Errorf("%d emails to the address the refused uploads' metadata claims", len(msgs))
	}
}

// TestTenantAddedWhileUp: a tenant added with `sluice tenant add` while
// `sluice up` runs has its file imported, without a restart; once removed,
// its key no longer works.
//
// Serial: it adds and removes a tenant.
func TestTenantAddedWhileUp(t *testing.T) {
	client, _, _, err := addTenant("newco", "ops@newco.example")
	if err != nil {
		t.Fatal(err)
	}
	stack.partners["newco"] = client
	t.Cleanup(func() { delete(stack.partners, "newco") })
	// The stages read the tenants file again within TenantsPollInterval;
	// upload waits for the import to end.
	const key = "newco/clients/first.csv"
	i := upload(t, key, []byte("firstName,email\nNia,nia@newco.example\n"), "")
	if want := (schemas.Counts{Rows: 1, Created: 1}); i.Status != schemas.StatusCompleted || i.Counts != want {
		t.Fatalf("newco's first file: got %s %+v, want completed %+v", i.Status, i.Counts, want)
	}
	if msgs := mailsAbout(t, "ops@newco.example", "first.csv"); len(msgs) != 1 {
		t.Errorf("emails to newco's contact: got %d, want 1", len(msgs))
	}

	cmd := exec.Command(stack.bin, "tenant", "list")
	cmd.Env = stack.tenantEnv
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^newco\tcontact=ops@newco.example\taccess_keys=[A-Z0-9]{20}$`).Match(out) {
		t.Errorf("sluice tenant list lacks newco:\n%s", out)
	}
	cmd = exec.Command(stack.bin, "tenant", "remove", "newco")
	cmd.Env = stack.tenantEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sluice tenant remove: %v: %s", err, out)
	}
	_, err = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket),
		Key: aws.String("newco/clients/second.csv"), Body: strings.NewReader("firstName,email\n")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidAccessKeyId" {
		t.Errorf("the removed key puts: got %v, want InvalidAccessKeyId", err)
	}
}

// refused reads sluice_ingest_refused_uploads_total{reason} from `sluice up`.
func refused(t *testing.T, reason string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + stack.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^sluice_ingest_refused_uploads_total\{reason="` + reason + `"\} (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// grantBucket lets tenant's key use bucket too, under its prefix, as its
// policy lets it use the stack's bucket.
func grantBucket(t *testing.T, tenant, bucket string) {
	t.Helper()
	u, err := url.Parse(stack.s3cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := madmin.New(u.Host, stack.s3cfg.AccessKey, stack.s3cfg.SecretKey, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := tenantkeys.PolicyName(tenant) + "-" + bucket
	if err := admin.AddCannedPolicy(ctx, name, tenantkeys.Policy(bucket, tenant)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{name}, User: stack.keys[tenant]}); err != nil {
		t.Fatal(err)
	}
}
