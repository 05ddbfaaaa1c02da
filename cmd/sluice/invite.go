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

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// inviteUsage is `sluice invite`'s usage.
const inviteUsage = `usage: sluice invite accept [--password <password>] <token or link>

Sets the password of a user created without one, from the one-time
invitation mailed to them (the token is the last part of its link,
.../invite/<token>), and makes the user active. The password is read from
the first line of standard input unless --password gives it (which other
users of the machine may see). It must follow the company's password policy;
it is stored only as its argon2id hash, as an imported password is. A link
works once, and not after it lapses (SLUICE_INVITE_TTL): the user is then
expired.

The web console's page of the link (/invite/<token>) does the same,
through notify. It acts for notify, whose invitations they are: run it with notify's NATS
user (SLUICE_NATS_USER) and ClickHouse user (SLUICE_CLICKHOUSE_NOTIFY_*), the
tenants file, and the SLUICE_SECRET_KEY of the stages that hash passwords.`

// inviteArgs are `sluice invite accept`'s arguments.
type inviteArgs struct {
	token    string
	password string
}

func parseInviteArgs(args []string, out io.Writer) (inviteArgs, error) {
	var a inviteArgs
	fs := flag.NewFlagSet("invite accept", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, inviteUsage) }
	fs.StringVar(&a.password, "password", "", "the new password (default: the first line of standard input)")
	switch {
	case len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fs.Usage()
		return a, flag.ErrHelp
	case args[0] != "accept":
		return a, fmt.Errorf("invite: unknown command %q\n%s", args[0], inviteUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return a, err
	}
	if fs.NArg() != 1 {
		return a, fmt.Errorf("invite accept: want one token\n%s", inviteUsage)
	}
	// The whole link will do too.
	a.token = fs.Arg(0)
	if _, token, ok := strings.Cut(a.token, "/invite/"); ok {
		a.token = token
	}
	return a, nil
}

// invite runs `sluice invite accept`: the password comes from --password or
// in's first line.
func invite(ctx context.Context, cfg config, args []string, in io.Reader, out io.Writer) error {
	a, err := parseInviteArgs(args, out)
	if err != nil {
		return err
	}
	if a.password == "" {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("invite: read the password: %w", err)
		}
		a.password = strings.TrimRight(line, "\r\n")
	}
	secrets, err := platform.LoadSecrets(cfg.SecretKey, cfg.SecretKeyPrevious, false)
	if err != nil {
		return err
	}
	tenants, err := platform.OpenTenants(cfg.TenantsFile, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	nc, err := bus.Connect(cfg.NATSURL, schemas.StageNotify, cfg.NATSUser, cfg.NATSPassword)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	kv, err := js.KeyValue(bus.InvitesBucket)
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	ch, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Notify)
	if err != nil {
		return err
	}
	defer ch.Close()
	iv := notify.NewInvitations(kv, &notify.ClickHouse{Conn: ch, Database: cfg.ClickHouse.Database}, tenants, cfg.stages.notify.InviteTTL, nil)
	inv, err := iv.Accept(ctx, a.token, a.password, secrets.HashPassword)
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	fmt.Fprintf(out, "The password of %s at %s is set: they may sign in.\n", inv.Login, inv.Tenant)
	return nil
}
