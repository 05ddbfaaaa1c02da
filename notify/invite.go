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
	// Status is the user's: pending when they were created without a
	// password, which their invitation lets them set.
	Status string
}

// needsInvite reports whether u is invited: every user the import created
// when it asks for invitations, and whatever it asks, a user with no
// password (pending), who could never sign in otherwise.
func needsInvite(rec ImportRecord, u Invitee) bool {
	return rec.Invite || u.Status == schemas.UserPending
}

// invitees lists the users the import created who are to be invited (see
// needsInvite), and those of them whose address the tenant does not let
// sluice mail (not invited: the summary says so).
func (s *Stage) invitees(ctx context.Context, rec ImportRecord) (invite, refused []Invitee, err error) {
	if rec.Dataset != schemas.Users.Name {
		return nil, nil, nil
	}
	switch rec.Status {
	case schemas.StatusCompleted, schemas.StatusCompletedWithErrors, schemas.StatusCancelled:
	default:
		return nil, nil, nil // nobody was created
	}
	users, err := s.store.Created(ctx, schemas.Users, &rec.Import)
	if err != nil {
		return nil, nil, err
	}
	tenant := s.tenants.Current()[rec.Tenant]
	for _, u := range users {
		switch {
		case !needsInvite(rec, u):
		case tenant.AllowsRecipient(u.Email):
			invite = append(invite, u)
		default:
			refused = append(refused, u)
		}
	}
	return invite, refused, nil
}

// invite emails every user the import created who is to be invited an
// invitation (needsInvite), once per user and import: a KV entry per
// invitation is created before it is sent (and removed again if sending
// fails, for the retry), so a redelivered event or a second notify
// instance sends none twice. Like every mail of sluice's, an invitation
// goes only to an address the tenant allows (its recipients): a file cannot
// make sluice mail anyone else; the summary names those not invited. A
// pending user's invitation carries a one-time link to set a password
// (Invitations).
func (s *Stage) invite(ctx context.Context, rec ImportRecord) error {
	users, refused, err := s.invitees(ctx, rec)
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		s.logger.Warn("notify: invitations not sent: the tenant does not allow the addresses", "import", rec.ID, "tenant", rec.Tenant, "users", len(refused))
	}
	for _, u := range users {
		sum := sha256.Sum256([]byte(u.Login))
		key := "invite." + rec.ID + "." + hex.EncodeToString(sum[:12])
		if _, err := s.mailed.Create(key, []byte("sent")); errors.Is(err, nats.ErrKeyExists) {
			continue
		} else if err != nil {
			return fmt.Errorf("notify: invitation %s: %w", rec.ID, err)
		}
		if err := s.sendInvitation(ctx, rec, u); err != nil {
			if derr := s.mailed.Delete(key); derr != nil {
				err = errors.Join(err, derr)
			}
			return err
		}
	}
	return nil
}

// sendInvitation mails u their invitation; a pending user's carries a new
// one-time link, withdrawn if the mail is not sent.
func (s *Stage) sendInvitation(ctx context.Context, rec ImportRecord, u Invitee) error {
	if u.Status != schemas.UserPending {
		return s.send(ctx, mailInvitation, Invitation(rec, u, nil))
	}
	token, expires, err := s.invites.Issue(rec.Tenant, u.Login)
	if err != nil {
		return err
	}
	err = s.send(ctx, mailInvitation, Invitation(rec, u, &InviteLink{Console: s.cfg.ConsoleURL, Token: token, Expires: expires}))
	if err != nil {
		if werr := s.invites.withdraw(token); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	return err
}
