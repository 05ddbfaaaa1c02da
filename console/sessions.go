package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
)

const (
	accountsBucket = bus.AccountsBucket
	sessionsBucket = bus.SessionsBucket
)

// session is one sign-in: whose it is, and the CSRF token every POST of
// its pages carries.
type session struct {
	Login string `json:"login"`
	CSRF  string `json:"csrf"`
}

// Sessions are the sign-ins, in the KV bucket bus.SessionsBucket, keyed by
// the SHA-256 of their cookie; the bucket drops each bus.SessionTTL after it
// began.
type Sessions struct {
	kv nats.KeyValue
}

// errNoSession says a cookie names no live session.
var errNoSession = errors.New("no such session")

// Start begins a session for login and returns its cookie's value.
func (s *Sessions) Start(login string) (string, error) {
	token := randomToken()
	b, _ := json.Marshal(session{Login: login, CSRF: randomToken()})
	if _, err := s.kv.Create(sessionKey(token), b); err != nil {
		return "", fmt.Errorf("console: sessions: %w", err)
	}
	return token, nil
}

// Get returns the session whose cookie is token.
func (s *Sessions) Get(token string) (session, error) {
	if token == "" {
		return session{}, errNoSession
	}
	_, ss, err := bus.GetJSON[session](s.kv, sessionKey(token))
	if errors.Is(err, nats.ErrKeyNotFound) {
		return session{}, errNoSession
	}
	if err != nil {
		return session{}, fmt.Errorf("console: sessions: %w", err)
	}
	return ss, nil
}

// End ends the session whose cookie is token.
func (s *Sessions) End(token string) error {
	if err := s.kv.Delete(sessionKey(token)); err != nil && !errors.Is(err, nats.ErrKeyNotFound) {
		return fmt.Errorf("console: sessions: %w", err)
	}
	return nil
}

func sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on a supported platform
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
