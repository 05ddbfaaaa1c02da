package ingest

import (
	"errors"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/platform"
)

// Why an upload is refused: the values of the reason label of
// sluice_ingest_refused_uploads_total.
const (
	// RefusedUnknownKey: no tenant's key put the object (MinIO's root key,
	// another MinIO user, a removed or rotated-out key, or none at all).
	RefusedUnknownKey = "unknown_key"
	// RefusedOtherTenant: a tenant's key put the object under another
	// tenant's prefix (or at the bucket's root).
	RefusedOtherTenant = "other_tenant"
)

// Refusal says why the object at key, put with the access key principal,
// is not to be imported, or "" when it may be: principal must be one of the
// access keys of the tenant the key's first segment names. It also returns
// the tenant principal belongs to ("" for none).
func Refusal(key, principal string, tenants platform.Tenants) (reason, owner string) {
	for name, t := range tenants {
		if principal != "" && slices.Contains(t.AccessKeys, principal) {
			owner = name
			break
		}
	}
	if owner == "" {
		return RefusedUnknownKey, ""
	}
	if prefix, _, _ := strings.Cut(key, "/"); prefix != owner {
		return RefusedOtherTenant, owner
	}
	return "", owner
}

// reloader is Tenants that can read its file again at once
// (platform.TenantsFile).
type reloader interface {
	Reload() error
}

// refusal is Refusal on the current tenants. An unknown key may be one
// `sluice tenant add` made a moment ago, before the tenants file was read
// again: the file is read once more before the key is called unknown.
func (s *Stage) refusal(ref ObjectRef) (reason, owner string) {
	reason, owner = Refusal(ref.Key, ref.Principal, s.tenants.Current())
	if r, ok := s.tenants.(reloader); ok && reason == RefusedUnknownKey {
		if err := r.Reload(); err == nil {
			reason, owner = Refusal(ref.Key, ref.Principal, s.tenants.Current())
		}
	}
	return reason, owner
}

// refuse keeps an upload Refusal refuses from being imported: it takes and
// closes its claim, so that neither a redelivery nor the bucket sync
// imports it later, and tells the operator (an error log line and
// sluice_ingest_refused_uploads_total).
func (s *Stage) refuse(ref ObjectRef, reason, owner string) error {
	claim, err := s.ledger.Claim(ref, "refused")
	if errors.Is(err, ErrClaimed) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.ledger.Done(claim); err != nil {
		return err
	}
	s.metrics.Refused.WithLabelValues(reason).Inc()
	s.logger.Error("ingest: upload refused, not imported: its key's tenant did not put it",
		"bucket", ref.Bucket, "key", ref.Key, "principal", ref.Principal, "principal_tenant", owner, "reason", reason)
	return nil
}
