package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// demo starts ClickHouse, Mailpit, the pipeline (with its embedded NATS) and
// MinIO on loopback, with their data under SLUICE_DATA (.data), uploads the
// files under examples/ as partners would, prints one line per import, and
// leaves everything running until ctx ends (Ctrl-C).
func demo(ctx context.Context, cfg config, logger *slog.Logger) error {
	data, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	ports, err := demoPortsOf(cfg.Config)
	if err != nil {
		return err
	}
	// The demo's rows are made up: its published key seals them, unless
	// one is set.
	cfg.SecretKey = cmp.Or(cfg.SecretKey, platform.DemoSecretKey)
	fmt.Println("starting ClickHouse, Mailpit, NATS, MinIO and the pipeline (data in " + data + ")")
	var st demoStack
	defer st.stop()
	if err := st.start(ctx, cfg, data, ports, logger); err != nil {
		return err
	}
	partners, err := demoPartners(ctx, &cfg, data)
	if err != nil {
		return err
	}
	// The console presigns uploads with MinIO's keys, the demo's root
	// keys, and the demo's operator signs in with a password of this run.
	cfg.S3.AdminAccessKey, cfg.S3.AdminSecretKey = cfg.S3.AccessKey, cfg.S3.SecretKey
	password, err := demoOperator(st.nc)
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(data, "sluice.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pipeline := startPipeline(ctx, cfg, st.natsURL, logFile)
	partner := uploader{clients: partners, bucket: cfg.S3.Bucket, pipeline: pipeline, log: logFile.Name()}
	imported, err := partner.importExamples(ctx, st.nc)
	if err != nil || !imported {
		return err
	}
	printWhereToLook(cfg, ports, logFile.Name(), password)
	return waitForEnd(ctx, pipeline)
}

// demoPorts are the loopback ports of the demo's parts.
type demoPorts struct {
	clickhouse, smtp, mailWeb, s3 int
}

// demoPortsOf reads the demo's ports from the configured addresses;
// Mailpit's web port pairs with its SMTP port as usual (1025, 8025).
func demoPortsOf(cfg platform.Config) (demoPorts, error) {
	var p demoPorts
	var err error
	if p.clickhouse, err = port(cfg.ClickHouse.Addr); err != nil {
		return p, err
	}
	if p.smtp, err = port(cfg.SMTPAddr); err != nil {
		return p, err
	}
	s3URL, err := url.Parse(cfg.S3.Endpoint)
	if err != nil {
		return p, fmt.Errorf("demo: %w", err)
	}
	if p.s3, err = port(s3URL.Host); err != nil {
		return p, err
	}
	p.mailWeb = p.smtp + 7000
	return p, nil
}

// demoStack is what the demo starts besides the pipeline: the parts, NATS
// and a connection to it, and the bucket's client.
type demoStack struct {
	natsURL string
	nc      *nats.Conn
	client  *s3.Client
	stops   []func() // in the order they were started
}

// stop stops what start started, last first.
func (s *demoStack) stop() {
	for _, stop := range slices.Backward(s.stops) {
		stop()
	}
}

// start starts ClickHouse, Mailpit, NATS and MinIO with their data under
// data, migrates them (migrate) before MinIO publishes, and configures the
// bucket to publish its events into NATS.
func (s *demoStack) start(ctx context.Context, cfg config, data string, p demoPorts, logger *slog.Logger) error {
	ch, err := parts.StartClickHouse(ctx, filepath.Join(data, "clickhouse"), p.clickhouse, "deploy/clickhouse/users.d", cfg.ClickHouse.Database)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, ch.Stop)
	mp, err := parts.StartMailpit(ctx, filepath.Join(data, "mailpit"), p.smtp, p.mailWeb)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, mp.Stop)
	if err := s.startNATS(cfg.NATSPort, filepath.Join(data, "nats")); err != nil {
		return err
	}
	if err := migrate(ctx, cfg, s.natsURL, logger); err != nil {
		return err
	}
	minio, err := parts.StartMinIO(ctx, filepath.Join(data, "minio"), p.s3, strings.TrimPrefix(s.natsURL, "nats://"), cfg.S3)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, minio.Stop)
	s.client = platform.NewS3Client(cfg.S3)
	return parts.ConfigureBucket(ctx, s.client, cfg.S3.Bucket)
}

// startNATS starts the embedded NATS server and connects to it.
func (s *demoStack) startNATS(port int, storeDir string) error {
	ns, err := bus.StartNATS(port, storeDir)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, ns.Shutdown)
	s.natsURL = ns.ClientURL()
	if s.nc, err = nats.Connect(s.natsURL); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.stops = append(s.stops, s.nc.Close)
	return nil
}

// startPipeline runs every stage until ctx ends, logging to log; the
// channel receives the error the pipeline stops with.
func startPipeline(ctx context.Context, cfg config, natsURL string, log io.Writer) <-chan error {
	pipeline := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(log, nil))
	go func() {
		pipeline <- runAll(ctx, cfg, logger, natsURL, true)
	}()
	return pipeline
}

// uploader uploads files to the bucket as a partner would, and waits for
// their imports.
type uploader struct {
	clients  map[string]*s3.Client // by tenant, each with its own key
	bucket   string
	pipeline <-chan error
	log      string // the pipeline's log, named when an import does not end
}

// importExamples imports the files under examples/ one after another and
// prints a line for each import; false when ctx ends first.
func (u uploader) importExamples(ctx context.Context, nc *nats.Conn) (bool, error) {
	completed := make(chan schemas.ImportEvent, 64)
	sub, err := nc.Subscribe(schemas.ImportSubject(schemas.EventCompleted, "*"), func(m *nats.Msg) {
		var ev schemas.ImportEvent
		if json.Unmarshal(m.Data, &ev) == nil {
			completed <- ev
		}
	})
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	defer sub.Unsubscribe()
	files, err := exampleFiles()
	if err != nil {
		return false, err
	}
	fmt.Printf("uploading %d files to s3://%s, each once the one before is imported\n\n", len(files), u.bucket)
	fmt.Printf("%-40s %-22s %7s %7s %7s %9s %8s %8s\n", "file", "status", "rows", "created", "updated", "unchanged", "rejected", "elapsed")
	for _, path := range files {
		key := filepath.ToSlash(strings.TrimPrefix(path, "examples"+string(filepath.Separator)))
		t0 := time.Now()
		ev, err := u.importFile(ctx, completed, path, key)
		if err != nil || ev == nil {
			return false, err
		}
		printImport(key, ev, time.Since(t0))
	}
	return true, nil
}

// exampleFiles lists the files under examples/ in name order, the order
// they are imported in, as a partner would: accounts before the groups
// whose members they are, groups before the users who belong to them.
func exampleFiles() ([]string, error) {
	var files []string
	err := filepath.WalkDir("examples", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") && d.Name() != "README.md" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return files, nil
}

// importFile uploads the file at path to key, with the key's tenant's
// MinIO key and an uploader in that tenant, and waits for its import to complete; nil when ctx ends
// first.
func (u uploader) importFile(ctx context.Context, completed <-chan schemas.ImportEvent, path, key string) (*schemas.ImportEvent, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	tenant := strings.Split(key, "/")[0]
	if _, err := u.clients[tenant].PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(u.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		Metadata: map[string]string{"uploader": "partner@" + tenant + ".example"},
	}); err != nil {
		return nil, fmt.Errorf("demo: upload: %w", err)
	}
	return awaitImport(ctx, completed, u.pipeline, key, u.log)
}

// printImport prints the line of one import: its status, counts and time.
func printImport(key string, ev *schemas.ImportEvent, elapsed time.Duration) {
	k := ev.Counts
	fmt.Printf("%-40s %-22s %7d %7d %7d %9d %8d %8s\n", key, ev.Status, k.Rows, k.Created, k.Updated,
		k.Unchanged, k.Rejected, elapsed.Round(time.Millisecond))
	if ev.Reason != nil {
		fmt.Printf("    rejected: %s\n", ev.Reason.Message)
	}
}

// demoOperatorLogin is the demo's console account, an operator's.
const demoOperatorLogin = "operator"

// demoOperator gives the demo's operator account a new random password,
// which the demo prints, and returns it.
func demoOperator(nc *nats.Conn) (string, error) {
	accounts, _, err := console.Open(nc)
	if err != nil {
		return "", err
	}
	password := "Demo" + rand.Text()[:12] + "7"
	return password, accounts.Add(console.Account{Login: demoOperatorLogin, Role: console.RoleAdmin}, password)
}

// printWhereToLook prints where the console, the error reports, the rows,
// the metrics and the logs are.
func printWhereToLook(c config, p demoPorts, log, password string) {
	cfg := c.Config
	chHost, _, _ := net.SplitHostPort(cfg.ClickHouse.Addr)
	reader := cfg.ClickHouse.Reader
	fmt.Printf(`
console:       http://%s (sign in as %s, password %s)
error reports: attached to the email each uploader got, in Mailpit at http://127.0.0.1:%d
rejected rows: clickhouse-client --host %s --port %d --user %s --password %s --query "SELECT import_id, row, columns, messages FROM sluice.import_rejections FINAL ORDER BY import_id, row"
loaded rows:   clickhouse-client --host %s --port %d --user %s --password %s --query "SELECT tenant, email, first_name, last_name, active, type, created FROM sluice.clients FINAL ORDER BY tenant, email FORMAT PrettyCompact"
               (and sluice.users, sluice.accounts the same way; sluice.group_members and sluice.groups with WHERE removed = 0)
metrics:       http://%s/metrics    logs: %s

the stack keeps running; Ctrl-C stops it
`, c.consoleAddr, demoOperatorLogin, password, p.mailWeb, chHost, p.clickhouse, reader.Name, reader.Password, chHost, p.clickhouse, reader.Name, reader.Password, cfg.MetricsAddr, log)
}

// waitForEnd waits until ctx ends or the pipeline stops, and returns the
// error the pipeline stopped with, if any but its cancellation.
func waitForEnd(ctx context.Context, pipeline <-chan error) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-pipeline:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}

// awaitImport waits for the completed event of the import of key; nil when
// ctx ends first.
func awaitImport(ctx context.Context, completed <-chan schemas.ImportEvent, pipeline <-chan error, key, log string) (*schemas.ImportEvent, error) {
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev := <-completed:
			if ev.Import.Key == key {
				return &ev, nil
			}
		case err := <-pipeline:
			return nil, fmt.Errorf("demo: pipeline stopped: %w", err)
		case <-timeout:
			return nil, fmt.Errorf("demo: %s was not imported in 2 minutes; see %s", key, log)
		case <-ctx.Done():
			return nil, nil
		}
	}
}

func port(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("demo: address %q: %w", addr, err)
	}
	return strconv.Atoi(p)
}
