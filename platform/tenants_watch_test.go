package platform_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform"
)

// TestTenantsFileFollowsChanges: a tenant added to the file is served, a
// bad change keeps the last good tenants and is logged, and Watch takes a
// change by itself.
func TestTenantsFileFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.json")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"acme": {"contact": "a@acme.example"}}`)
	var log bytes.Buffer
	f, err := platform.OpenTenants(path, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Current()["acme"]; !ok || len(f.Current()) != 1 {
		t.Fatalf("at start: got %v", f.Current())
	}
	if !strings.Contains(log.String(), "has no access key") || !strings.Contains(log.String(), "tenant=acme") {
		t.Errorf("acme, without a key, is not named at start: %s", log.String())
	}

	write(`{"acme": {"contact": "a@acme.example"}, "globex": {"contact": "g@globex.example", "access_keys": ["GLOBEXKEY"]}}`)
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if g := f.Current()["globex"]; g.Contact != "g@globex.example" || g.MaxRows != platform.DefaultMaxRows || len(g.AccessKeys) != 1 {
		t.Errorf("after an add: globex is %+v, want it with its defaults", g)
	}

	for _, bad := range []string{`{"acme": `, `{"Bad Name": {}}`, `{"acme": {"mode": "nonsense"}}`} {
		write(bad)
		if err := f.Reload(); err == nil {
			t.Errorf("%s: no error", bad)
		}
		if len(f.Current()) != 2 {
			t.Errorf("%s: the last good tenants are not kept: %v", bad, f.Current())
		}
	}
	if !strings.Contains(log.String(), "last good tenants are kept") {
		t.Errorf("a bad file is not logged: %s", log.String())
	}

	go f.Watch(t.Context())
	write(`{"initech": {"contact": "hr@initech.example"}}`)
	deadline := time.Now().Add(3 * platform.TenantsPollInterval)
	for time.Now().Before(deadline) {
		if _, ok := f.Current()["initech"]; ok && len(f.Current()) == 1 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("Watch did not take the change: %v", f.Current())
}

// TestOpenTenantsRefusesABadFile: at start there is no last good file.
func TestOpenTenantsRefusesABadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(path, []byte(`{"acme": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := platform.OpenTenants(path, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("no error")
	}
}
