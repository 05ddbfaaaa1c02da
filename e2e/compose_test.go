package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/sluicehq/sluice/platform"
)

// TestComposeFileLoads checks docker-compose.yml the way Docker Compose reads
// it (there is no Docker engine on the build machines): it must load, hold
// every part of the stack, and start each stage with its own command and its
// NATS server.
func TestComposeFileLoads(t *testing.T) {
	load := func(env []string) (*types.Project, error) {
		opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
			cli.WithWorkingDirectory(".."),
			// An explicit environment: the ${VAR:-default}s resolve to the
			// file's defaults whatever the machine running the test has set,
			// and no .env file is read.
			cli.WithEnv(env),
		)
		if err != nil {
			t.Fatalf("compose options: %v", err)
		}
		return cli.ProjectFromOptions(context.Background(), opts)
	}
	// No secret key, no stack: there is no published fallback.
	if _, err := load(nil); err == nil || !strings.Contains(err.Error(), "SLUICE_SECRET_KEY") {
		t.Errorf("docker-compose.yml without SLUICE_SECRET_KEY: got %v, want an error naming it", err)
	}
	project, err := load([]string{"SLUICE_SECRET_KEY=" + platform.NewSecretKey()})
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}

	for _, name := range []string{"nats", "minio", "minio-setup", "clickhouse", "mailpit", "prometheus", "grafana"} {
		t.Run(name, func(t *testing.T) {
			if _, err := project.GetService(name); err != nil {
				t.Fatalf("service %s: got %v, want it defined", name, err)
			}
		})
	}

	for _, stage := range []string{"ingest", "validate", "transform", "load", "notify"} {
		t.Run(stage, func(t *testing.T) {
			svc, err := project.GetService(stage)
			if err != nil {
				t.Fatalf("service %s: got %v, want it defined", stage, err)
			}
			if want := (types.ShellCommand{"sluice", stage}); !slices.Equal(svc.Command, want) {
				t.Fatalf("%s command: got %q, want %q", stage, svc.Command, want)
			}
			url, ok := svc.Environment["SLUICE_NATS_URL"]
			if !ok || url == nil || *url == "" {
				t.Fatalf("%s SLUICE_NATS_URL: got %v, want it set", stage, url)
			}
			// Each stage is its own NATS user (deploy/nats.conf).
			if user := svc.Environment["SLUICE_NATS_USER"]; user == nil || *user != stage {
				t.Fatalf("%s SLUICE_NATS_USER: got %v, want %q", stage, user, stage)
			}
			// Its consumer exists before it starts: it may not create one.
			if dep, ok := svc.DependsOn["migrate"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Fatalf("%s depends on migrate: got %+v, want it completed successfully", stage, dep)
			}
		})
	}

	t.Run("migrate", func(t *testing.T) {
		svc, err := project.GetService("migrate")
		if err != nil {
			t.Fatalf("service migrate: got %v, want it defined", err)
		}
		if want := (types.ShellCommand{"sluice", "migrate"}); !slices.Equal(svc.Command, want) {
			t.Fatalf("migrate command: got %q, want %q", svc.Command, want)
		}
		if user := svc.Environment["SLUICE_NATS_USER"]; user == nil || *user != "admin" {
			t.Fatalf("migrate SLUICE_NATS_USER: got %v, want admin", user)
		}
		nats, err := project.GetService("nats")
		if err != nil {
			t.Fatal(err)
		}
		if pw, server := svc.Environment["SLUICE_NATS_PASSWORD"], nats.Environment["ADMIN_PASSWORD"]; pw == nil || server == nil || *pw != *server {
			t.Fatalf("admin password: migrate presents %v, nats checks %v", pw, server)
		}
	})
}
