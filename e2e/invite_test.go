package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/notify"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// inviteLink finds the set-password link of the invitation to tenant
// mailed to addr (to the stack's console), and returns its token.
func inviteLink(t *testing.T, tenant, addr string) string {
	t.Helper()
	link := regexp.MustCompile(regexp.QuoteMeta(stack.console) + `/invite/([A-Za-z0-9_-]{43})\s`)
	var token string
	err := parts.WaitFor(context.Background(), 30*time.Second, func() (bool, error) {
		for _, m := range testkit.Messages(t, stack.mail, addr) {
			if got := link.FindStringSubmatch(m.Text); strings.Contains(m.Subject, "You are invited to "+tenant) && got != nil {
				if !strings.Contains(m.Text, "sluice invite accept "+got[1]) {
					t.Errorf("the invitation to %s does not give the command:\n%s", addr, m.Text)
				}
				token = got[1]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no invitation with a link to %s: %v; mails: %+v", addr, err, testkit.Messages(t, stack.mail, addr))
	}
	return token
}

// acceptInvite runs the built `sluice invite accept TOKEN` on the stack,
// with the password on its standard input, and returns what it printed and
// its error.
func acceptInvite(t *testing.T, token, password string) (string, error) {
	t.Helper()
	cmd := exec.Command(stack.bin, "invite", "accept", token)
	cmd.Env = stack.cmdEnv
	cmd.Stdin = strings.NewReader(password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// userStatus reads a tenant's user's latest status and password hash.
func userStatus(t *testing.T, tenant, login string) (status, hash string) {
	t.Helper()
	err := stack.ch.Conn.QueryRow(context.Background(), "SELECT status, password_hash FROM sluice.users FINAL WHERE tenant = ? AND login = ?", tenant, login).
		Scan(&status, &hash)
	if err != nil {
		t.Fatalf("user %s: %v", login, err)
	}
	return status, hash
}

// verifies reports whether an argon2id hash as transform stores it
// ($argon2id$v=19$m=..,t=..,p=..$salt$key) is the hash of password:
// transform hashes it again with the stored salt.
func verifies(t *testing.T, hash, password string) bool {
	t.Helper()
	fields := strings.Split(hash, "$")
	if len(fields) != 6 || fields[1] != "argon2id" {
		t.Fatalf("%q is no argon2id hash", hash)
	}
	salt, err := base64.RawStdEncoding.DecodeString(fields[4])
	if err != nil {
		t.Fatal(err)
	}
	return platform.HashSecret(password, salt) == hash
}

// TestSeed001Invitations: a file of seed 001's template (first name, last
// name, email) creates its users pending, each with the email as login, and
// invites them whatever the upload's invite option says, but only at an
// address the tenant allows (the summary names the other). The
// invitation's link, used through the built `sluice invite accept`, sets a
// password the policy allows (one it does not is refused and leaves the
// link usable) and makes the user active with an argon2id hash of it; a
// second use is refused. A link that lapsed (SLUICE_INVITE_TTL, 30 s here)
// is refused, and its user is expired.
func TestSeed001Invitations(t *testing.T) {
	t.Parallel()
	const who = "hr@initech.example"
	body := "firstName,lastName,email\n" +
		"Nina,Newman,Nina.Newman@initech.example\n" +
		"Otto,Olsen,otto.olsen@initech.example\n" +
		"Pia,Outside,pia@elsewhere.example\n"
	i := uploadWith(t, "initech/users/seed-001.csv", []byte(body), map[string]string{"uploader": who})
	if want := (schemas.Counts{Rows: 3, Created: 3}); i.Status != schemas.StatusCompleted || i.Counts != want {
		t.Fatalf("got %s %+v, want completed %+v", i.Status, i.Counts, want)
	}
	for _, login := range []string{"nina.newman@initech.example", "otto.olsen@initech.example", "pia@elsewhere.example"} {
		if status, hash := userStatus(t, "initech", login); status != schemas.UserPending || hash != "" {
			t.Errorf("%s: %s with hash %q, want pending with none", login, status, hash)
		}
	}
	nina, otto := inviteLink(t, "initech", "nina.newman@initech.example"), inviteLink(t, "initech", "otto.olsen@initech.example")
	var summary string
	for _, m := range testkit.Messages(t, stack.mail, who) {
		if strings.Contains(m.Subject, "seed-001.csv") {
			summary = m.Text
		}
	}
	if !strings.Contains(summary, "1 new user was not invited") || !strings.Contains(summary, "pia@elsewhere.example") {
		t.Errorf("the summary does not name the user not invited:\n%s", summary)
	}
	if n := len(testkit.Messages(t, stack.mail, "pia@elsewhere.example")); n != 0 {
		t.Errorf("%d mails to an address initech does not allow", n)
	}

	if out, err := acceptInvite(t, nina, "short1"); err == nil || !strings.Contains(out, notify.ErrInvitePassword.Error()) {
		t.Errorf("a password the policy refuses: %v\n%s", err, out)
	}
	if out, err := acceptInvite(t, nina, "Welcome2026"); err != nil || !strings.Contains(out, "nina.newman@initech.example") {
		t.Fatalf("invite accept: %v\n%s", err, out)
	}
	status, hash := userStatus(t, "initech", "nina.newman@initech.example")
	if status != schemas.UserActive || !verifies(t, hash, "Welcome2026") {
		t.Errorf("nina after accepting: %s, hash %q; want active with the hash of her password", status, hash)
	}
	if out, err := acceptInvite(t, nina, "Another2026"); err == nil || !strings.Contains(out, notify.ErrInviteUsed.Error()) {
		t.Errorf("a second use: %v\n%s", err, out)
	}
	if _, again := userStatus(t, "initech", "nina.newman@initech.example"); again != hash {
		t.Errorf("the second use changed the password hash")
	}

	// Otto waits until his link lapses.
	time.Sleep(inviteTTL + time.Second)
	if out, err := acceptInvite(t, otto, "Welcome2026"); err == nil || !strings.Contains(out, notify.ErrInviteLapsed.Error()) {
		t.Errorf("a lapsed link: %v\n%s", err, out)
	}
	if status, hash := userStatus(t, "initech", "otto.olsen@initech.example"); status != schemas.UserExpired || hash != "" {
		t.Errorf("otto after his link lapsed: %s, hash %q; want expired with none", status, hash)
	}
	if status, _ := userStatus(t, "initech", "nina.newman@initech.example"); status != schemas.UserActive {
		t.Errorf("nina after her link lapsed: %s, want active still", status)
	}
}

// TestConsoleInvitation: the link mailed to a user created without a
// password opens the console's set-password page, without signing in. With
// the keyboard only, a password the policy refuses is refused and the link
// stays usable; a good one makes the user active with its hash; the link
// then says it was used. A POST without the form's CSRF cookie is refused.
func TestConsoleInvitation(t *testing.T) {
	t.Parallel()
	browser := newBrowser(t) // before the upload: the link lasts 30 s here
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	const login = "nora@welcome.example"
	i := uploadWith(t, "welcome/users/new.csv", []byte("firstName,lastName,email\nNora,New,"+login+"\n"), nil)
	if i.Status != schemas.StatusCompleted || i.Counts.Created != 1 {
		t.Fatalf("got %s %+v, want one user created", i.Status, i.Counts)
	}
	link := stack.console + "/invite/" + inviteLink(t, "welcome", login)

	if resp, err := http.PostForm(link, url.Values{"password": {"Welcome2026"}, "repeat": {"Welcome2026"}}); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a POST without the form's cookie: %v %v, want 403", resp, err)
	}
	setPassword := func(password string) {
		t.Helper()
		// The new password has the focus; Tab goes to the repeat.
		do(t, ctx, chromedp.KeyEvent(password), chromedp.KeyEvent("\t"), chromedp.KeyEvent(password))
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent("\r"))); err != nil {
			t.Fatal(err)
		}
	}
	do(t, ctx, chromedp.Navigate(link))
	checkPage(t, ctx, "invite")
	setPassword("short1")
	if got := text(t, ctx, "main"); !strings.Contains(strings.ToLower(got), notify.ErrInvitePassword.Error()) {
		t.Errorf("a password the policy refuses: the page says %q", got)
	}
	checkPage(t, ctx, "invite-refused")
	if status, hash := userStatus(t, "welcome", login); status != schemas.UserPending || hash != "" {
		t.Errorf("after a refused password: %s, hash %q; want pending with none", status, hash)
	}
	setPassword("Welcome2026")
	if got := text(t, ctx, "main"); !strings.Contains(got, "Your password is set") {
		t.Errorf("a good password: the page says %q", got)
	}
	if status, hash := userStatus(t, "welcome", login); status != schemas.UserActive || !verifies(t, hash, "Welcome2026") {
		t.Errorf("after setting the password: %s, hash %q; want active with the hash of it", status, hash)
	}
	if status := navigateStatus(t, ctx, strings.TrimPrefix(link, stack.console)); status != http.StatusGone {
		t.Errorf("the link again: %d, want 410", status)
	}
	if got := text(t, ctx, "main"); !strings.Contains(strings.ToLower(got), notify.ErrInviteUsed.Error()) {
		t.Errorf("the link again: the page says %q", got)
	}
}
