package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/platform/tenantkeys"
)

const tenantUsage = `usage:
  sluice tenant add NAME --contact ADDRESS   a MinIO key for the tenant, confined to <bucket>/NAME/; prints it once
  sluice tenant list                         the tenants, their contacts and access keys (never a secret)
  sluice tenant rotate NAME                  a new key; the old one stops working
  sluice tenant remove NAME                  the key and its policy go; the record stays, without a key
MinIO's admin keys come from SLUICE_S3_ADMIN_ACCESS_KEY and SLUICE_S3_ADMIN_SECRET_KEY,
the tenants file from SLUICE_TENANTS_FILE, MinIO and its bucket from SLUICE_S3_ENDPOINT and SLUICE_S3_BUCKET.`

// tenant runs one tenant command, printing to out.
func tenant(ctx context.Context, cfg config, args []string, out io.Writer) error {
	cmd, name, contact, err := parseTenantArgs(args, out)
	if err != nil {
		return err
	}
	if cmd == "list" {
		entries, err := tenantkeys.List(cfg.TenantsFile)
		if err != nil {
			return err
		}
		for _, e := range entries {
			keys := strings.Join(e.AccessKeys, ",")
			if keys == "" {
				keys = "-"
			}
			fmt.Fprintf(out, "%s\tcontact=%s\taccess_keys=%s\n", e.Name, e.Contact, keys)
		}
		return nil
	}
	admin, err := tenantkeys.NewAdmin(cfg.S3, cfg.TenantsFile)
	if err != nil {
		return err
	}
	var key tenantkeys.Key
	switch cmd {
	case "add":
		key, err = admin.Add(ctx, name, contact)
	case "rotate":
		key, err = admin.Rotate(ctx, name)
	case "remove":
		if err = admin.Remove(ctx, name); err == nil {
			fmt.Fprintf(out, "removed the keys of %s; its record stays in %s, without a key\n", name, cfg.TenantsFile)
		}
		return err
	}
	// A key made is printed even when a later step failed (rotate: the
	// removal of the old key): the tenants file already names it, and its
	// secret is kept nowhere else.
	if key.AccessKey != "" {
		fmt.Fprintf(out, "access_key=%s\nsecret_key=%s\n", key.AccessKey, key.SecretKey)
	}
	return err
}

// parseTenantArgs reads a tenant command: its verb, the tenant's name, and
// for add the contact; flags may come before or after the name.
func parseTenantArgs(args []string, out io.Writer) (cmd, name, contact string, err error) {
	if len(args) == 0 {
		fmt.Fprintln(out, tenantUsage)
		return "", "", "", errors.New("tenant: a command is needed")
	}
	cmd = args[0]
	fs := flag.NewFlagSet("tenant "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, tenantUsage) }
	if cmd == "add" {
		fs.StringVar(&contact, "contact", "", "the address that receives the tenant's import emails")
	}
	names, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return "", "", "", err
	}
	want := 1
	switch cmd {
	case "list":
		want = 0
	case "add", "rotate", "remove":
	default:
		fmt.Fprintln(out, tenantUsage)
		return "", "", "", fmt.Errorf("tenant: unknown command %q", cmd)
	}
	if len(names) != want {
		fmt.Fprintln(out, tenantUsage)
		return "", "", "", fmt.Errorf("tenant %s: want %d name, got %d", cmd, want, len(names))
	}
	if cmd == "add" && contact == "" {
		return "", "", "", errors.New("tenant add: --contact is needed")
	}
	if want == 1 {
		name = names[0]
	}
	return cmd, name, contact, nil
}
