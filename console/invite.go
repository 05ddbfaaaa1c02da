package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/notify"
)

// Invitations are what the set-password page asks of notify, which owns
// the invitations (notify.InviteRequests): the console never reads them
// nor writes a user.
type Invitations interface {
	Check(ctx context.Context, token string) (login string, err error)
	Accept(ctx context.Context, token, password string) (login string, err error)
}

// inviteCookie holds the set-password form's CSRF token (double submit:
// the form carries it too). The page is used before any sign-in, so no
// session holds it.
const inviteCookie = "sluice_invite"

// refusals are the invitations' refusals the page shows as they are: in
// the user's words; after them the form is gone (the link is of no use).
var refusals = []error{notify.ErrInviteUnknown, notify.ErrInviteUsed, notify.ErrInviteLapsed, notify.ErrInviteNotPending}

// invitePage shows the set-password form of an invitation's link
// (/invite/<token>, mailed by notify), or why the link is of no use.
func (s *Server) invitePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token := r.PathValue("token")
	login, err := s.invites.Check(r.Context(), token)
	if s.refused(w, err) {
		return
	}
	s.inviteForm(w, r, http.StatusOK, token, login, nil)
}

// setPassword sets the password of an invitation's user, through notify.
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token, password := r.PathValue("token"), r.PostFormValue("password")
	c, err := r.Cookie(inviteCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		http.Error(w, "this form has expired: load the page again", http.StatusForbidden)
		return
	}
	if password != r.PostFormValue("repeat") {
		s.inviteForm(w, r, http.StatusUnprocessableEntity, token, "", errors.New("the two passwords differ: type the same one twice"))
		return
	}
	login, err := s.invites.Accept(r.Context(), token, password)
	if s.refused(w, err) {
		return
	}
	if err != nil {
		// A password the policy refuses, or notify could not: the link
		// stays usable.
		if !errors.Is(err, notify.ErrInvitePassword) && !errors.Is(err, notify.ErrInviteFailed) {
			s.fail(w, err)
			return
		}
		s.inviteForm(w, r, http.StatusUnprocessableEntity, token, login, err)
		return
	}
	s.render(w, http.StatusOK, "invite", nil, map[string]any{"Login": login, "Done": true})
}

// refused shows why an invitation is of no use, and reports whether it
// did.
func (s *Server) refused(w http.ResponseWriter, err error) bool {
	for _, refusal := range refusals {
		if errors.Is(err, refusal) {
			s.render(w, http.StatusGone, "invite", nil, map[string]any{"Refused": sentence(err)})
			return true
		}
	}
	return false
}

// inviteForm shows the form, with why the last try failed (problem), and a
// new CSRF token in its cookie and in the form.
func (s *Server) inviteForm(w http.ResponseWriter, r *http.Request, status int, token, login string, problem error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		s.fail(w, err)
		return
	}
	csrf := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: inviteCookie, Value: csrf, Path: "/invite/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode})
	data := map[string]any{"Token": token, "Login": login, "FormCSRF": csrf}
	if problem != nil {
		data["Error"] = sentence(problem)
	}
	s.render(w, status, "invite", nil, data)
}

// sentence is an error's message as a sentence: capitalised, with a full
// stop.
func sentence(err error) string {
	m := err.Error()
	if m == "" {
		return m
	}
	return strings.ToUpper(m[:1]) + m[1:] + "."
}
