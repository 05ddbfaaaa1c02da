package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/tenantkeys"
	"github.com/sluicehq/sluice/platform/warehouse"
)

// consoleUsage is `sluice console`'s usage.
const consoleUsage = `usage:
  sluice console                 the web console, at SLUICE_CONSOLE_ADDR (default 127.0.0.1:8080)
  sluice console user add (--tenant T | --operator) --role admin|viewer [--email ADDRESS] LOGIN
                                 creates (or replaces) an account; its password is the first line of stdin
An admin uploads, stops and continues imports; a viewer only looks; an operator's account sees every tenant.`

// runConsole serves the web console at cfg's console address until ctx
// ends: `sluice console`, and inside `sluice up` and the demo. It reads as
// the read-only ClickHouse user, and presigns uploads when it has MinIO's
// admin keys (else uploads are off).
func runConsole(ctx context.Context, cfg config, natsURL string, logger *slog.Logger) error {
	nc, accounts, sessions, err := connectConsole(cfg, natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	ch, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Reader)
	if err != nil {
		return err
	}
	defer ch.Close()
	ops, err := operate.Open(ctx, operate.Config{ClickHouse: cfg.ClickHouse, MaxReportRows: cfg.stages.notify.MaxReportRows,
		NATS: operate.Publisher{URL: natsURL, User: cfg.NATSUser, Password: cfg.NATSPassword}})
	if err != nil {
		return err
	}
	defer ops.Close()
	tenants, err := platform.OpenTenants(cfg.TenantsFile, logger)
	if err != nil {
		return err
	}
	go tenants.Watch(ctx)
	var uploads *console.Uploads
	if cfg.S3.AdminAccessKey != "" {
		admin, err := tenantkeys.NewAdmin(cfg.S3, cfg.TenantsFile)
		if err != nil {
			return err
		}
		browser := cfg.S3
		browser.Endpoint = cfg.consoleS3Endpoint
		uploads = console.NewUploads(admin, browser)
	} else {
		logger.Warn("console: uploads are off: SLUICE_S3_ADMIN_ACCESS_KEY and SLUICE_S3_ADMIN_SECRET_KEY are not set")
	}
	srv, err := console.New(console.Deps{Accounts: accounts, Sessions: sessions, Warehouse: ch, Database: cfg.ClickHouse.Database,
		Tenants: tenants.Current, Uploads: uploads, Ops: ops, Invites: notify.InviteRequests{NC: nc}, Logger: logger})
	if err != nil {
		return err
	}
	return srv.Run(ctx, cfg.consoleAddr)
}

// connectConsole connects to the NATS at natsURL as the console and opens
// its accounts and sessions; the caller closes the connection.
func connectConsole(cfg config, natsURL string) (*nats.Conn, *console.Accounts, *console.Sessions, error) {
	nc, err := bus.Connect(natsURL, "console", cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return nil, nil, nil, err
	}
	accounts, sessions, err := console.Open(nc)
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	return nc, accounts, sessions, nil
}

// consoleCommand runs `sluice console user add`, reading the password from
// in's first line.
func consoleCommand(_ context.Context, cfg config, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("console user add", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, consoleUsage) }
	tenant := fs.String("tenant", "", "the tenant whose data the account sees")
	operator := fs.Bool("operator", false, "an operator's account, which sees every tenant")
	role := fs.String("role", "", "admin (uploads, stops, continues) or viewer (looks)")
	email := fs.String("email", "", "the address the account's uploads name as their uploader (mailed the summary)")
	if len(args) < 2 || args[0] != "user" || args[1] != "add" {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*tenant == "") == !*operator {
		fs.Usage()
		return errors.New("console user add: one LOGIN, and either --tenant or --operator")
	}
	if *tenant != "" {
		ts, err := platform.LoadTenants(cfg.TenantsFile)
		if err != nil {
			return err
		}
		if _, ok := ts[*tenant]; !ok {
			return fmt.Errorf("console user add: %s has no tenant %q", cfg.TenantsFile, *tenant)
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("console user add: read the password: %w", err)
	}
	nc, accounts, _, err := connectConsole(cfg, cfg.NATSURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	a := console.Account{Login: fs.Arg(0), Tenant: *tenant, Role: *role, Email: *email}
	if err := accounts.Add(a, strings.TrimRight(line, "\r\n")); err != nil {
		return err
	}
	who := "every tenant (operator)"
	if *tenant != "" {
		who = *tenant
	}
	fmt.Fprintf(out, "console account %s: %s of %s\n", strings.ToLower(a.Login), a.Role, who)
	return nil
}
