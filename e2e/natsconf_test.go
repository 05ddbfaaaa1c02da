package e2e

import (
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluicehq/sluice/schemas"
)

// TestNATSConfLoads: deploy/nats.conf parses as nats-server reads it, and
// gives every stage (and MinIO, the admin and the console) a user of its own. What each
// may do is cmd/sluice's TestNATSLeastPrivilege.
//
// Serial: it sets environment variables (t.Setenv).
func TestNATSConfLoads(t *testing.T) {
	for _, v := range []string{"INGEST_PASSWORD", "VALIDATE_PASSWORD", "TRANSFORM_PASSWORD", "LOAD_PASSWORD", "NOTIFY_PASSWORD", "MINIO_PASSWORD", "ADMIN_PASSWORD", "CONSOLE_PASSWORD"} {
		t.Setenv(v, "secret-"+v)
	}
	opts, err := server.ProcessConfigFile("../deploy/nats.conf")
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	var users []string
	for _, u := range opts.Users {
		users = append(users, u.Username)
		if u.Permissions == nil || u.Permissions.Publish == nil || len(u.Permissions.Publish.Allow) == 0 {
			t.Errorf("user %s: no publish permissions, want only its own subjects", u.Username)
		}
	}
	for _, want := range append(slices.Clone(schemas.Stages), "minio", "admin", "console") {
		if !slices.Contains(users, want) {
			t.Errorf("users %v: want one for %s", users, want)
		}
	}
}
