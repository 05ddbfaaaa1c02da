package platform

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Secrets keeps the cells of secret fields (passwords) from ever resting in
// plain text: ingest seals them (AES-256-GCM) before they enter a stream,
// validate opens them to check them, transform opens them to hash them. It
// also salts those hashes: the salt of a record's secret is derived from the
// key, the tenant and the record's key, so that the same password hashes the
// same for the same user (a re-upload leaves the user unchanged, a
// redelivered chunk writes the same record) and differently for any other.
//
// Every stage that handles secrets must have the same key
// (SLUICE_SECRET_KEY). A sealed cell names the key that sealed it, so a key
// is rotated without losing the cells in flight: the stages first accept
// the new key as the previous one (SLUICE_SECRET_KEY_PREVIOUS), then seal
// with it and accept the old one, then drop the old one once the streams
// hold none of its cells. After a rotation a re-uploaded password hashes
// with a new salt: its user counts as updated once.
type Secrets struct {
	sealer *sealer
	// openers are the keys a sealed cell may name: the sealer's, and the
	// previous key while one is rotated.
	openers map[string]*sealer
	salt    []byte
}

// sealer is one key: its id, which its sealed cells carry, and its cipher.
type sealer struct {
	id   string
	aead cipher.AEAD
}

// sealedPrefix marks a sealed cell (and its format's version): the key's id
// follows, then a colon and the sealed value.
const sealedPrefix = "sealed2:"

// NewSecrets builds Secrets that seal with key (32 bytes) and open what key
// or one of previous sealed.
func NewSecrets(key []byte, previous ...[]byte) (*Secrets, error) {
	s := &Secrets{openers: map[string]*sealer{}, salt: derive(key, "salt")}
	for i, k := range append([][]byte{key}, previous...) {
		sl, err := newSealer(k)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.sealer = sl
		}
		s.openers[sl.id] = sl
	}
	return s, nil
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: a key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(derive(key, "seal"))
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &sealer{id: hex.EncodeToString(derive(key, "id")[:4]), aead: aead}, nil
}

// derive gives each use of the key a key of its own.
func derive(key []byte, use string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sluice " + use))
	return m.Sum(nil)
}

// KeyID is the id of the key that seals: what its sealed cells name.
func (s *Secrets) KeyID() string { return s.sealer.id }

// Seal returns the sealed form of a plain value ("" stays "", so that an
// empty cell is still seen as empty).
func (s *Secrets) Seal(plain string) string {
	if plain == "" {
		return ""
	}
	aead := s.sealer.aead
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return sealedPrefix + s.sealer.id + ":" + base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), nil))
}

// ErrNotSealed is a secret cell that Seal did not make, or that a key these
// Secrets do not have sealed.
var ErrNotSealed = errors.New("secrets: the cell is not sealed with a key of this stage")

// Open returns the plain value of a sealed one.
func (s *Secrets) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", ErrNotSealed
	}
	id, b64, _ := strings.Cut(rest, ":")
	sl := s.openers[id]
	if sl == nil {
		return "", ErrNotSealed
	}
	data, err := base64.RawStdEncoding.DecodeString(b64)
	n := sl.aead.NonceSize()
	if err != nil || len(data) < n {
		return "", ErrNotSealed
	}
	plain, err := sl.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return "", ErrNotSealed
	}
	return string(plain), nil
}

// Salt returns the 16-byte salt of the secret of one record of a tenant.
func (s *Secrets) Salt(tenant, key string) []byte {
	m := hmac.New(sha256.New, s.salt)
	m.Write([]byte(tenant + "\x00" + key))
	return m.Sum(nil)[:16]
}

// HashPassword is the stored form of a password a tenant's record (its
// key) is given other than by a file: as transform stores an imported one,
// argon2id (HashSecret) with the record's Salt. An invitation's new
// password (notify.Invitations.Accept) is stored so.
func (s *Secrets) HashPassword(tenant, key, password string) string {
	return HashSecret(password, s.Salt(tenant, key))
}

// DemoSecretKey is the demo's secret key. It is published, so nothing but
// the demo may use it.
const DemoSecretKey = "de3000de3000de3000de3000de3000de3000de3000de3000de3000de3000de30"

// publishedKeys are keys anyone can read: the demo's, and the fallback
// docker-compose.yml once had.
var publishedKeys = []string{DemoSecretKey, "00000000000000000000000000000000000000000000000000000000000000aa"}

// LoadSecrets builds Secrets from the key that seals (SLUICE_SECRET_KEY)
// and the previous key still accepted while it is rotated
// (SLUICE_SECRET_KEY_PREVIOUS, "" when none), each 64 hexadecimal digits.
// It refuses no key, and a published key unless demo is set.
func LoadSecrets(hexKey, hexPrevious string, demo bool) (*Secrets, error) {
	if hexKey == "" {
		return nil, errors.New("secrets: set SLUICE_SECRET_KEY (64 hexadecimal digits), the same for every stage; " +
			"make one with: openssl rand -hex 32")
	}
	key, err := parseKey("SLUICE_SECRET_KEY", hexKey, demo)
	if err != nil {
		return nil, err
	}
	if hexPrevious == "" {
		return NewSecrets(key)
	}
	previous, err := parseKey("SLUICE_SECRET_KEY_PREVIOUS", hexPrevious, demo)
	if err != nil {
		return nil, err
	}
	return NewSecrets(key, previous)
}

// parseKey reads the key in variable name: 64 hexadecimal digits, and not
// a published key unless demo is set.
func parseKey(name, h string, demo bool) ([]byte, error) {
	if !demo && slices.Contains(publishedKeys, strings.ToLower(h)) {
		return nil, fmt.Errorf("secrets: %s is a published key (the demo's); make one with: openssl rand -hex 32", name)
	}
	key, err := hex.DecodeString(h)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("secrets: %s must be 64 hexadecimal digits", name)
	}
	return key, nil
}

// NewSecretKey returns a new random key in hex, as SLUICE_SECRET_KEY takes
// it.
func NewSecretKey() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand does not fail on supported platforms
	return hex.EncodeToString(key)
}
