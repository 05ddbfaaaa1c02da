package platform

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Config is everything sluice reads from its environment (SLUICE_*), once, in
// cmd/sluice. Stages receive the parts they need.
type Config struct {
	// NATSURL is the NATS server of `sluice <stage>`; `sluice up` embeds one.
	NATSURL string
	// NATSPort and NATSStoreDir configure the embedded server of `sluice up`.
	NATSPort     int
	NATSStoreDir string
	// NATSUser and NATSPassword authenticate a stage to an external NATS
	// (deploy/nats.conf gives each stage its own user).
	NATSUser     string
	NATSPassword string

	S3 S3Config

	ClickHouse ClickHouseConfig

	SMTPAddr string
	MailFrom string

	// SecretKey (64 hex digits) seals and salts secrets (see Secrets); `sluice
	// up` keeps one in DataDir when it is not set.
	SecretKey string

	// DataDir holds the demo's parts and their data (git-ignored).
	DataDir     string
	TenantsFile string
	MetricsAddr string
	Pprof       bool
	// MemoryLimit is the Go runtime's soft memory limit in bytes (0: none):
	// the garbage collector works harder as the heap nears it, instead of
	// letting it double. Deployments that give a stage a memory budget set
	// it below that budget (docker-compose.yml).
	MemoryLimit int64
	ChunkRows   int
	// SyncInterval is how often ingest lists the bucket for objects no event
	// brought; SyncGrace how old an object must be for the sync to take it.
	SyncInterval time.Duration
	SyncGrace    time.Duration
}

// S3Config locates the bucket partners upload to.
type S3Config struct {
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
}

// ClickHouseConfig locates the warehouse.
type ClickHouseConfig struct {
	Addr     string
	Database string
	User     string
	Password string
}

// LoadConfig reads the SLUICE_* variables through getenv (os.Getenv in main),
// applies defaults and validates the result.
func LoadConfig(getenv func(string) string) (Config, error) {
	str := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var errs []error
	num := func(key string, def int) int {
		v := getenv(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return n
	}
	dur := func(key string, def time.Duration) time.Duration {
		v := getenv(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		return d
	}
	cfg := Config{
		NATSURL:      str("SLUICE_NATS_URL", "nats://127.0.0.1:4222"),
		NATSPort:     num("SLUICE_NATS_PORT", 4222),
		NATSStoreDir: str("SLUICE_NATS_STORE", ".data/nats"),
		NATSUser:     getenv("SLUICE_NATS_USER"),
		NATSPassword: getenv("SLUICE_NATS_PASSWORD"),
		S3: S3Config{
			Endpoint:  str("SLUICE_S3_ENDPOINT", "http://127.0.0.1:9000"),
			Region:    str("SLUICE_S3_REGION", "us-east-1"),
			AccessKey: str("SLUICE_S3_ACCESS_KEY", "sluice"),
			SecretKey: str("SLUICE_S3_SECRET_KEY", "sluice-secret"),
			Bucket:    str("SLUICE_S3_BUCKET", "imports"),
		},
		ClickHouse: ClickHouseConfig{
			Addr:     str("SLUICE_CLICKHOUSE_ADDR", "127.0.0.1:19000"),
			Database: str("SLUICE_CLICKHOUSE_DATABASE", "sluice"),
			User:     str("SLUICE_CLICKHOUSE_USER", "sluice"),
			Password: str("SLUICE_CLICKHOUSE_PASSWORD", "sluice"),
		},
		SMTPAddr:     str("SLUICE_SMTP_ADDR", "127.0.0.1:1025"),
		MailFrom:     str("SLUICE_MAIL_FROM", "sluice@localhost"),
		SecretKey:    getenv("SLUICE_SECRET_KEY"),
		DataDir:      str("SLUICE_DATA", ".data"),
		TenantsFile:  str("SLUICE_TENANTS_FILE", "deploy/tenants.json"),
		MetricsAddr:  str("SLUICE_METRICS_ADDR", "127.0.0.1:9464"),
		Pprof:        getenv("SLUICE_PPROF") == "1",
		MemoryLimit:  int64(num("SLUICE_MEMORY_LIMIT_MIB", 0)) << 20,
		ChunkRows:    num("SLUICE_CHUNK_ROWS", 5000),
		SyncInterval: dur("SLUICE_SYNC_INTERVAL", 24*time.Hour),
		SyncGrace:    dur("SLUICE_SYNC_GRACE", time.Hour),
	}
	if cfg.ChunkRows <= 0 {
		errs = append(errs, errors.New("SLUICE_CHUNK_ROWS must be positive"))
	}
	if cfg.SyncInterval <= 0 || cfg.SyncGrace < 0 {
		errs = append(errs, errors.New("SLUICE_SYNC_INTERVAL must be positive, SLUICE_SYNC_GRACE not negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}
