package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/schemas"
)

// Invitee is a user an import created, to be invited (seed 002: "an
// invitation will be sent to all new users to the specified email").
type Invitee struct {
	Login, Email, FirstName string
}

// invite emails every user the import created an invitation, once per user
// and import: a KV entry per invitation is created before it is sent (and
// removed again if sending fails, for the retry), so a redelivered event or
// a second notify instance sends none twice. Like every mail of sluice's,
// an invitation goes only to an address the tenant allows (its
// recipients): a file cannot make sluice mail anyone else.
func (s *Stage) invite(ctx context.Context, rec ImportRecord) error {
	if !rec.Invite || rec.Dataset != schemas.Users.Name {
		return nil
	}
	switch rec.Status {
	case schemas.StatusCompleted, schemas.StatusCompletedWithErrors, schemas.StatusCancelled:
	default:
		return nil // nobody was created
	}
	users, err := s.store.Created(ctx, schemas.Users, &rec.Import)
	if err != nil {
		return err
	}
	tenant := s.tenants.Current()[rec.Tenant]
	for _, u := range users {
		if !tenant.AllowsRecipient(u.Email) {
			if u.Email != "" {
				s.logger.Warn("notify: invitation not sent: the tenant does not allow the address", "import", rec.ID, "tenant", rec.Tenant)
			}
			continue
		}
		sum := sha256.Sum256([]byte(u.Login))
		key := "invite." + rec.ID + "." + hex.EncodeToString(sum[:12])
		if _, err := s.mailed.Create(key, []byte("sent")); errors.Is(err, nats.ErrKeyExists) {
			continue
		} else if err != nil {
			return fmt.Errorf("notify: invitation %s: %w", rec.ID, err)
		}
		if err := s.mailer.Send(ctx, Invitation(rec, u)); err != nil {
			if derr := s.mailed.Delete(key); derr != nil {
				err = errors.Join(err, derr)
			}
			return err
		}
	}
	return nil
}
