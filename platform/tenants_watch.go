package platform

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"
)

// TenantsPollInterval is how often a TenantsFile looks for a change of its
// file: a tenant added with `sluice tenant add` is served within it.
const TenantsPollInterval = 2 * time.Second

// TenantSource gives the tenants as they are now: a TenantsFile, which
// follows the tenants file while a stage runs, or fixed Tenants.
type TenantSource interface {
	Current() Tenants
}

// Current returns ts: a fixed set of tenants is its own current set (what
// ingest and notify are given in tests).
func (ts Tenants) Current() Tenants { return ts }

// TenantsFile is the tenants file as ingest and notify see it while they
// run: read once by OpenTenants, then again whenever its content changes
// (Watch), so that a tenant added or changed while they run is served
// without a restart. A change that does not read as a tenants file keeps
// the last good tenants, and the error is logged.
type TenantsFile struct {
	path   string
	logger *slog.Logger

	mu      sync.Mutex
	data    []byte // the content last read, good or bad
	tenants Tenants
}

// OpenTenants reads the tenants file at path; unlike a later change, a bad
// file at start is an error.
func OpenTenants(path string, logger *slog.Logger) (*TenantsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	ts, err := parseTenants(path, data)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		if len(ts[name].AccessKeys) == 0 {
			logger.Warn("tenants: a tenant has no access key: ingest refuses its uploads until `sluice tenant add` gives it one",
				"file", path, "tenant", name)
		}
	}
	return &TenantsFile{path: path, logger: logger, data: data, tenants: ts}, nil
}

// Current returns the tenants as last read well. The caller must not
// change the map.
func (f *TenantsFile) Current() Tenants {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tenants
}

// Watch reads the file again every TenantsPollInterval until ctx ends.
func (f *TenantsFile) Watch(ctx context.Context) {
	t := time.NewTicker(TenantsPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = f.Reload()
		}
	}
}

// Reload reads the file, and takes its tenants if it changed and reads
// well. Its error (also logged, once per bad content) says why the last
// good tenants are kept. Reloads run one at a time, each reading and
// taking under the lock: a reload that read the file before a change can
// never take its tenants after one that read it since.
func (f *TenantsFile) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := os.ReadFile(f.path)
	if err != nil {
		err = fmt.Errorf("tenants: %w", err)
		f.logger.Error("tenants: the file does not read: the last good tenants are kept", "file", f.path, "err", err)
		return err
	}
	if bytes.Equal(data, f.data) {
		return nil
	}
	f.data = data
	ts, err := parseTenants(f.path, data)
	if err != nil {
		f.logger.Error("tenants: the file changed but is not valid: the last good tenants are kept", "file", f.path, "err", err)
		return err
	}
	f.tenants = ts
	f.logger.Info("tenants: the file changed: tenants reloaded", "file", f.path, "tenants", len(ts))
	return nil
}
