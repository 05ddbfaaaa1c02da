package console

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/schemas"
)

// The roles of seed 001: an admin may upload, stop and continue; a viewer
// only looks.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// Account is a console account. One with no tenant is an operator's, which
// sees every tenant.
type Account struct {
	Login   string    `json:"login"`
	Tenant  string    `json:"tenant,omitempty"`
	Role    string    `json:"role"`
	Email   string    `json:"email,omitempty"` // the uploader its uploads name, if any
	Hash    string    `json:"hash"`            // argon2id, PHC string (platform.HashSecret)
	Created time.Time `json:"created"`
}

// Operator reports whether the account sees every tenant.
func (a Account) Operator() bool { return a.Tenant == "" }

// Acts reports whether the account may upload, stop and continue.
func (a Account) Acts() bool { return a.Role == RoleAdmin }

// Sees reports whether the account may see tenant's data.
func (a Account) Sees(tenant string) bool { return a.Operator() || a.Tenant == tenant }

// Accounts are the console's accounts, in the KV bucket bus.AccountsBucket.
type Accounts struct {
	kv nats.KeyValue
}

// Open opens the console's accounts and sessions, in their KV buckets on
// nc's JetStream (`sluice migrate` creates them).
func Open(nc *nats.Conn) (*Accounts, *Sessions, error) {
	js, err := nc.JetStream()
	if err != nil {
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	accounts, err := js.KeyValue(accountsBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("console: accounts: %w", err)
	}
	sessions, err := js.KeyValue(sessionsBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("console: sessions: %w", err)
	}
	return &Accounts{kv: accounts}, &Sessions{kv: sessions}, nil
}

// ErrNoAccount says there is no such account, or the password is not its.
var ErrNoAccount = errors.New("no such login, or not its password")

// Add creates the account a with password (its hash is computed here), or
// replaces the one with its login. The password follows seed 002's default
// policy.
func (s *Accounts) Add(a Account, password string) error {
	switch {
	case a.Login == "" || len(a.Login) > 50 || !schemas.IsLogin(a.Login):
		return fmt.Errorf("console: login %q: 1 to 50 Latin letters, digits and / \\ _ . - @", a.Login)
	case a.Role != RoleAdmin && a.Role != RoleViewer:
		return fmt.Errorf("console: role %q: admin or viewer", a.Role)
	case a.Tenant != "" && !platform.ValidTenantName(a.Tenant):
		return fmt.Errorf("console: %q is not a tenant name", a.Tenant)
	}
	if v := schemas.DefaultPasswordPolicy.Check(password); v != nil {
		return fmt.Errorf("console: password: %s (%s)", v.Message, schemas.DefaultPasswordPolicy)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	a.Login = strings.ToLower(a.Login)
	a.Hash, a.Created = platform.HashSecret(password, salt), time.Now().UTC().Truncate(time.Second)
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(accountKey(a.Login), b); err != nil {
		return fmt.Errorf("console: accounts: %w", err)
	}
	return nil
}

// Get returns the account of login.
func (s *Accounts) Get(login string) (Account, error) {
	_, a, err := bus.GetJSON[Account](s.kv, accountKey(strings.ToLower(login)))
	if errors.Is(err, nats.ErrKeyNotFound) {
		return Account{}, ErrNoAccount
	}
	if err != nil {
		return Account{}, fmt.Errorf("console: accounts: %w", err)
	}
	return a, nil
}

// dummyHash is checked against when a login has no account, so that a
// sign-in takes as long whether the login exists or not.
var dummyHash = platform.HashSecret("no account has this password 0", make([]byte, 16))

// SignIn returns the account of login if password is its; ErrNoAccount
// otherwise, the same whether the login or the password is wrong.
func (s *Accounts) SignIn(login, password string) (Account, error) {
	a, err := s.Get(login)
	if errors.Is(err, ErrNoAccount) {
		platform.VerifySecret(dummyHash, password)
		return Account{}, ErrNoAccount
	}
	if err != nil {
		return Account{}, err
	}
	if !platform.VerifySecret(a.Hash, password) {
		return Account{}, ErrNoAccount
	}
	return a, nil
}

// accountKey is the KV key of login: its hex, as a login may hold
// characters a key may not (@, \).
func accountKey(login string) string { return hex.EncodeToString([]byte(login)) }
