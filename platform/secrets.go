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
	"os"
	"path/filepath"
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
// (SLUICE_SECRET_KEY); `sluice up` keeps one in its data folder.
type Secrets struct {
	aead cipher.AEAD
	salt []byte
}

// sealedPrefix marks a sealed cell (and its format's version).
const sealedPrefix = "sealed1:"

// NewSecrets builds Secrets from a 32-byte key.
func NewSecrets(key []byte) (*Secrets, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: the key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(derive(key, "seal"))
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Secrets{aead: aead, salt: derive(key, "salt")}, nil
}

// derive gives each use of the key a key of its own.
func derive(key []byte, use string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sluice " + use))
	return m.Sum(nil)
}

// Seal returns the sealed form of a plain value ("" stays "", so that an
// empty cell is still seen as empty).
func (s *Secrets) Seal(plain string) string {
	if plain == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), nil))
}

// ErrNotSealed is a secret cell that Seal did not make, or that another key
// sealed.
var ErrNotSealed = errors.New("secrets: the cell is not sealed with this key")

// Open returns the plain value of a sealed one.
func (s *Secrets) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b64, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", ErrNotSealed
	}
	data, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(data) < s.aead.NonceSize() {
		return "", ErrNotSealed
	}
	plain, err := s.aead.Open(nil, data[:s.aead.NonceSize()], data[s.aead.NonceSize():], nil)
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

// SecretKey returns the key in hex (SLUICE_SECRET_KEY) or, when hex is empty
// and file is not, the key kept in file, made on first use.
func SecretKey(hexKey, file string) ([]byte, error) {
	if hexKey != "" {
		key, err := hex.DecodeString(hexKey)
		if err != nil || len(key) != 32 {
			return nil, errors.New("secrets: SLUICE_SECRET_KEY must be 64 hexadecimal digits")
		}
		return key, nil
	}
	if file == "" {
		return nil, errors.New("secrets: set SLUICE_SECRET_KEY (64 hexadecimal digits), the same for every stage")
	}
	if data, err := os.ReadFile(file); err == nil {
		return SecretKey(strings.TrimSpace(string(data)), "")
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if err := os.WriteFile(file, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return key, nil
}
