package platform

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := NewSecrets(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("Welcome2024")
	if strings.Contains(sealed, "Welcome") || !strings.HasPrefix(sealed, sealedPrefix) {
		t.Fatalf("sealed = %q", sealed)
	}
	if again := s.Seal("Welcome2024"); again == sealed {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if plain, err := s.Open(sealed); err != nil || plain != "Welcome2024" {
		t.Errorf("Open = %q, %v", plain, err)
	}
	if s.Seal("") != "" {
		t.Error("an empty value must stay empty")
	}
	other, _ := NewSecrets(bytes.Repeat([]byte{8}, 32))
	for name, cell := range map[string]string{"plain": "Welcome2024", "other key": other.Seal("x"), "tampered": sealed[:len(sealed)-2] + "AA"} {
		if _, err := s.Open(cell); err != ErrNotSealed {
			t.Errorf("%s: Open err = %v, want ErrNotSealed", name, err)
		}
	}
	if !bytes.Equal(s.Salt("acme", "j.doe"), s.Salt("acme", "j.doe")) || bytes.Equal(s.Salt("acme", "j.doe"), s.Salt("acme", "j.doe2")) ||
		bytes.Equal(s.Salt("acme", "j.doe"), other.Salt("acme", "j.doe")) {
		t.Error("a salt must be the same for one tenant, record and key, and differ otherwise")
	}
}

func TestSecretKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "d", "secret.key")
	k1, err := SecretKey("", file)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := SecretKey("", file)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("the kept key changed: %x %x %v", k1, k2, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := SecretKey("", ""); err == nil {
		t.Error("no key and no file: want an error")
	}
	if _, err := SecretKey("abcd", file); err == nil {
		t.Error("a short key: want an error")
	}
}
