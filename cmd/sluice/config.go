package main

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/ingest"
	"github.com/sluicehq/sluice/load"
	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/transform"
	"github.com/sluicehq/sluice/validate"
)

// config is everything sluice reads from its environment, once: the
// platform's settings and each stage's Config.
type config struct {
	platform.Config
	stages stageConfigs
	// consoleAddr is where the web console listens (SLUICE_CONSOLE_ADDR);
	// consoleS3Endpoint is the bucket's endpoint as browsers reach it, to
	// which the console presigns uploads (SLUICE_CONSOLE_S3_ENDPOINT,
	// default SLUICE_S3_ENDPOINT).
	consoleAddr, consoleS3Endpoint string
	// tenantKey is a partner's own MinIO key, with which `sluice import`
	// uploads when no flag names one: SLUICE_TENANT_ACCESS_KEY and
	// SLUICE_TENANT_SECRET_KEY, as `sluice tenant add` printed them.
	tenantKey struct{ access, secret string }
}

// stageConfigs holds each stage's Config as the environment sets it. A
// variable left unset leaves its field zero, which the stage replaces with
// its own default: each default is written once, in its stage.
type stageConfigs struct {
	ingest    ingest.Config
	validate  validate.Config
	transform transform.Config
	load      load.Config
	notify    notify.Config
}

// loadConfig reads the SLUICE_* variables through getenv (os.Getenv in
// main): the platform's and the stages'. Its error names every variable
// that is wrong.
func loadConfig(getenv func(string) string) (config, error) {
	base, baseErr := platform.LoadConfig(getenv)
	stages, stagesErr := loadStageConfigs(getenv, base.S3.Bucket)
	if err := errors.Join(baseErr, stagesErr); err != nil {
		return config{}, err
	}
	// The invitations bucket keeps its entries the personal data TTL: a
	// link must lapse, and its user be expired, before its entry goes.
	if invite := cmp.Or(stages.notify.InviteTTL, notify.DefaultInviteTTL); invite >= base.PersonalDataTTL {
		return config{}, fmt.Errorf("SLUICE_INVITE_TTL (%v) must be shorter than SLUICE_PERSONAL_DATA_TTL (%v)", invite, base.PersonalDataTTL)
	}
	cfg := config{Config: base, stages: stages, consoleAddr: cmp.Or(getenv("SLUICE_CONSOLE_ADDR"), console.DefaultAddr),
		consoleS3Endpoint: cmp.Or(getenv("SLUICE_CONSOLE_S3_ENDPOINT"), base.S3.Endpoint)}
	cfg.tenantKey.access, cfg.tenantKey.secret = getenv("SLUICE_TENANT_ACCESS_KEY"), getenv("SLUICE_TENANT_SECRET_KEY")
	return cfg, nil
}

// loadStageConfigs reads every stage's settings; bucket is the one ingest's
// sync lists. A negative or unparsable value is an error naming its
// variable, as is a sync schedule ingest cannot read.
func loadStageConfigs(getenv func(string) string, bucket string) (stageConfigs, error) {
	env := platform.NewEnv(getenv)
	s := stageConfigs{
		ingest: ingest.Config{
			ChunkRows:    env.Int("SLUICE_CHUNK_ROWS"),
			MaxLineBytes: env.Int("SLUICE_INGEST_MAX_LINE_BYTES"),
			Concurrency:  env.Int("SLUICE_INGEST_CONCURRENCY"),
			MaxDeliver:   env.Int("SLUICE_INGEST_MAX_DELIVER"),
			Horizon:      env.Duration("SLUICE_INGEST_HORIZON"),
			AckWait:      env.Duration("SLUICE_INGEST_ACK_WAIT"),
			Lease:        env.Duration("SLUICE_INGEST_LEASE"),
			MaxFileTime:  env.Duration("SLUICE_INGEST_MAX_FILE_TIME"),
			Bucket:       bucket,
			SyncAt:       env.String("SLUICE_SYNC_AT"),
			SyncTimeZone: env.String("SLUICE_SYNC_TIME_ZONE"),
			SyncGrace:    env.Duration("SLUICE_SYNC_GRACE"),
		},
		validate: validate.Config{
			Concurrency: env.Int("SLUICE_VALIDATE_CONCURRENCY"),
			MaxDeliver:  env.Int("SLUICE_VALIDATE_MAX_DELIVER"),
			Horizon:     env.Duration("SLUICE_VALIDATE_HORIZON"),
			AckWait:     env.Duration("SLUICE_VALIDATE_ACK_WAIT"),
		},
		transform: transform.Config{
			Concurrency: env.Int("SLUICE_TRANSFORM_CONCURRENCY"),
			MaxDeliver:  env.Int("SLUICE_TRANSFORM_MAX_DELIVER"),
			Horizon:     env.Duration("SLUICE_TRANSFORM_HORIZON"),
			AckWait:     env.Duration("SLUICE_TRANSFORM_ACK_WAIT"),
		},
		load: load.Config{
			BatchRows:    env.Int("SLUICE_LOAD_BATCH_ROWS"),
			MaxWait:      env.Duration("SLUICE_LOAD_MAX_WAIT"),
			Concurrency:  env.Int("SLUICE_LOAD_CONCURRENCY"),
			MaxDeliver:   env.Int("SLUICE_LOAD_MAX_DELIVER"),
			Horizon:      env.Duration("SLUICE_LOAD_HORIZON"),
			WriteTimeout: env.Duration("SLUICE_LOAD_WRITE_TIMEOUT"),
		},
		notify: notify.Config{
			MaxReportRows: env.Int("SLUICE_NOTIFY_MAX_REPORT_ROWS"),
			Concurrency:   env.Int("SLUICE_NOTIFY_CONCURRENCY"),
			MaxDeliver:    env.Int("SLUICE_NOTIFY_MAX_DELIVER"),
			Horizon:       env.Duration("SLUICE_NOTIFY_HORIZON"),
			StallAfter:    env.Duration("SLUICE_NOTIFY_STALL_AFTER"),
			InviteTTL:     env.Duration("SLUICE_INVITE_TTL"),
			ConsoleURL:    env.String("SLUICE_CONSOLE_URL"),
		},
	}
	_, syncErr := ingest.SyncSchedule(s.ingest)
	if syncErr != nil {
		syncErr = fmt.Errorf("config: SLUICE_SYNC_AT or SLUICE_SYNC_TIME_ZONE: %w", syncErr)
	}
	if err := errors.Join(env.Err(), syncErr); err != nil {
		return stageConfigs{}, err
	}
	return s, nil
}
