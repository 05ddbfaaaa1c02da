package platform

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the platform's part of what sluice reads from its environment
// (SLUICE_*), once, in cmd/sluice: where the parts are and how the process
// runs. Each stage's own settings go into that stage's Config, which
// cmd/sluice reads with an Env.
type Config struct {
	// NATSURL is the NATS server of `sluice <stage>`, or the nodes of a
	// cluster, separated by commas; `sluice up` embeds one server.
	NATSURL string
	// NATSPort and NATSStoreDir configure the embedded server of `sluice up`.
	NATSPort     int
	NATSStoreDir string
	// NATSUser and NATSPassword authenticate a stage to an external NATS
	// (deploy/nats.conf gives each stage its own user, and `sluice migrate`
	// and `sluice replay` the admin user).
	NATSUser     string
	NATSPassword string
	// NATSReplicas is how many copies of each stream and KV bucket a new
	// one gets: 1 on a single server, 3 on a cluster.
	NATSReplicas int

	S3 S3Config

	ClickHouse ClickHouseConfig

	SMTPAddr string
	MailFrom string

	// SecretKey (64 hex digits) seals and salts secrets (see Secrets);
	// SecretKeyPrevious is the key still accepted while it is rotated.
	SecretKey         string
	SecretKeyPrevious string

	// DataDir holds the demo's parts and their data (git-ignored).
	DataDir     string
	TenantsFile string
	MetricsAddr string
	Pprof       bool
	// PersonalDataTTL is how long personal data kept for partners to fix
	// their files (dead letters, poison messages, import_rejections) is
	// kept: 30 days unless set.
	PersonalDataTTL time.Duration
	// MemoryLimit is the Go runtime's soft memory limit in bytes (0: none):
	// the garbage collector works harder as the heap nears it, instead of
	// letting it double. Deployments that give a stage a memory budget set
	// it below that budget (docker-compose.yml).
	MemoryLimit int64
}

// DefaultPersonalDataTTL is how long personal data kept for partners
// (dead letters, poison messages, import_rejections) lives by default.
const DefaultPersonalDataTTL = 30 * 24 * time.Hour

// S3Config locates the bucket partners upload to.
type S3Config struct {
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string

	// AdminAccessKey and AdminSecretKey are MinIO's admin (root) keys, which
	// only `sluice tenant` uses, to make and remove the tenants' keys.
	AdminAccessKey string
	AdminSecretKey string
}

// ClickHouseConfig locates the warehouse and names the user each role logs
// in as (deploy/clickhouse/users.d defines them): Migrate owns DDL (`sluice
// migrate`, and the expiry of personal data); Load and Notify write with no
// DDL, each as its own user, also when both run in one process; Reader only
// reads (the demo's queries, dashboards).
type ClickHouseConfig struct {
	// Addr is a server's host:port, or several separated by commas (the
	// nodes of a cluster: a connection takes the first that answers).
	Addr     string
	Database string
	// Cluster, when set, is the cluster (in the servers' remote_servers)
	// whose shards and replicas hold sluice's tables: see
	// platform/warehouse's doc. Unset, the tables are on the one server.
	Cluster string

	Migrate, Load, Notify, Reader ClickHouseUser
}

// ClickHouseUser is a ClickHouse user's name and password.
type ClickHouseUser struct {
	Name     string
	Password string
}

// LoadConfig reads the platform's SLUICE_* variables through getenv
// (os.Getenv in main), applies defaults and validates the result.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := NewEnv(getenv)
	cfg := Config{
		NATSURL:      cmp.Or(env.String("SLUICE_NATS_URL"), "nats://127.0.0.1:4222"),
		NATSPort:     cmp.Or(env.Int("SLUICE_NATS_PORT"), 4222),
		NATSStoreDir: cmp.Or(env.String("SLUICE_NATS_STORE"), ".data/nats"),
		NATSUser:     env.String("SLUICE_NATS_USER"),
		NATSPassword: env.String("SLUICE_NATS_PASSWORD"),
		NATSReplicas: cmp.Or(env.Int("SLUICE_NATS_REPLICAS"), 1),
		S3: S3Config{
			Endpoint:  cmp.Or(env.String("SLUICE_S3_ENDPOINT"), "http://127.0.0.1:9000"),
			Region:    cmp.Or(env.String("SLUICE_S3_REGION"), "us-east-1"),
			AccessKey: cmp.Or(env.String("SLUICE_S3_ACCESS_KEY"), "sluice"),
			SecretKey: cmp.Or(env.String("SLUICE_S3_SECRET_KEY"), "sluice-secret"),
			Bucket:    cmp.Or(env.String("SLUICE_S3_BUCKET"), "imports"),

			AdminAccessKey: env.String("SLUICE_S3_ADMIN_ACCESS_KEY"),
			AdminSecretKey: env.String("SLUICE_S3_ADMIN_SECRET_KEY"),
		},
		ClickHouse: ClickHouseConfig{
			Addr:     cmp.Or(env.String("SLUICE_CLICKHOUSE_ADDR"), "127.0.0.1:19000"),
			Database: cmp.Or(env.String("SLUICE_CLICKHOUSE_DATABASE"), "sluice"),
			Cluster:  env.String("SLUICE_CLICKHOUSE_CLUSTER"),
			Migrate:  clickHouseUser(env, "MIGRATE"),
			Load:     clickHouseUser(env, "LOAD"),
			Notify:   clickHouseUser(env, "NOTIFY"),
			Reader:   clickHouseUser(env, "READER"),
		},
		SMTPAddr:          cmp.Or(env.String("SLUICE_SMTP_ADDR"), "127.0.0.1:1025"),
		MailFrom:          cmp.Or(env.String("SLUICE_MAIL_FROM"), "sluice@localhost"),
		SecretKey:         env.String("SLUICE_SECRET_KEY"),
		SecretKeyPrevious: env.String("SLUICE_SECRET_KEY_PREVIOUS"),
		DataDir:           cmp.Or(env.String("SLUICE_DATA"), ".data"),
		TenantsFile:       cmp.Or(env.String("SLUICE_TENANTS_FILE"), "deploy/tenants.json"),
		MetricsAddr:       cmp.Or(env.String("SLUICE_METRICS_ADDR"), "127.0.0.1:9464"),
		Pprof:             env.String("SLUICE_PPROF") == "1",
		MemoryLimit:       int64(env.Int("SLUICE_MEMORY_LIMIT_MIB")) << 20,
		PersonalDataTTL:   cmp.Or(env.Duration("SLUICE_PERSONAL_DATA_TTL"), DefaultPersonalDataTTL),
	}
	if err := env.Err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// clickHouseUser reads SLUICE_<ROLE>_CLICKHOUSE_USER and _PASSWORD; unset,
// they are the development user of deploy/clickhouse/users.d
// (sluice_<role>, password dev-only-<role>).
func clickHouseUser(env *Env, role string) ClickHouseUser {
	name := strings.ToLower(role)
	return ClickHouseUser{
		Name:     cmp.Or(env.String("SLUICE_"+role+"_CLICKHOUSE_USER"), "sluice_"+name),
		Password: cmp.Or(env.String("SLUICE_"+role+"_CLICKHOUSE_PASSWORD"), "dev-only-"+name),
	}
}

// Env reads SLUICE_* variables through getenv (os.Getenv in main). A
// variable that is not set reads as the zero value, which every Config
// takes for its default: a default is written once, where its setting is
// defined. Env gathers what is wrong with the variables it reads, so that
// one error (Err) names every bad variable.
type Env struct {
	getenv func(string) string
	errs   []error
}

// NewEnv returns an Env reading through getenv.
func NewEnv(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// String returns variable key, "" when it is not set.
func (e *Env) String(key string) string { return e.getenv(key) }

// Int returns variable key, a whole number not below 0; 0 when it is not
// set or is not such a number (Err then says so).
func (e *Env) Int(key string) int {
	return parse(e, key, strconv.Atoi, "a whole number, 0 or more")
}

// Duration returns variable key, a duration not below 0 (90s, 24h); 0 when
// it is not set or is not such a duration (Err then says so).
func (e *Env) Duration(key string) time.Duration {
	return parse(e, key, time.ParseDuration, "a duration such as 90s or 24h, 0 or more")
}

// Err names every variable read so far whose value is not valid; nil when
// they all are.
func (e *Env) Err() error {
	if err := errors.Join(e.errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// parse reads variable key with parseValue; a value it cannot parse, or a
// negative one, is recorded as an error that says what was wanted.
func parse[T int | time.Duration](e *Env, key string, parseValue func(string) (T, error), want string) T {
	var zero T
	v := e.getenv(key)
	if v == "" {
		return zero
	}
	x, err := parseValue(v)
	if err != nil || x < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s is %q: want %s", key, v, want))
		return zero
	}
	return x
}
