package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// What an invitation is: pending until it is used (accepted) or lapses
// (expired), as its user.
const (
	invitePending  = schemas.UserPending
	inviteAccepted = "accepted"
	inviteExpired  = schemas.UserExpired
)

// Why `sluice invite accept` (and the console's set-password page) refuses
// a token.
var (
	ErrInviteUnknown = errors.New("this invitation link is not known: check that it was copied whole")
	ErrInviteUsed    = errors.New("this invitation was used already: sign in with the password set then")
	ErrInviteLapsed  = errors.New("this invitation has lapsed: ask your administrator for a new password")
	// ErrInviteNotPending: the user was changed by a file meanwhile (given
	// a password, blocked): the invitation no longer applies.
	ErrInviteNotPending = errors.New("this user no longer waits for a password: ask your administrator")
	// ErrInvitePassword wraps the rule of the tenant's password policy
	// that the password breaks; the invitation stays usable.
	ErrInvitePassword = errors.New("the password does not follow your company's policy")
)

// DefaultInviteTTL is how long an invitation link may be used (seed 001's
// pending until the user sets a password, then expired).
const DefaultInviteTTL = 7 * 24 * time.Hour

// Invite is an invitation's entry in bus.InvitesBucket, under the SHA-256
// of its token: the token itself is only in the mail.
type Invite struct {
	Tenant  string    `json:"tenant"`
	Login   string    `json:"login"`
	Expires time.Time `json:"expires"`
	// State is pending, accepted or expired.
	State string `json:"state"`
}

// Users is what invitations need of ClickHouse: the users' records.
type Users interface {
	// SetStatus writes a new version of the tenant's user if its status is
	// from: with status to, and passwordHash as its password unless empty.
	// It reports whether it did.
	SetStatus(ctx context.Context, tenant, login, from, to, passwordHash string) (bool, error)
}

// Invitations are the one-time links by which a user created without a
// password (pending) sets one and becomes active, or, once the link lapses,
// becomes expired (seed 001). A token is 256 random bits, mailed once and
// stored only as its SHA-256 (bus.InvitesBucket), usable once (its entry
// changes state by compare-and-set, so two uses cannot both win) and until
// it lapses. A change of the user's status is a new version of their record
// (Users.SetStatus): the stages' ClickHouse users may not run mutations.
type Invitations struct {
	kv      nats.KeyValue
	users   Users
	tenants platform.TenantSource
	ttl     time.Duration
	now     func() time.Time
}

// NewInvitations opens the invitations of kv (bus.InvitesBucket) over the
// users' records; new ones last ttl (0: DefaultInviteTTL). now is the clock
// (nil: time.Now).
func NewInvitations(kv nats.KeyValue, users Users, tenants platform.TenantSource, ttl time.Duration, now func() time.Time) *Invitations {
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Invitations{kv: kv, users: users, tenants: tenants, ttl: ttl, now: now}
}

// tokenKey is a token's key in the bucket: its SHA-256, in hex.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Issue makes a new invitation for the tenant's user and returns its token
// and when it lapses.
func (iv *Invitations) Issue(tenant, login string) (token string, expires time.Time, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	inv := Invite{Tenant: tenant, Login: login, Expires: iv.now().Add(iv.ttl).UTC().Truncate(time.Second), State: invitePending}
	v, err := json.Marshal(inv)
	if err != nil {
		return "", time.Time{}, err
	}
	if _, err := iv.kv.Create(tokenKey(token), v); err != nil {
		return "", time.Time{}, fmt.Errorf("notify: invitation: %w", err)
	}
	return token, inv.Expires, nil
}

// withdraw removes an invitation that was never mailed.
func (iv *Invitations) withdraw(token string) error {
	return iv.kv.Delete(tokenKey(token))
}

// get reads a token's invitation.
func (iv *Invitations) get(key string) (nats.KeyValueEntry, Invite, error) {
	e, inv, err := bus.GetJSON[Invite](iv.kv, key)
	if errors.Is(err, nats.ErrKeyNotFound) {
		return nil, Invite{}, ErrInviteUnknown
	}
	if err != nil {
		return nil, Invite{}, fmt.Errorf("notify: invitation: %w", err)
	}
	return e, inv, nil
}

// put sets an invitation's state, if its entry is still at revision rev.
func (iv *Invitations) put(key string, inv Invite, state string, rev uint64) (uint64, error) {
	inv.State = state
	v, err := json.Marshal(inv)
	if err != nil {
		return 0, err
	}
	return iv.kv.Update(key, v, rev)
}

// Accept uses the invitation of token to set its user's password: it
// checks it against the tenant's password policy, stores hash(tenant,
// login, password) (the argon2id hash transform stores) and makes the user
// active. It returns the invitation, or why it is refused (ErrInvite*). A
// lapsed invitation is refused, and its user made expired at once.
func (iv *Invitations) Accept(ctx context.Context, token, password string, hash func(tenant, login, password string) string) (Invite, error) {
	key := tokenKey(token)
	e, inv, err := iv.usable(ctx, key)
	if err != nil {
		return inv, err
	}
	policy := schemas.DefaultPasswordPolicy
	if p := iv.tenants.Current()[inv.Tenant].Password; p != nil {
		policy = *p
	}
	if bad := policy.Check(password); bad != nil {
		return inv, fmt.Errorf("%w: %s", ErrInvitePassword, bad.Message)
	}
	rev, err := iv.put(key, inv, inviteAccepted, e.Revision())
	if errors.Is(err, nats.ErrKeyExists) || errors.Is(err, nats.ErrKeyRevisionMismatch) {
		return inv, ErrInviteUsed // another use won
	}
	if err != nil {
		return inv, fmt.Errorf("notify: invitation: %w", err)
	}
	done, err := iv.users.SetStatus(ctx, inv.Tenant, inv.Login, schemas.UserPending, schemas.UserActive, hash(inv.Tenant, inv.Login, password))
	if err != nil {
		// Let it be used again: the password was not stored.
		if _, uerr := iv.put(key, inv, invitePending, rev); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return inv, err
	}
	if !done {
		return inv, ErrInviteNotPending
	}
	return inv, nil
}

// Check returns the invitation of token if it may be used, or why not, as
// Accept would refuse it before looking at a password (the console's
// /invite page, before it shows its form).
func (iv *Invitations) Check(ctx context.Context, token string) (Invite, error) {
	_, inv, err := iv.usable(ctx, tokenKey(token))
	return inv, err
}

// usable reads the invitation of key, and refuses one that was used or
// lapsed; a lapsed one's user is made expired at once.
func (iv *Invitations) usable(ctx context.Context, key string) (nats.KeyValueEntry, Invite, error) {
	e, inv, err := iv.get(key)
	if err != nil {
		return nil, Invite{}, err
	}
	switch {
	case inv.State == inviteAccepted:
		return e, inv, ErrInviteUsed
	case inv.State == inviteExpired:
		return e, inv, ErrInviteLapsed
	case !iv.now().Before(inv.Expires):
		if _, err := iv.lapse(ctx, key, e.Revision(), inv); err != nil {
			return e, inv, err
		}
		return e, inv, ErrInviteLapsed
	}
	return e, inv, nil
}

// ExpireLapsed makes the users of every pending invitation that has lapsed
// expired, and the invitations too, and returns how many users it expired.
// notify runs it every minute; it is safe to run it from several instances
// at once.
func (iv *Invitations) ExpireLapsed(ctx context.Context) (int, error) {
	w, err := iv.kv.WatchAll(nats.IgnoreDeletes(), nats.Context(ctx))
	if err != nil {
		return 0, fmt.Errorf("notify: invitations: %w", err)
	}
	type lapsed struct {
		key string
		rev uint64
		inv Invite
	}
	var found []lapsed
	for e := range w.Updates() {
		if e == nil {
			break // every current entry seen
		}
		var inv Invite
		if err := json.Unmarshal(e.Value(), &inv); err == nil && inv.State == invitePending && !iv.now().Before(inv.Expires) {
			found = append(found, lapsed{e.Key(), e.Revision(), inv})
		}
	}
	if err := w.Stop(); err != nil {
		return 0, fmt.Errorf("notify: invitations: %w", err)
	}
	expired := 0
	for _, l := range found {
		done, err := iv.lapse(ctx, l.key, l.rev, l.inv)
		if err != nil {
			return expired, err
		}
		if done {
			expired++
		}
	}
	return expired, nil
}

// lapse makes a lapsed invitation's user expired, if still pending, then
// the invitation: in that order, so that a failure leaves it to the next
// round. Another worker doing the same meanwhile changes nothing. It
// reports whether it expired the user.
func (iv *Invitations) lapse(ctx context.Context, key string, rev uint64, inv Invite) (bool, error) {
	done, err := iv.users.SetStatus(ctx, inv.Tenant, inv.Login, schemas.UserPending, schemas.UserExpired, "")
	if err != nil {
		return false, err
	}
	_, err = iv.put(key, inv, inviteExpired, rev)
	if err != nil && !errors.Is(err, nats.ErrKeyExists) && !errors.Is(err, nats.ErrKeyRevisionMismatch) {
		return done, fmt.Errorf("notify: invitation: %w", err)
	}
	return done, nil
}
