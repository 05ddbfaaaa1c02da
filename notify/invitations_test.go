package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// addUser writes a user record of tenant acme as load would, with the
// given login and status, at version 1.
func addUser(t *testing.T, ch *parts.ClickHouse, login, status string) {
	t.Helper()
	ctx := context.Background()
	batch, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO sluice.users ("+joinCols(warehouse.DatasetColumns(schemas.Users))+")")
	if err != nil {
		t.Fatal(err)
	}
	cells := make([]string, len(schemas.Users.Fields))
	cells[schemas.Users.Index("login")], cells[schemas.Users.Index("email")] = login, login+"@acme.example"
	cells[schemas.Users.Index("status")] = status
	values := []any{"acme"}
	for i, f := range schemas.Users.Fields {
		if f.Kind == schemas.Bool {
			cells[i] = "0"
			values = append(values, uint8(0))
			continue
		}
		values = append(values, cells[i])
	}
	values = append(values, schemas.RowHash(cells), "imp-1", uint32(2), uint64(1), time.Now().UTC())
	if err := batch.Append(values...); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

func joinCols(cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += c
	}
	return out
}

// userState reads a user's latest status, password hash, and whether its
// row_hash is the hash of its cells.
func userState(t *testing.T, ch *parts.ClickHouse, login string) (status, hash string, hashed bool) {
	t.Helper()
	cols := ""
	for _, f := range schemas.Users.Fields {
		cols += ", toString(" + f.Column + ")"
	}
	cells := make([]string, len(schemas.Users.Fields))
	var rowHash uint64
	dest := []any{&rowHash}
	for i := range cells {
		dest = append(dest, &cells[i])
	}
	row := ch.Conn.QueryRow(context.Background(), "SELECT row_hash"+cols+" FROM sluice.users FINAL WHERE tenant = 'acme' AND login = ?", login)
	if err := row.Scan(dest...); err != nil {
		t.Fatalf("user %s: %v", login, err)
	}
	return cells[schemas.Users.Index("status")], cells[schemas.Users.Index("password")], rowHash == schemas.RowHash(cells)
}

// TestInvitations, on a real NATS and a real ClickHouse: a token is stored
// only as its hash; accepting it checks the tenant's password policy (a
// refused password leaves it usable), stores the hash and makes the user
// active in a new version of the record; a second use, an unknown token, a
// lapsed one (the user made expired at once) and one whose user a file
// changed meanwhile are refused; and the sweep makes the users of lapsed
// invitations expired, once. The console's requests (InviteRequests,
// AnswerInvitations) check a token and carry a refusal back as the same
// error.
func TestInvitations(t *testing.T) {
	ch, stop, err := parts.NewClickHouse(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	_, nc := testkit.NATS(t)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(bus.InvitesBucket)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := &notify.ClickHouse{Conn: ch.Notify, Database: "sluice"}
	strict := schemas.PasswordPolicy{MinLen: 10, MaxLen: 100, Digit: true, Letter: true, Upper: true}
	tenants := platform.Tenants{"acme": {Password: &strict}}
	now := time.Now()
	iv := notify.NewInvitations(kv, store, tenants, time.Hour, func() time.Time { return now })
	hash := func(tenant, login, password string) string {
		return "hash(" + tenant + "," + login + "," + password + ")"
	}
	for login, status := range map[string]string{"ann": "pending", "bob": "pending", "cy": "pending", "dan": "pending"} {
		addUser(t, ch, login, status)
	}

	token, expires, err := iv.Issue("acme", "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 22 || !expires.Equal(now.Add(time.Hour).UTC().Truncate(time.Second)) {
		t.Errorf("token %q (%d characters, want 128 bits or more), expires %v", token, len(token), expires)
	}
	if _, err := kv.Get(token); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Errorf("the token itself is a key of the bucket: %v", err)
	}
	// The console's requests (InviteRequests), answered as notify answers
	// them: a check, then a password the policy refuses, with its rule.
	answering, stopAnswering := context.WithCancel(ctx)
	defer stopAnswering()
	go notify.AnswerInvitations(answering, nc, iv, hash, slog.New(slog.DiscardHandler))
	requests := notify.InviteRequests{NC: nc}
	if err := parts.WaitFor(ctx, 5*time.Second, func() (bool, error) {
		login, err := requests.Check(ctx, token)
		return login == "ann" && err == nil, nil
	}); err != nil {
		t.Errorf("check a usable token: no answer with ann: %v", err)
	}
	if _, err := requests.Accept(ctx, token, "welcome2024"); !errors.Is(err, notify.ErrInvitePassword) || err.Error() == notify.ErrInvitePassword.Error() {
		t.Errorf("a password the policy refuses: %v, want %v with its rule", err, notify.ErrInvitePassword)
	}
	if status, _, _ := userState(t, ch, "ann"); status != schemas.UserPending {
		t.Errorf("ann after a refused password: %s, want pending", status)
	}
	inv, err := iv.Accept(ctx, token, "Welcome2024x", hash)
	if err != nil || inv.Login != "ann" || inv.Tenant != "acme" {
		t.Fatalf("accept: %+v, %v", inv, err)
	}
	if status, h, hashed := userState(t, ch, "ann"); status != schemas.UserActive || h != hash("acme", "ann", "Welcome2024x") || !hashed {
		t.Errorf("ann after accepting: %s, hash %q, row_hash of its cells %v; want active with the hash", status, h, hashed)
	}
	if _, err := iv.Accept(ctx, token, "Another2024x", hash); !errors.Is(err, notify.ErrInviteUsed) {
		t.Errorf("a second use: %v, want %v", err, notify.ErrInviteUsed)
	}
	if _, err := requests.Check(ctx, token); !errors.Is(err, notify.ErrInviteUsed) {
		t.Errorf("check a used token: %v, want %v", err, notify.ErrInviteUsed)
	}
	if _, h, _ := userState(t, ch, "ann"); h != hash("acme", "ann", "Welcome2024x") {
		t.Errorf("the second use changed the password: %q", h)
	}
	if _, err := iv.Accept(ctx, token+"x", "Welcome2024x", hash); !errors.Is(err, notify.ErrInviteUnknown) {
		t.Errorf("an unknown token: %v, want %v", err, notify.ErrInviteUnknown)
	}

	// Lapsed: refused by accept (cy), or found by the sweep (bob).
	bob, _, err := iv.Issue("acme", "bob")
	if err != nil {
		t.Fatal(err)
	}
	cy, _, err := iv.Issue("acme", "cy")
	if err != nil {
		t.Fatal(err)
	}
	dan, _, err := iv.Issue("acme", "dan")
	if err != nil {
		t.Fatal(err)
	}
	later := notify.NewInvitations(kv, store, tenants, time.Hour, func() time.Time { return now.Add(time.Hour) })
	if _, err := later.Accept(ctx, cy, "Welcome2024x", hash); !errors.Is(err, notify.ErrInviteLapsed) {
		t.Errorf("a lapsed token: %v, want %v", err, notify.ErrInviteLapsed)
	}
	if status, h, _ := userState(t, ch, "cy"); status != schemas.UserExpired || h != "" {
		t.Errorf("cy after a lapsed accept: %s %q, want expired with no password", status, h)
	}
	// dan was blocked by a file meanwhile: not pending, so not expired.
	if _, err := store.SetStatus(ctx, "acme", "dan", schemas.UserPending, "blocked", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := iv.Accept(ctx, dan, "Welcome2024x", hash); !errors.Is(err, notify.ErrInviteNotPending) {
		t.Errorf("dan's token, dan blocked: %v, want %v", err, notify.ErrInviteNotPending)
	}
	if n, err := later.ExpireLapsed(ctx); err != nil || n != 1 {
		t.Fatalf("the sweep expired %d users (%v), want 1: bob", n, err)
	}
	if status, _, hashed := userState(t, ch, "bob"); status != schemas.UserExpired || !hashed {
		t.Errorf("bob after the sweep: %s (row_hash of its cells %v), want expired", status, hashed)
	}
	if status, _, _ := userState(t, ch, "dan"); status != "blocked" {
		t.Errorf("dan after the sweep: %s, want blocked as the file left it", status)
	}
	if status, _, _ := userState(t, ch, "ann"); status != schemas.UserActive {
		t.Errorf("ann after the sweep: %s, want active (her invitation was used)", status)
	}
	if _, err := later.Accept(ctx, bob, "Welcome2024x", hash); !errors.Is(err, notify.ErrInviteLapsed) {
		t.Errorf("bob's lapsed token after the sweep: %v, want %v", err, notify.ErrInviteLapsed)
	}
	var versions uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.users WHERE tenant = 'acme' AND login = 'bob'").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if n, err := later.ExpireLapsed(ctx); err != nil || n != 0 {
		t.Fatalf("the sweep again expired %d users (%v), want none", n, err)
	}
	var again uint64
	if err := ch.Conn.QueryRow(ctx, "SELECT count() FROM sluice.users WHERE tenant = 'acme' AND login = 'bob'").Scan(&again); err != nil {
		t.Fatal(err)
	}
	if versions != 2 || again != versions {
		t.Errorf("bob's versions: %d after the sweep, %d after another; want 2 and no more", versions, again)
	}
}
