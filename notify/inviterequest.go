package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/schemas"
)

// inviteRequest is a request on schemas.SubjectInviteAccept: an
// invitation's token and the password its user chose.
type inviteRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// inviteReply answers an inviteRequest: the invitation's user, or why it
// was refused (Refused names one of inviteRefusals; Detail is the rule of
// the policy a refused password breaks), or Failed when it could not be done.
type inviteReply struct {
	Tenant  string `json:"tenant,omitempty"`
	Login   string `json:"login,omitempty"`
	Refused string `json:"refused,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Failed  bool   `json:"failed,omitempty"`
}

// inviteRefusals name the ErrInvite* on the wire.
var inviteRefusals = map[string]error{
	"unknown": ErrInviteUnknown, "used": ErrInviteUsed, "lapsed": ErrInviteLapsed,
	"not_pending": ErrInviteNotPending, "password": ErrInvitePassword,
}

// ErrInviteFailed: notify could not use the invitation (ClickHouse or NATS
// failed; its log says why); the link stays usable.
var ErrInviteFailed = errors.New("the password could not be set just now: try again in a few minutes")

// AnswerInvitations answers the requests to use an invitation
// (RequestAccept, the web console's set-password page) on nc until ctx
// ends, with iv.Accept and hash, as `sluice invite accept` does. Every
// notify instance answers, one of them each request (a queue group).
func AnswerInvitations(ctx context.Context, nc *nats.Conn, iv *Invitations, hash func(tenant, login, password string) string, logger *slog.Logger) error {
	sub, err := nc.QueueSubscribe(schemas.SubjectInviteAccept, schemas.StageNotify, func(m *nats.Msg) {
		var req inviteRequest
		reply := inviteReply{Failed: true}
		if err := json.Unmarshal(m.Data, &req); err == nil {
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			reply = answer(actx, iv, req, hash, logger)
			cancel()
		}
		b, _ := json.Marshal(reply)
		if err := m.Respond(b); err != nil {
			logger.Warn("notify: answer an invitation", "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("notify: invitations: %w", err)
	}
	<-ctx.Done()
	return sub.Unsubscribe()
}

// answer uses the invitation of req and says how it went.
func answer(ctx context.Context, iv *Invitations, req inviteRequest, hash func(tenant, login, password string) string, logger *slog.Logger) inviteReply {
	inv, err := iv.Accept(ctx, req.Token, req.Password, hash)
	reply := inviteReply{Tenant: inv.Tenant, Login: inv.Login}
	if err == nil {
		logger.Info("notify: invitation used: password set", "tenant", inv.Tenant, "login", inv.Login)
		return reply
	}
	for name, refusal := range inviteRefusals {
		if errors.Is(err, refusal) {
			reply.Refused = name
			if refusal == ErrInvitePassword {
				reply.Detail = strings.TrimPrefix(err.Error(), ErrInvitePassword.Error()+": ")
			}
			return reply
		}
	}
	logger.Error("notify: use an invitation", "tenant", inv.Tenant, "login", inv.Login, "err", err)
	reply.Failed = true
	return reply
}

// RequestAccept asks notify, on nc, to use the invitation of token to set
// its user's password (Invitations.Accept): it returns the tenant and
// login, or why it was refused (an ErrInvite*: ErrInvitePassword wraps the
// policy's rule), or ErrInviteFailed.
func RequestAccept(ctx context.Context, nc *nats.Conn, token, password string) (tenant, login string, err error) {
	b, err := json.Marshal(inviteRequest{Token: token, Password: password})
	if err != nil {
		return "", "", err
	}
	m, err := nc.RequestWithContext(ctx, schemas.SubjectInviteAccept, b)
	if err != nil {
		return "", "", fmt.Errorf("%w (%v)", ErrInviteFailed, err)
	}
	var reply inviteReply
	if err := json.Unmarshal(m.Data, &reply); err != nil {
		return "", "", fmt.Errorf("%w (%v)", ErrInviteFailed, err)
	}
	switch {
	case reply.Failed:
		return reply.Tenant, reply.Login, ErrInviteFailed
	case reply.Refused == "password":
		return reply.Tenant, reply.Login, fmt.Errorf("%w: %s", ErrInvitePassword, reply.Detail)
	case reply.Refused != "":
		if refusal, ok := inviteRefusals[reply.Refused]; ok {
			return reply.Tenant, reply.Login, refusal
		}
		return reply.Tenant, reply.Login, ErrInviteFailed
	}
	return reply.Tenant, reply.Login, nil
}
