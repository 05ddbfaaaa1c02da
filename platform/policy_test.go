package platform_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// TestTenantPolicy: the tenants file's recipients and upload options are
// read and checked, and an upload may set mode and on-error only unless its
// tenant lists more.
func TestTenantPolicy(t *testing.T) {
	load := func(t *testing.T, body string) (platform.Tenants, error) {
		path := filepath.Join(t.TempDir(), "tenants.json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return platform.LoadTenants(path)
	}
	ts, err := load(t, `{"acme": {"contact": "ops@acme.example", "recipients": ["acme.example", "audit@partner.example"],
		"upload_options": ["mode", "invite", "assign-groups"]}, "plain": {"contact": "it@plain.example"}}`)
	if err != nil {
		t.Fatal(err)
	}
	acme, plain := ts["acme"], ts["plain"]
	for option, want := range map[string]bool{schemas.OptionMode: true, schemas.OptionInvite: true, schemas.OptionAssignGroups: true,
		schemas.OptionOnError: false, schemas.OptionMirrorUser: false, schemas.OptionPreview: false} {
		if got := acme.AllowsOption(option); got != want {
			t.Errorf("acme allows %s: %v, want %v", option, got, want)
		}
	}
	for option, want := range map[string]bool{schemas.OptionMode: true, schemas.OptionOnError: true, schemas.OptionInvite: false,
		schemas.OptionAssignGroups: false, schemas.OptionMirrorUser: false, schemas.OptionPreview: true} {
		if got := plain.AllowsOption(option); got != want {
			t.Errorf("a tenant that lists no options allows %s: %v, want %v", option, got, want)
		}
	}
	if !plain.AllowsRecipient("IT@plain.example") || plain.AllowsRecipient("x@plain.example") {
		t.Error("a tenant with no recipients: want its contact only")
	}
	for _, tc := range []struct{ name, body, want string }{
		{"bad recipient", `{"a": {"recipients": ["not an address"]}}`, `recipient "not an address"`},
		{"unknown option", `{"a": {"upload_options": ["grant-admin"]}}`, `upload option "grant-admin"`},
		{"contact not an address", `{"a": {"contact": "ops@x.example\nBcc: y@z"}}`, `contact "ops@x.example\nBcc: y@z" is not an address`},
		{"one key, two tenants", `{"a": {"access_keys": ["K1"]}, "b": {"access_keys": ["K2", "K1"]}}`, `access key K1 is both a's and b's`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := load(t, tc.body); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadTenants = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
