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
// invitation's token and the password its user chose, or with Check, only
// whether it may be used (Invitations.Check).
type inviteRequest struct {
	Token    string `json:"token"`
	Password string `json:"password,omitempty"`
	Check    bool   `json:"check,omitempty"`
}

// inviteReply answers an inviteRequest: the invitation's login, or why it
// was refused (Refused names one of inviteRefusals; Detail is the rule of
// the policy a refused password breaks), or Failed when it could not be done.
type inviteReply struct {
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

// answerTimeout bounds the use of an invitation (a hash, a ClickHouse
// write); a request waits a little longer for its answer.
const answerTimeout = 30 * time.Second

// AnswerInvitations answers the requests to use an invitation
// (InviteRequests, the web console's set-password page) on nc until ctx
// ends, with iv.Accept and hash, as `sluice invite accept` does. Every
// notify instance answers, one of them each request (a queue group).
func AnswerInvitations(ctx context.Context, nc *nats.Conn, iv *Invitations, hash func(tenant, login, password string) string, logger *slog.Logger) error {
	sub, err := nc.QueueSubscribe(schemas.SubjectInviteAccept, schemas.StageNotify, func(m *nats.Msg) {
		var req inviteRequest
		reply := inviteReply{Failed: true}
		if err := json.Unmarshal(m.Data, &req); err == nil {
			actx, cancel := context.WithTimeout(ctx, answerTimeout)
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
	var inv Invite
	var err error
	if req.Check {
		inv, err = iv.Check(ctx, req.Token)
	} else {
		inv, err = iv.Accept(ctx, req.Token, req.Password, hash)
	}
	reply := inviteReply{Login: inv.Login}
	if err == nil {
		if !req.Check {
			logger.Info("notify: invitation used: password set", "tenant", inv.Tenant, "login", inv.Login)
		}
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

// InviteRequests ask notify, on NC, about invitations: what the console
// does, with the console's NATS user, which may only send these requests
// (deploy/nats.conf).
type InviteRequests struct{ NC *nats.Conn }

// Check asks whether the invitation of token may be used
// (Invitations.Check): it returns its login, or why not (an ErrInvite*),
// or ErrInviteFailed.
func (r InviteRequests) Check(ctx context.Context, token string) (login string, err error) {
	return r.request(ctx, inviteRequest{Token: token, Check: true})
}

// Accept asks notify to use the invitation of token to set its user's
// password (Invitations.Accept): it returns the login, or why it was
// refused (an ErrInvite*: ErrInvitePassword wraps the policy's rule), or
// ErrInviteFailed.
func (r InviteRequests) Accept(ctx context.Context, token, password string) (login string, err error) {
	return r.request(ctx, inviteRequest{Token: token, Password: password})
}

func (r InviteRequests) request(ctx context.Context, req inviteRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, answerTimeout+5*time.Second)
	defer cancel()
	m, err := r.NC.RequestWithContext(ctx, schemas.SubjectInviteAccept, b)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrInviteFailed, err)
	}
	var reply inviteReply
	if err := json.Unmarshal(m.Data, &reply); err != nil {
		return "", fmt.Errorf("%w (%v)", ErrInviteFailed, err)
	}
	switch {
	case reply.Failed:
		return reply.Login, ErrInviteFailed
	case reply.Refused == "password":
		return reply.Login, fmt.Errorf("%w: %s", ErrInvitePassword, reply.Detail)
	case reply.Refused != "":
		if refusal, ok := inviteRefusals[reply.Refused]; ok {
			return reply.Login, refusal
		}
		return reply.Login, ErrInviteFailed
	}
	return reply.Login, nil
}
