// Package e2e runs the sluice binary end to end on the real parts: `sluice up`
// (every stage, embedded NATS JetStream), MinIO publishing bucket events into
// it, ClickHouse and Mailpit. Tests upload files as partners do and assert
// from ClickHouse, the JetStream streams and Mailpit.
//
// The tests run in parallel (t.Parallel), each with its own keys and
// addresses: an import's latency is mostly waiting (MinIO sends its queued
// bucket events every few seconds), not work. A test stays serial, and
// says why, when it changes what every test shares (the bucket's
// notifications, a table, the tenants, a counter it reads before and
// after, the CPU time it measures) or asserts over all of a tenant's
// records that another test writes too. Go runs the serial tests first,
// one at a time, then the parallel ones together.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/e2e/hostile"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// chunkRows is small so that every file of a test spans several chunks.
const chunkRows = 3

// syncGrace is how old an object must be before the bucket sync imports it.
const syncGrace = 15 * time.Second

// stack is what every test here runs on.
var stack struct {
	ch      *parts.ClickHouse
	mail    *parts.Mailpit
	s3      *s3.Client
	s3cfg   platform.S3Config
	nc      *nats.Conn
	js      nats.JetStreamContext
	metrics string
	log     string
	// natsStore is the embedded NATS server's store: every stream's data.
	natsStore string
	bin       string // the sluice binary
	// upPID is the process id of `sluice up`, for its CPU time and memory.
	upPID int
	// partners are the tenants' S3 clients, each with the key `sluice
	// tenant add` made for it (addTenants); s3 has MinIO's root key.
	partners map[string]*s3.Client
	keys     map[string]string // the tenants' access keys
	secrets  map[string]string // and their secret keys
	// tenantEnv is what `sluice tenant` runs with (tenant_test.go).
	tenantEnv []string
	// cmdEnv is what a command on the running stack (`sluice invite`) runs
	// with: `sluice up`'s environment and its NATS.
	cmdEnv []string
	// console is the web console's URL (console_test.go).
	console string
}

// inviteTTL is how long an invitation link lasts here: long enough to
// accept one, short enough to see one lapse (invite_test.go).
const inviteTTL = 30 * time.Second

// tenants are the e2e tenants: tiny has a row limit of 3 and a size limit of
// 200 bytes. Each may be mailed at its own domain (withPolicy).
var tenants = withPolicy(platform.Tenants{
	"acme":   {Contact: "imports@acme.example", MaxRows: 5000},
	"globex": {Contact: "data@globex.example", MaxRows: 5000},
	"tiny":   {Contact: "admin@tiny.example", MaxRows: 3, MaxBytes: 200},
	// initech imports people: accounts, groups, users (phones read as
	// Russian numbers, the default region); its row limit leaves room for a
	// file large enough to be cancelled while it runs. Its uploads may
	// invite users and give them groups.
	"initech": {Contact: "it@initech.example", MaxRows: 20000, UploadOptions: schemas.Options},
	// corpus is the tenant of testdata/corpus (corpus_test.go), US numbers.
	"corpus": {Contact: "data@corpus.example", MaxRows: 5000, Region: "US"},
	// replay's clients table goes away while its file is loaded
	// (replay_test.go).
	"replay": {Contact: "ops@replay.example", MaxRows: 5000},
	// syncer syncs its whole datasets (sync_test.go): a sync may deactivate
	// up to 30% of its records, more when the upload forces it.
	"syncer": {Contact: "ops@syncer.example", MaxRows: 5000, SyncLimitPercent: 30, UploadOptions: schemas.Options},
	// crew syncs its groups' members (sync_test.go), as syncer does its
	// other datasets: each asserts over all of its tenant's records.
	"crew": {Contact: "ops@crew.example", MaxRows: 5000, SyncLimitPercent: 30, UploadOptions: schemas.Options},
	// regroup removes and renames groups (groups_test.go).
	"regroup": {Contact: "admin@regroup.example", MaxRows: 5000},
	// typed has typed groups (groups_test.go).
	"typed": {Contact: "admin@typed.example", MaxRows: 5000},
	// squads adds a group's members each on its own (groups_test.go).
	"squads": {Contact: "admin@squads.example", MaxRows: 5000},
	// blank imports sluice's own templates (TestTemplatesImport).
	"blank": {Contact: "ops@blank.example", MaxRows: 5000},
	// fresh is a new tenant that imports only the templates written for it
	// (templates_test.go).
	"fresh": {Contact: "admin@fresh.example", MaxRows: 5000},
	// cli imports with `sluice import`, and cancels with `sluice cancel`
	// (cli_test.go): room for a file long enough to cancel; its uploads
	// may set every option.
	"cli": {Contact: "ops@cli.example", MaxRows: 20000, UploadOptions: schemas.Options},
	// hostile is the tenant of the hostile corpus (hostile_test.go).
	"hostile": {Contact: "security@hostile.example", MaxRows: hostile.MaxRows},
	// metrics imports what the dashboard's and the alerts' metrics are
	// checked on (dashboard_test.go).
	"metrics": {Contact: "ops@metrics.example", MaxRows: 5000},
	// portal's people use the web console; rival is another tenant whose
	// imports they must not see (console_test.go).
	"portal": {Contact: "ops@portal.example", MaxRows: 20000, UploadOptions: schemas.Options},
	"rival":  {Contact: "ops@rival.example", MaxRows: 5000},
	// welcome's new users set their password on the console's page
	// (invite_test.go).
	"welcome": {Contact: "hr@welcome.example", MaxRows: 5000},
})

// withPolicy lets each tenant's uploads name any address at
// <tenant>.example to be mailed.
func withPolicy(ts platform.Tenants) platform.Tenants {
	for name, t := range ts {
		t.Recipients = []string{name + ".example"}
		ts[name] = t
	}
	return ts
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		log.Printf("e2e: %v", err)
		if stack.log != "" {
			if b, rerr := os.ReadFile(stack.log); rerr == nil {
				log.Printf("sluice up log (tail):\n%s", tail(b, 4000))
			}
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "sluice")
	stack.bin = bin
	build := exec.Command("go", "build", "-o", bin, "./cmd/sluice")
	build.Dir = parts.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build sluice: %v\n%s", err, out)
	}
	ch, stopCH, err := parts.NewClickHouse(filepath.Join(dir, "clickhouse"))
	if err != nil {
		return 0, err
	}
	defer stopCH()
	mail, stopMail, err := parts.NewMailpit(filepath.Join(dir, "mailpit"))
	if err != nil {
		return 0, err
	}
	defer stopMail()
	tenantsFile := filepath.Join(dir, "tenants.json")
	b, _ := json.Marshal(tenants)
	if err := os.WriteFile(tenantsFile, b, 0o644); err != nil {
		return 0, err
	}
	natsPort, err := parts.FreePort()
	if err != nil {
		return 0, err
	}
	metricsPort, err := parts.FreePort()
	if err != nil {
		return 0, err
	}
	consolePort, err := parts.FreePort()
	if err != nil {
		return 0, err
	}
	s3cfg, err := parts.MinIOConfig()
	if err != nil {
		return 0, err
	}

	// A key of this run's: sluice refuses a published one.
	secretKey := platform.NewSecretKey()
	// sluice up first: MinIO publishes into its embedded NATS.
	stack.log = filepath.Join(dir, "sluice.log")
	stack.natsStore = filepath.Join(dir, "nats")
	logf, err := os.Create(stack.log)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	stack.metrics = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	up := exec.Command(bin, "up")
	up.Dir = parts.RepoRoot()
	up.Stdout, up.Stderr = logf, logf
	up.Env = append(os.Environ(),
		fmt.Sprintf("SLUICE_NATS_PORT=%d", natsPort),
		"SLUICE_NATS_STORE="+stack.natsStore,
		"SLUICE_DATA="+dir,
		"SLUICE_SECRET_KEY="+secretKey,
		"SLUICE_CLICKHOUSE_ADDR="+ch.Config.Addr,
		"SLUICE_SMTP_ADDR="+mail.SMTPAddr,
		"SLUICE_TENANTS_FILE="+tenantsFile,
		"SLUICE_METRICS_ADDR="+stack.metrics,
		"SLUICE_S3_ENDPOINT="+s3cfg.Endpoint,
		fmt.Sprintf("SLUICE_CHUNK_ROWS=%d", chunkRows),
		// The bucket sync often (its message schedule fires every 2 s),
		// leaving alone what events bring (a few seconds at most here).
		"SLUICE_SYNC_AT=@every 2s",
		fmt.Sprintf("SLUICE_SYNC_GRACE=%s", syncGrace),
		fmt.Sprintf("SLUICE_INVITE_TTL=%s", inviteTTL),
		// The console presigns uploads with the tenants' keys, which it
		// makes with MinIO's admin keys.
		fmt.Sprintf("SLUICE_CONSOLE_ADDR=127.0.0.1:%d", consolePort),
		// Invitations link to it.
		fmt.Sprintf("SLUICE_CONSOLE_URL=http://127.0.0.1:%d", consolePort),
		"SLUICE_S3_ADMIN_ACCESS_KEY="+s3cfg.AccessKey, "SLUICE_S3_ADMIN_SECRET_KEY="+s3cfg.SecretKey,
	)
	stack.console = fmt.Sprintf("http://127.0.0.1:%d", consolePort)
	if err := up.Start(); err != nil {
		return 0, err
	}
	stack.upPID = up.Process.Pid
	defer func() {
		_ = up.Process.Signal(os.Interrupt)
		_ = up.Wait()
	}()
	ctx := context.Background()
	err = parts.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		resp, err := http.Get("http://" + stack.metrics + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return 0, fmt.Errorf("sluice up not healthy: %w", err)
	}
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	stack.cmdEnv = append(up.Env, "SLUICE_NATS_URL="+natsURL)
	minio, err := parts.NewMinIO(filepath.Join(dir, "minio"), natsURL, s3cfg)
	if err != nil {
		return 0, err
	}
	defer minio.Stop()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return 0, err
	}
	stack.ch, stack.mail, stack.nc, stack.js = ch, mail, nc, js
	stack.s3cfg, stack.s3 = s3cfg, platform.NewS3Client(s3cfg)
	stack.tenantEnv = append(os.Environ(), "SLUICE_TENANTS_FILE="+tenantsFile, "SLUICE_S3_ENDPOINT="+s3cfg.Endpoint,
		"SLUICE_S3_BUCKET="+s3cfg.Bucket, "SLUICE_S3_ADMIN_ACCESS_KEY="+s3cfg.AccessKey, "SLUICE_S3_ADMIN_SECRET_KEY="+s3cfg.SecretKey)
	if err := addTenants(ctx); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// addTenants gives every e2e tenant its key with `sluice tenant add`, as an
// operator does while sluice runs, and waits until `sluice up` has read the
// tenants file it wrote.
func addTenants(ctx context.Context) error {
	stack.partners, stack.keys, stack.secrets = map[string]*s3.Client{}, map[string]string{}, map[string]string{}
	var logSize int64
	for name, t := range tenants {
		if fi, err := os.Stat(stack.log); err == nil {
			logSize = fi.Size()
		}
		c, key, secret, err := addTenant(name, t.Contact)
		if err != nil {
			return err
		}
		stack.partners[name], stack.keys[name], stack.secrets[name] = c, key, secret
	}
	return parts.WaitFor(ctx, 10*platform.TenantsPollInterval, func() (bool, error) {
		b, err := os.ReadFile(stack.log)
		return err == nil && int64(len(b)) > logSize && bytes.Contains(b[logSize:], []byte("tenants reloaded")), nil
	})
}

// addTenant runs `sluice tenant add name --contact contact` and returns an
// S3 client with the key it printed, and that key (access and secret).
func addTenant(name, contact string) (*s3.Client, string, string, error) {
	cmd := exec.Command(stack.bin, "tenant", "add", name, "--contact", contact)
	cmd.Env = stack.tenantEnv
	out, err := cmd.Output()
	if err != nil {
		return nil, "", "", fmt.Errorf("sluice tenant add %s: %w", name, err)
	}
	cfg := stack.s3cfg
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "access_key="); ok {
			cfg.AccessKey = v
		}
		if v, ok := strings.CutPrefix(line, "secret_key="); ok {
			cfg.SecretKey = v
		}
	}
	if cfg.AccessKey == stack.s3cfg.AccessKey || cfg.SecretKey == stack.s3cfg.SecretKey {
		return nil, "", "", fmt.Errorf("sluice tenant add %s printed no key: %s", name, out)
	}
	return platform.NewS3Client(cfg), cfg.AccessKey, cfg.SecretKey, nil
}

// partner returns the S3 client of the tenant whose prefix key is under;
// MinIO's root client for a key under none (ingest refuses its upload).
func partner(key string) *s3.Client {
	prefix, _, _ := strings.Cut(key, "/")
	if c, ok := stack.partners[prefix]; ok {
		return c
	}
	return stack.s3
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b
}

// imp is an import as the imports table has it.
type imp struct {
	ID, Status, ReasonCode, Reason, Format, Delimiter string
	Chunks, Rows                                      int
	Counts                                            schemas.Counts
}

// importsOf lists the imports of a key.
func importsOf(t *testing.T, key string) map[string]imp {
	t.Helper()
	rows, err := stack.ch.Conn.Query(context.Background(), `SELECT import_id, toString(status), reason_code, reason, format, delimiter,
		chunks, rows, created, updated, unchanged, rejected, removed, renamed, removed_memberships, removed_groups, partial
		FROM sluice.imports FINAL WHERE key = ?`, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]imp{}
	for rows.Next() {
		var i imp
		var chunks, total, cr, up, un, rej, rm, rn, rmMembers, rmGroups, partial uint32
		if err := rows.Scan(&i.ID, &i.Status, &i.ReasonCode, &i.Reason, &i.Format, &i.Delimiter, &chunks, &total, &cr, &up, &un, &rej,
			&rm, &rn, &rmMembers, &rmGroups, &partial); err != nil {
			t.Fatal(err)
		}
		i.Chunks, i.Rows = int(chunks), int(total)
		i.Counts = schemas.Counts{Rows: int(total), Created: int(cr), Updated: int(up), Unchanged: int(un), Rejected: int(rej),
			Removed: int(rm), Renamed: int(rn), RemovedMemberships: int(rmMembers), RemovedGroups: int(rmGroups), Partial: int(partial)}
		out[i.ID] = i
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// upload puts a file at key as a partner would, with its tenant's key, and waits for the import it
// starts to end.
func upload(t *testing.T, key string, body []byte, uploader string) imp {
	t.Helper()
	md := map[string]string{}
	if uploader != "" {
		md["uploader"] = uploader
	}
	return uploadWith(t, key, body, md)
}

// uploadWith is upload with the object's user metadata (X-Amz-Meta-*).
func uploadWith(t *testing.T, key string, body []byte, md map[string]string) imp {
	t.Helper()
	before := importsOf(t, key)
	in := &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(body), Metadata: md}
	if _, err := partner(key).PutObject(context.Background(), in); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	var got imp
	// Generous: other tests' imports and the machine's other work share two
	// cores with this one.
	err := parts.WaitFor(context.Background(), 120*time.Second, func() (bool, error) {
		for id, i := range importsOf(t, key) {
			if _, old := before[id]; !old && schemas.FinalStatus(i.Status) {
				got = i
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("import of %s did not end: %v; sluice up log (tail):\n%s", key, err, tail(readFile(t, stack.log), 3000))
	}
	return got
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// query runs a query and scans every row with scan.
func query(t *testing.T, q string, scan func(driver.Rows) error, args ...any) {
	t.Helper()
	rows, err := stack.ch.Conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// queryStrings returns the first column of every row of q, a String.
func queryStrings(t *testing.T, q string, args ...any) []string {
	t.Helper()
	var out []string
	query(t, q, func(r driver.Rows) error {
		var v string
		err := r.Scan(&v)
		out = append(out, v)
		return err
	}, args...)
	return out
}
