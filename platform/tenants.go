package platform

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// DefaultMaxRows is the row limit of a file when the tenant sets none (seed
// 004: "no more than 5000 records per file").
const DefaultMaxRows = 5000

// DefaultMaxBytes is the size limit of a file when the tenant sets none:
// far above what 5000 rows take, far below what would strain a stage.
const DefaultMaxBytes = 50 << 20

// Tenant is one partner company: the first segment of an object key.
type Tenant struct {
	// Contact receives the import emails when an upload names no uploader.
	Contact string `json:"contact"`
	// MaxRows is the most data rows a file may have.
	MaxRows int `json:"max_rows"`
	// MaxBytes is the largest file the tenant may upload.
	MaxBytes int64 `json:"max_bytes"`
	// Mode is the tenant's import mode when an upload names none:
	// "update" (the default), "create" (schemas.ModeCreate) or "sync"
	// (schemas.ModeSync: every file is the tenant's whole dataset).
	Mode string `json:"mode"`
	// SyncLimitPercent is the most of the tenant's active records of a
	// dataset one sync may deactivate, in percent (DefaultSyncLimitPercent
	// when 0); a sync that would deactivate more deactivates none, unless
	// its upload forces it (X-Amz-Meta-Force, an option the tenant must
	// allow).
	SyncLimitPercent int `json:"sync_limit_percent,omitempty"`
	// Region is the country (ISO 3166 alpha-2) whose phone numbers a file
	// may write without a country code (DefaultRegion).
	Region string `json:"region"`
	// Password is the tenant's password policy (schemas.DefaultPasswordPolicy
	// when absent).
	Password *schemas.PasswordPolicy `json:"password,omitempty"`
	// OnError is what an import with rejected rows does when an upload
	// says nothing: "continue" (the default) or "abort".
	OnError string `json:"on_error,omitempty"`
	// Invite: users the tenant's imports create are emailed an invitation,
	// unless an upload says otherwise.
	Invite bool `json:"invite,omitempty"`
	// Preview: the tenant's imports decide every row and load none until
	// they are confirmed (schemas.Import.Preview), unless an upload says
	// otherwise.
	Preview bool `json:"preview,omitempty"`
	// AccessKeys are the tenant's MinIO access keys (`sluice tenant add`):
	// ingest imports an object under the tenant's prefix only when one of
	// them put it.
	AccessKeys []string `json:"access_keys,omitempty"`
	// Recipients are the addresses (ops@acme.example) and domains
	// (acme.example) an upload may name as its uploader: only those are
	// mailed. Any other uploader's mail goes to Contact.
	Recipients []string `json:"recipients,omitempty"`
	// UploadOptions are the options an upload's metadata may set
	// (schemas.Option*); DefaultUploadOptions when absent. Invitations
	// and permissions (assign-groups, mirror-user) are refused unless
	// listed.
	UploadOptions []string `json:"upload_options,omitempty"`
}

// DefaultUploadOptions are the options an upload may set when its tenant
// lists none: those that change how a file loads (a preview loads
// nothing), not who is mailed or what a user may do.
var DefaultUploadOptions = []string{schemas.OptionMode, schemas.OptionOnError, schemas.OptionPreview}

// AllowsRecipient reports whether the tenant's mail may go to addr: its
// contact, or one of its Recipients (an address, or the domain after the
// @), whatever the case.
func (t Tenant) AllowsRecipient(addr string) bool {
	addr = strings.ToLower(addr)
	if addr == "" {
		return false
	}
	if addr == strings.ToLower(t.Contact) {
		return true
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, r := range t.Recipients {
		if r = strings.ToLower(r); r == addr || r == domain {
			return true
		}
	}
	return false
}

// AllowsOption reports whether an upload of the tenant may set option.
func (t Tenant) AllowsOption(option string) bool {
	allowed := t.UploadOptions
	if allowed == nil {
		allowed = DefaultUploadOptions
	}
	return slices.Contains(allowed, option)
}

// DefaultSyncLimitPercent is a tenant's SyncLimitPercent when it sets
// none.
const DefaultSyncLimitPercent = 10

// SyncLimit is the tenant's SyncLimitPercent, or the default.
func (t Tenant) SyncLimit() int { return cmp.Or(t.SyncLimitPercent, DefaultSyncLimitPercent) }

// DefaultRegion is the phone region of a tenant that sets none: seed 002's
// forms (+7..., 7..., 8...) are Russian numbers.
const DefaultRegion = "RU"

// Tenants are the configured tenants, by name.
type Tenants map[string]Tenant

var tenantNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidTenantName reports whether name may name a tenant: lower-case
// letters, digits, _ and -.
func ValidTenantName(name string) bool { return tenantNameRe.MatchString(name) }

// LoadTenants reads the tenants file (deploy/tenants.json).
func LoadTenants(path string) (Tenants, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return parseTenants(path, data)
}

// parseTenants reads the content of the tenants file at path.
func parseTenants(path string, data []byte) (Tenants, error) {
	var ts Tenants
	if err := json.Unmarshal(data, &ts); err != nil {
		return nil, fmt.Errorf("tenants: %s: %w", path, err)
	}
	for name, t := range ts {
		if !ValidTenantName(name) {
			return nil, fmt.Errorf("tenants: %q is not a valid tenant name (lower-case letters, digits, _ and -)", name)
		}
		if t.MaxRows == 0 {
			t.MaxRows = DefaultMaxRows
		}
		if t.MaxBytes == 0 {
			t.MaxBytes = DefaultMaxBytes
		}
		if t.Mode == "" {
			t.Mode = schemas.ModeUpdate
		}
		if !schemas.ValidMode(t.Mode) || t.Mode == schemas.ModeRemove {
			return nil, fmt.Errorf("tenants: %s: mode %q is not create, update or sync", name, t.Mode)
		}
		if t.SyncLimitPercent < 0 || t.SyncLimitPercent > 100 {
			return nil, fmt.Errorf("tenants: %s: sync_limit_percent %d is not between 1 and 100", name, t.SyncLimitPercent)
		}
		if t.OnError == "" {
			t.OnError = schemas.OnErrorContinue
		}
		if !schemas.ValidOnError(t.OnError) {
			return nil, fmt.Errorf("tenants: %s: on_error %q is not continue or abort", name, t.OnError)
		}
		if t.Region == "" {
			t.Region = DefaultRegion
		}
		if !schemas.ValidRegion(t.Region) {
			return nil, fmt.Errorf("tenants: %s: region %q is not a country code (ISO 3166 alpha-2, like RU or US)", name, t.Region)
		}
		if t.Password == nil {
			p := schemas.DefaultPasswordPolicy
			t.Password = &p
		}
		if p := t.Password; p.MinLen < 1 || p.MaxLen < p.MinLen {
			return nil, fmt.Errorf("tenants: %s: password min_len must be at least 1 and max_len at least min_len", name)
		}
		if err := checkPolicy(name, t); err != nil {
			return nil, err
		}
		if t.MaxRows < 0 || t.MaxBytes < 0 {
			return nil, fmt.Errorf("tenants: %s: max_rows and max_bytes must be positive", name)
		}
		ts[name] = t
	}
	return ts, checkKeys(ts)
}

// checkKeys checks that no access key is two tenants': ingest finds an
// upload's tenant by its key.
func checkKeys(ts Tenants) error {
	owner := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		for _, k := range ts[name].AccessKeys {
			if other, ok := owner[k]; ok {
				return fmt.Errorf("tenants: access key %s is both %s's and %s's", k, other, name)
			}
			owner[k] = name
		}
	}
	return nil
}

// checkPolicy checks the tenant's contact (an address), recipients
// (addresses or domains) and upload options (known names).
func checkPolicy(name string, t Tenant) error {
	if t.Contact != "" && !schemas.IsEmail(t.Contact) {
		return fmt.Errorf("tenants: %s: contact %q is not an address", name, t.Contact)
	}
	for _, r := range t.Recipients {
		if !schemas.IsEmail(r) && !schemas.IsEmail("x@"+r) {
			return fmt.Errorf("tenants: %s: recipient %q is neither an address nor a domain", name, r)
		}
	}
	for _, o := range t.UploadOptions {
		if !slices.Contains(schemas.Options, o) {
			return fmt.Errorf("tenants: %s: upload option %q is not one of %s", name, o, strings.Join(schemas.Options, ", "))
		}
	}
	return nil
}
