package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/tenantkeys"
)

// demoPartners gives each tenant with a folder under examples/ its own
// MinIO key, through the same code as `sluice tenant add` (rotating the key
// a previous demo made: its secret was shown once), and returns each
// tenant's S3 client. The keys go into a copy of the tenants file under
// data, which cfg then names: the repository's file stays as it is.
func demoPartners(ctx context.Context, cfg *config, data string) (map[string]*s3.Client, error) {
	file := filepath.Join(data, "tenants.json")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		b, err := os.ReadFile(cfg.TenantsFile)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	cfg.TenantsFile = file
	tenants, err := platform.LoadTenants(file)
	if err != nil {
		return nil, err
	}
	// The demo's MinIO runs with the root keys of cfg.S3.
	adminCfg := cfg.S3
	adminCfg.AdminAccessKey, adminCfg.AdminSecretKey = cfg.S3.AccessKey, cfg.S3.SecretKey
	admin, err := tenantkeys.NewAdmin(adminCfg, file)
	if err != nil {
		return nil, err
	}
	dirs, err := os.ReadDir("examples")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	clients := map[string]*s3.Client{}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		contact := tenants[name].Contact
		if contact == "" {
			contact = "partner@" + name + ".example"
		}
		key, err := admin.Add(ctx, name, contact)
		if errors.Is(err, tenantkeys.ErrExists) {
			key, err = admin.Rotate(ctx, name)
		}
		if err != nil {
			return nil, err
		}
		partner := cfg.S3
		partner.AccessKey, partner.SecretKey = key.AccessKey, key.SecretKey
		clients[name] = platform.NewS3Client(partner)
	}
	return clients, nil
}
