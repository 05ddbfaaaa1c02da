package platform

import (
	"bytes"
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

// TestRotation: a cell names its key; Secrets with the previous key open
// what it sealed while sealing with the new one, and Secrets without it do
// not.
func TestRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	before, _ := NewSecrets(oldKey)
	during, err := NewSecrets(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := NewSecrets(newKey)
	sealedOld, sealedNew := before.Seal("Welcome2024"), during.Seal("Welcome2024")
	if !strings.HasPrefix(sealedOld, sealedPrefix+before.KeyID()+":") || !strings.HasPrefix(sealedNew, sealedPrefix+after.KeyID()+":") ||
		before.KeyID() == after.KeyID() {
		t.Fatalf("sealed cells %q and %q do not name their keys (%s, %s)", sealedOld, sealedNew, before.KeyID(), after.KeyID())
	}
	for name, tc := range map[string]struct {
		s    *Secrets
		cell string
		ok   bool
	}{
		"during, an old cell":         {during, sealedOld, true},
		"during, a new cell":          {during, sealedNew, true},
		"after, a new cell":           {after, sealedNew, true},
		"after, an old cell":          {after, sealedOld, false},
		"before, a new cell":          {before, sealedNew, false},
		"a cell naming the other key": {during, strings.Replace(sealedOld, before.KeyID(), after.KeyID(), 1), false},
	} {
		plain, err := tc.s.Open(tc.cell)
		if tc.ok && (err != nil || plain != "Welcome2024") || !tc.ok && err != ErrNotSealed {
			t.Errorf("%s: Open = %q, %v", name, plain, err)
		}
	}
}

func TestLoadSecrets(t *testing.T) {
	good, previous := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	s, err := LoadSecrets(good, previous, false)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := LoadSecrets(previous, "", false)
	if p, err := s.Open(old.Seal("x")); err != nil || p != "x" {
		t.Errorf("the previous key's cell: Open = %q, %v", p, err)
	}
	for _, tc := range []struct {
		name, key, previous string
		demo                bool
		want                string
	}{
		{name: "no key", want: "set SLUICE_SECRET_KEY"},
		{name: "the demo's key", key: DemoSecretKey, want: "published"},
		{name: "the old compose fallback", key: strings.Repeat("0", 62) + "AA", want: "published"},
		{name: "the demo's key as the previous", key: good, previous: DemoSecretKey, want: "SLUICE_SECRET_KEY_PREVIOUS is a published key"},
		{name: "short", key: "abcd", want: "64 hexadecimal digits"},
		{name: "not hex", key: strings.Repeat("zz", 32), want: "64 hexadecimal digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadSecrets(tc.key, tc.previous, tc.demo); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadSecrets = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := LoadSecrets(DemoSecretKey, "", true); err != nil {
		t.Errorf("the demo with its key: %v", err)
	}
}
