package platform_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

func TestLoadConfig(t *testing.T) {
	defaults := platform.Config{
		NATSURL: "nats://127.0.0.1:4222", NATSPort: 4222, NATSStoreDir: ".data/nats", NATSReplicas: 1,
		S3: platform.S3Config{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
			AccessKey: "sluice", SecretKey: "sluice-secret", Bucket: "imports"},
		ClickHouse: platform.ClickHouseConfig{Addr: "127.0.0.1:19000", Database: "sluice",
			Migrate: platform.ClickHouseUser{Name: "sluice_migrate", Password: "dev-only-migrate"},
			Load:    platform.ClickHouseUser{Name: "sluice_load", Password: "dev-only-load"},
			Notify:  platform.ClickHouseUser{Name: "sluice_notify", Password: "dev-only-notify"},
			Reader:  platform.ClickHouseUser{Name: "sluice_reader", Password: "dev-only-reader"}},
		SMTPAddr: "127.0.0.1:1025", MailFrom: "sluice@localhost",
		DataDir: ".data", TenantsFile: "deploy/tenants.json", MetricsAddr: "127.0.0.1:9464",
		PersonalDataTTL: platform.DefaultPersonalDataTTL,
	}
	cases := []struct {
		name   string
		env    map[string]string
		change func(*platform.Config) // applied to the defaults
		errs   []string               // what the error names, when one is wanted
	}{
		{name: "defaults"},
		{name: "values set", env: map[string]string{
			"SLUICE_MEMORY_LIMIT_MIB": "160", "SLUICE_S3_BUCKET": "uploads", "SLUICE_NATS_USER": "ingest", "SLUICE_PPROF": "1", "SLUICE_NATS_PORT": "4333",
			"SLUICE_NATS_REPLICAS": "3", "SLUICE_LOAD_CLICKHOUSE_USER": "ld", "SLUICE_LOAD_CLICKHOUSE_PASSWORD": "s3cret",
			"SLUICE_CLICKHOUSE_CLUSTER": "warehouse"},
			change: func(c *platform.Config) {
				c.MemoryLimit, c.S3.Bucket, c.NATSUser, c.Pprof, c.NATSPort, c.NATSReplicas = 160<<20, "uploads", "ingest", true, 4333, 3
				c.ClickHouse.Load = platform.ClickHouseUser{Name: "ld", Password: "s3cret"}
				c.ClickHouse.Cluster = "warehouse"
			}},
		{name: "zero is the default", env: map[string]string{"SLUICE_NATS_PORT": "0", "SLUICE_MEMORY_LIMIT_MIB": "0"}},
		{name: "memory limit not a number", env: map[string]string{"SLUICE_MEMORY_LIMIT_MIB": "160MiB"}, errs: []string{"SLUICE_MEMORY_LIMIT_MIB"}},
		{name: "memory limit negative", env: map[string]string{"SLUICE_MEMORY_LIMIT_MIB": "-1"}, errs: []string{"SLUICE_MEMORY_LIMIT_MIB"}},
		{name: "NATS port not a number", env: map[string]string{"SLUICE_NATS_PORT": "nats"}, errs: []string{"SLUICE_NATS_PORT"}},
		{name: "every bad variable named", env: map[string]string{"SLUICE_NATS_PORT": "-4222", "SLUICE_MEMORY_LIMIT_MIB": "lots"},
			errs: []string{"SLUICE_NATS_PORT", "SLUICE_MEMORY_LIMIT_MIB"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := platform.LoadConfig(func(k string) string { return tc.env[k] })
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("LoadConfig error = nil, want one naming %q", tc.errs)
				}
				for _, key := range tc.errs {
					if !strings.Contains(err.Error(), key) {
						t.Errorf("LoadConfig error = %v, want one naming %s", err, key)
					}
				}
				if !reflect.DeepEqual(got, platform.Config{}) {
					t.Errorf("LoadConfig with an error returned %+v, want the zero Config", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig error = %v, want none", err)
			}
			want := defaults
			if tc.change != nil {
				tc.change(&want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LoadConfig =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	readInt := func(e *platform.Env, key string) any { return e.Int(key) }
	readDuration := func(e *platform.Env, key string) any { return e.Duration(key) }
	cases := []struct {
		name    string
		value   string // of SLUICE_X; "": not set
		read    func(*platform.Env, string) any
		want    any
		wantErr bool
	}{
		{name: "int unset", read: readInt, want: 0},
		{name: "int zero", value: "0", read: readInt, want: 0},
		{name: "int set", value: "90", read: readInt, want: 90},
		{name: "int negative", value: "-5", read: readInt, want: 0, wantErr: true},
		{name: "int not a number", value: "five", read: readInt, want: 0, wantErr: true},
		{name: "duration unset", read: readDuration, want: time.Duration(0)},
		{name: "duration zero", value: "0", read: readDuration, want: time.Duration(0)},
		{name: "duration set", value: "90s", read: readDuration, want: 90 * time.Second},
		{name: "duration negative", value: "-5s", read: readDuration, want: time.Duration(0), wantErr: true},
		{name: "duration without a unit", value: "90", read: readDuration, want: time.Duration(0), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := platform.NewEnv(func(k string) string { return map[string]string{"SLUICE_X": tc.value}[k] })
			if got := tc.read(env, "SLUICE_X"); got != tc.want {
				t.Errorf("reading SLUICE_X=%q: got %v, want %v", tc.value, got, tc.want)
			}
			err := env.Err()
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Err after reading SLUICE_X=%q = %v, want an error: %t", tc.value, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "SLUICE_X") {
				t.Errorf("Err = %v, want it to name SLUICE_X", err)
			}
		})
	}
}

func TestLoadTenants(t *testing.T) {
	policy := schemas.DefaultPasswordPolicy
	strict := schemas.PasswordPolicy{MinLen: 12, MaxLen: 64, Digit: true, Letter: true, Upper: true, Symbol: true}
	cases := []struct {
		name    string
		content string // "": no file
		want    platform.Tenants
		wantErr bool
	}{
		{name: "defaults", content: `{"acme": {"contact": "ops@acme.example"}}`,
			want: platform.Tenants{"acme": {Contact: "ops@acme.example", MaxRows: platform.DefaultMaxRows, MaxBytes: platform.DefaultMaxBytes, Mode: "update",
				Region: "RU", Password: &policy, OnError: "continue"}}},
		{name: "max rows set", content: `{"acme": {"contact": "ops@acme.example", "max_rows": 100, "max_bytes": 2048, "mode": "create"}, "beta-2": {}}`,
			want: platform.Tenants{"acme": {Contact: "ops@acme.example", MaxRows: 100, MaxBytes: 2048, Mode: "create", Region: "RU", Password: &policy, OnError: "continue"},
				"beta-2": {MaxRows: 5000, MaxBytes: 50 << 20, Mode: "update", Region: "RU", Password: &policy, OnError: "continue"}}},
		{name: "region and password policy set", content: `{"acme": {"region": "US", "password": {"min_len": 12, "max_len": 64, "digit": true, "letter": true, "upper": true, "symbol": true}}}`,
			want: platform.Tenants{"acme": {MaxRows: 5000, MaxBytes: 50 << 20, Mode: "update", Region: "US", Password: &strict, OnError: "continue"}}},
		{name: "abort, invite", content: `{"acme": {"on_error": "abort", "invite": true}}`,
			want: platform.Tenants{"acme": {MaxRows: 5000, MaxBytes: 50 << 20, Mode: "update", Region: "RU", Password: &policy, OnError: "abort", Invite: true}}},
		{name: "unknown on_error", content: `{"acme": {"on_error": "skip"}}`, wantErr: true},
		{name: "unknown region", content: `{"acme": {"region": "XX"}}`, wantErr: true},
		{name: "password min over max", content: `{"acme": {"password": {"min_len": 12, "max_len": 8}}}`, wantErr: true},
		{name: "unknown mode", content: `{"acme": {"mode": "replace"}}`, wantErr: true},
		{name: "sync", content: `{"acme": {"mode": "sync", "sync_limit_percent": 25, "upload_options": ["mode", "force"]}}`,
			want: platform.Tenants{"acme": {MaxRows: 5000, MaxBytes: 50 << 20, Mode: "sync", SyncLimitPercent: 25, Region: "RU", Password: &policy, OnError: "continue",
				UploadOptions: []string{"mode", "force"}}}},
		{name: "sync limit over 100", content: `{"acme": {"sync_limit_percent": 101}}`, wantErr: true},
		{name: "no tenants", content: `{}`, want: platform.Tenants{}},
		{name: "upper-case name", content: `{"Acme": {}}`, wantErr: true},
		{name: "name with a space", content: `{"acme corp": {}}`, wantErr: true},
		{name: "name with a slash", content: `{"acme/clients": {}}`, wantErr: true},
		{name: "name with a dot", content: `{"acme.eu": {}}`, wantErr: true},
		{name: "negative max rows", content: `{"acme": {"max_rows": -1}}`, wantErr: true},
		{name: "negative max bytes", content: `{"acme": {"max_bytes": -1}}`, wantErr: true},
		{name: "not JSON", content: `acme: {}`, wantErr: true},
		{name: "no file", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tenants.json")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := platform.LoadTenants(path)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("LoadTenants = %+v, nil; want an error", got)
				}
				if tc.content == "" && !errors.Is(err, os.ErrNotExist) {
					t.Errorf("LoadTenants error = %v, want one wrapping os.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadTenants error = %v, want none", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("LoadTenants = %+v, want %+v", got, tc.want)
			}
		})
	}
}
