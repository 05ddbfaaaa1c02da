package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// stageVariables is every stage setting's variable, with a value and the
// stage config that value gives.
var stageVariables = []struct {
	key, value string
	want       func(*stageConfigs) // applied to the configs of no variable
}{
	{"SLUICE_CHUNK_ROWS", "500", func(s *stageConfigs) { s.ingest.ChunkRows = 500 }},
	{"SLUICE_INGEST_MAX_LINE_BYTES", "4096", func(s *stageConfigs) { s.ingest.MaxLineBytes = 4096 }},
	{"SLUICE_INGEST_CONCURRENCY", "3", func(s *stageConfigs) { s.ingest.Concurrency = 3 }},
	{"SLUICE_INGEST_MAX_DELIVER", "7", func(s *stageConfigs) { s.ingest.MaxDeliver = 7 }},
	{"SLUICE_INGEST_HORIZON", "2h", func(s *stageConfigs) { s.ingest.Horizon = 2 * time.Hour }},
	{"SLUICE_INGEST_ACK_WAIT", "1m", func(s *stageConfigs) { s.ingest.AckWait = time.Minute }},
	{"SLUICE_INGEST_LEASE", "40s", func(s *stageConfigs) { s.ingest.Lease = 40 * time.Second }},
	{"SLUICE_INGEST_MAX_FILE_TIME", "2h", func(s *stageConfigs) { s.ingest.MaxFileTime = 2 * time.Hour }},
	{"SLUICE_SYNC_AT", "03:30", func(s *stageConfigs) { s.ingest.SyncAt = "03:30" }},
	{"SLUICE_SYNC_TIME_ZONE", "Europe/Moscow", func(s *stageConfigs) { s.ingest.SyncTimeZone = "Europe/Moscow" }},
	{"SLUICE_SYNC_GRACE", "5m", func(s *stageConfigs) { s.ingest.SyncGrace = 5 * time.Minute }},
	{"SLUICE_VALIDATE_CONCURRENCY", "8", func(s *stageConfigs) { s.validate.Concurrency = 8 }},
	{"SLUICE_VALIDATE_MAX_DELIVER", "9", func(s *stageConfigs) { s.validate.MaxDeliver = 9 }},
	{"SLUICE_VALIDATE_HORIZON", "3h", func(s *stageConfigs) { s.validate.Horizon = 3 * time.Hour }},
	{"SLUICE_VALIDATE_ACK_WAIT", "40s", func(s *stageConfigs) { s.validate.AckWait = 40 * time.Second }},
	{"SLUICE_TRANSFORM_CONCURRENCY", "10", func(s *stageConfigs) { s.transform.Concurrency = 10 }},
	{"SLUICE_TRANSFORM_MAX_DELIVER", "11", func(s *stageConfigs) { s.transform.MaxDeliver = 11 }},
	{"SLUICE_TRANSFORM_HORIZON", "4h", func(s *stageConfigs) { s.transform.Horizon = 4 * time.Hour }},
	{"SLUICE_TRANSFORM_ACK_WAIT", "50s", func(s *stageConfigs) { s.transform.AckWait = 50 * time.Second }},
	{"SLUICE_LOAD_BATCH_ROWS", "100000", func(s *stageConfigs) { s.load.BatchRows = 100000 }},
	{"SLUICE_LOAD_MAX_WAIT", "500ms", func(s *stageConfigs) { s.load.MaxWait = 500 * time.Millisecond }},
	{"SLUICE_LOAD_CONCURRENCY", "12", func(s *stageConfigs) { s.load.Concurrency = 12 }},
	{"SLUICE_LOAD_MAX_DELIVER", "13", func(s *stageConfigs) { s.load.MaxDeliver = 13 }},
	{"SLUICE_LOAD_HORIZON", "5h", func(s *stageConfigs) { s.load.Horizon = 5 * time.Hour }},
	{"SLUICE_LOAD_WRITE_TIMEOUT", "45s", func(s *stageConfigs) { s.load.WriteTimeout = 45 * time.Second }},
	{"SLUICE_NOTIFY_MAX_REPORT_ROWS", "1000", func(s *stageConfigs) { s.notify.MaxReportRows = 1000 }},
	{"SLUICE_NOTIFY_CONCURRENCY", "14", func(s *stageConfigs) { s.notify.Concurrency = 14 }},
	{"SLUICE_NOTIFY_MAX_DELIVER", "15", func(s *stageConfigs) { s.notify.MaxDeliver = 15 }},
	{"SLUICE_NOTIFY_HORIZON", "6h", func(s *stageConfigs) { s.notify.Horizon = 6 * time.Hour }},
	{"SLUICE_NOTIFY_STALL_AFTER", "20m", func(s *stageConfigs) { s.notify.StallAfter = 20 * time.Minute }},
	{"SLUICE_INVITE_TTL", "48h", func(s *stageConfigs) { s.notify.InviteTTL = 48 * time.Hour }},
}

func TestLoadStageConfigs(t *testing.T) {
	// With no variable set, every setting is zero (its stage's default) but
	// the bucket ingest's sync lists, which is the platform's.
	var unset stageConfigs
	unset.ingest.Bucket = "uploads"
	t.Run("unset", func(t *testing.T) {
		got, err := loadStageConfigs(func(string) string { return "" }, "uploads")
		if err != nil {
			t.Fatalf("loadStageConfigs error = %v, want none", err)
		}
		if !reflect.DeepEqual(got, unset) {
			t.Errorf("loadStageConfigs =\n %+v\nwant\n %+v", got, unset)
		}
	})
	for _, v := range stageVariables {
		t.Run(v.key, func(t *testing.T) {
			got, err := loadStageConfigs(func(k string) string { return map[string]string{v.key: v.value}[k] }, "uploads")
			if err != nil {
				t.Fatalf("loadStageConfigs error = %v, want none", err)
			}
			want := unset
			v.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s=%s: loadStageConfigs =\n %+v\nwant\n %+v", v.key, v.value, got, want)
			}
		})
		for _, bad := range []string{"-" + v.value, "many"} {
			t.Run(v.key+"="+bad, func(t *testing.T) {
				got, err := loadStageConfigs(func(k string) string { return map[string]string{v.key: bad}[k] }, "uploads")
				if err == nil || !strings.Contains(err.Error(), v.key) {
					t.Fatalf("loadStageConfigs error = %v, want one naming %s", err, v.key)
				}
				if !reflect.DeepEqual(got, stageConfigs{}) {
					t.Errorf("loadStageConfigs with an error returned %+v, want zero configs", got)
				}
			})
		}
	}
}

func TestLoadConfig(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		check    func(t *testing.T, cfg config)
		errNames []string // the variables the error names, when one is wanted
	}{
		{name: "the platform's and the stages' settings", env: map[string]string{"SLUICE_S3_BUCKET": "uploads", "SLUICE_LOAD_BATCH_ROWS": "1000"},
			check: func(t *testing.T, cfg config) {
				if cfg.S3.Bucket != "uploads" || cfg.stages.ingest.Bucket != "uploads" || cfg.stages.load.BatchRows != 1000 {
					t.Errorf("bucket %q, ingest's %q, load's batch rows %d; want uploads, uploads, 1000",
						cfg.S3.Bucket, cfg.stages.ingest.Bucket, cfg.stages.load.BatchRows)
				}
			}},
		{name: "a bad platform and a bad stage variable", env: map[string]string{"SLUICE_NATS_PORT": "x", "SLUICE_LOAD_MAX_WAIT": "-1s"},
			errNames: []string{"SLUICE_NATS_PORT", "SLUICE_LOAD_MAX_WAIT"}},
		{name: "the console's address for invitation links", env: map[string]string{"SLUICE_CONSOLE_URL": "https://console.acme.example"},
			check: func(t *testing.T, cfg config) {
				if cfg.stages.notify.ConsoleURL != "https://console.acme.example" {
					t.Errorf("console URL %q, want https://console.acme.example", cfg.stages.notify.ConsoleURL)
				}
			}},
		{name: "invitations outlive the personal data TTL", env: map[string]string{"SLUICE_INVITE_TTL": "240h", "SLUICE_PERSONAL_DATA_TTL": "72h"},
			errNames: []string{"SLUICE_INVITE_TTL", "SLUICE_PERSONAL_DATA_TTL"}},
		{name: "the default invitation TTL outlives the personal data TTL", env: map[string]string{"SLUICE_PERSONAL_DATA_TTL": "72h"},
			errNames: []string{"SLUICE_INVITE_TTL", "SLUICE_PERSONAL_DATA_TTL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadConfig(func(k string) string { return tc.env[k] })
			for _, key := range tc.errNames {
				if err == nil || !strings.Contains(err.Error(), key) {
					t.Errorf("loadConfig error = %v, want one naming %s", err, key)
				}
			}
			if tc.errNames != nil {
				if !reflect.DeepEqual(got, config{}) {
					t.Errorf("loadConfig with an error returned %+v, want the zero config", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig error = %v, want none", err)
			}
			tc.check(t, got)
		})
	}
}
