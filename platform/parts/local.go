package parts

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// RepoRoot is the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ClickHouse is a running ClickHouse with sluice's database migrated and
// sluice's users (deploy/clickhouse/users.d, with their development
// passwords, which Config names).
type ClickHouse struct {
	Config platform.ClickHouseConfig
	// Conn is the migration user's connection: it owns DDL on sluice's
	// database, as tests that rename a table away need.
	Conn driver.Conn
	// Load and Notify are the connections of load's and notify's users,
	// which have no DDL: what the stages run with.
	Load, Notify driver.Conn
	Part         *Part

	dir  string
	port int
}

// NewClickHouse starts ClickHouse in dir on free ports and migrates it as
// the migration user; the returned func stops it.
func NewClickHouse(dir string) (*ClickHouse, func(), error) {
	ctx := context.Background()
	port, err := FreePortPair()
	if err != nil {
		return nil, nil, err
	}
	base, err := platform.LoadConfig(func(string) string { return "" })
	if err != nil {
		return nil, nil, err
	}
	part, err := StartClickHouse(ctx, dir, port, clickHouseUsers(), base.ClickHouse.Database)
	if err != nil {
		return nil, nil, err
	}
	ch := &ClickHouse{Config: base.ClickHouse, Part: part, dir: dir, port: port}
	ch.Config.Addr = part.Addr
	stop := func() {
		closeAll(ch.Conn, ch.Load, ch.Notify)
		ch.Part.Stop()
	}
	if ch.Conn, ch.Load, ch.Notify, err = migrateAndConnect(ctx, ch.Config, base.PersonalDataTTL); err != nil {
		stop()
		return nil, nil, err
	}
	return ch, stop, nil
}

// migrateAndConnect connects to the ClickHouse of cfg (a cluster, if
// cfg.Cluster) as the migration user, migrates it, and connects as load's
// and notify's users. The connections it made are returned also with an
// error, to be closed.
func migrateAndConnect(ctx context.Context, cfg platform.ClickHouseConfig, ttl time.Duration) (migrate, load, notify driver.Conn, err error) {
	if migrate, err = warehouse.Open(ctx, cfg, cfg.Migrate); err != nil {
		return nil, nil, nil, err
	}
	if err = warehouse.MigrateCluster(ctx, migrate, cfg.Database, cfg.Cluster, schemas.Datasets, ttl); err != nil {
		return migrate, nil, nil, err
	}
	if load, err = warehouse.Open(ctx, cfg, cfg.Load); err != nil {
		return migrate, nil, nil, err
	}
	notify, err = warehouse.Open(ctx, cfg, cfg.Notify)
	return migrate, load, notify, err
}

// closeAll closes the connections that are not nil.
func closeAll(conns ...driver.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// Connect opens a connection as user (one of Config's); the caller closes
// it.
func (c *ClickHouse) Connect(ctx context.Context, user platform.ClickHouseUser) (driver.Conn, error) {
	return warehouse.Open(ctx, c.Config, user)
}

func clickHouseUsers() string { return filepath.Join(RepoRoot(), "deploy", "clickhouse", "users.d") }

// Restart starts ClickHouse again, after its part was stopped or killed, on
// the same port and with the same data; Conn reconnects by itself.
func (c *ClickHouse) Restart(ctx context.Context) error {
	part, err := StartClickHouse(ctx, c.dir, c.port, clickHouseUsers(), c.Config.Database)
	if err != nil {
		return err
	}
	c.Part = part
	return nil
}

// Mailpit is a running Mailpit.
type Mailpit struct {
	SMTPAddr string
	API      string // http://host:port

	part              *Part
	dir               string
	smtpPort, webPort int
}

// NewMailpit starts Mailpit in dir on free ports; the returned func stops
// it.
func NewMailpit(dir string) (*Mailpit, func(), error) {
	smtp, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	web, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	m := &Mailpit{SMTPAddr: fmt.Sprintf("127.0.0.1:%d", smtp), dir: dir, smtpPort: smtp, webPort: web}
	if err := m.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	m.API = "http://" + m.part.Addr
	return m, m.Stop, nil
}

// Stop stops Mailpit: SMTP is down until Start.
func (m *Mailpit) Stop() { m.part.Stop() }

// Start starts Mailpit on its ports, with the messages it held.
func (m *Mailpit) Start(ctx context.Context) error {
	part, err := StartMailpit(ctx, m.dir, m.smtpPort, m.webPort)
	if err != nil {
		return err
	}
	m.part = part
	return nil
}

// MinIOConfig picks free ports for a MinIO NewMinIO will start.
func MinIOConfig() (platform.S3Config, error) {
	port, err := FreePortPair()
	if err != nil {
		return platform.S3Config{}, err
	}
	return platform.S3Config{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Region: "us-east-1",
		AccessKey: "sluice", SecretKey: "sluice-secret", Bucket: "imports",
	}, nil
}

// NewMinIO starts MinIO (as cfg says, from MinIOConfig) in dir, publishing
// bucket events to the NATS server at natsURL, and creates the bucket with
// its event notification.
func NewMinIO(dir, natsURL string, cfg platform.S3Config) (*Part, error) {
	return NewMinIODrives(dir, 1, natsURL, cfg)
}

// NewMinIODrives is NewMinIO over drives drives (see StartMinIODrives).
func NewMinIODrives(dir string, drives int, natsURL string, cfg platform.S3Config) (*Part, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	part, err := StartMinIODrives(ctx, dir, port, drives, strings.TrimPrefix(natsURL, "nats://"), cfg)
	if err != nil {
		return nil, err
	}
	if err := ConfigureBucket(ctx, platform.NewS3Client(cfg), cfg.Bucket); err != nil {
		part.Stop()
		return nil, err
	}
	return part, nil
}

// FreePortPair returns a port p such that p and p+1 are free (ClickHouse's
// HTTP port and MinIO's console take the next one).
func FreePortPair() (int, error) {
	for range 50 {
		p, err := FreePort()
		if err != nil {
			return 0, err
		}
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			ln.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("parts: no two free ports in a row")
}
