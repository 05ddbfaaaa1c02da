package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/console"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
)

// newConsole starts an embedded NATS with the console's buckets, as
// `sluice migrate` makes them, and a console on it with two accounts of
// tenant acme: an admin and a viewer.
func newConsole(t *testing.T) (*httptest.Server, *console.Accounts) {
	t.Helper()
	ns, err := bus.StartNATS(-1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := nc.JetStream()
	if err := bus.EnsureStreams(js, 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	accounts, sessions, err := console.Open(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []console.Account{{Login: "Ann@acme", Tenant: "acme", Role: console.RoleAdmin}, {Login: "vic", Tenant: "acme", Role: console.RoleViewer}} {
		if err := accounts.Add(a, "Secret123"); err != nil {
			t.Fatal(err)
		}
	}
	tenants := platform.Tenants{"acme": {Contact: "a@acme.example"}}
	srv, err := console.New(console.Deps{Accounts: accounts, Sessions: sessions, Tenants: func() platform.Tenants { return tenants },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs, accounts
}

func TestAccountsHashAndCheckPasswords(t *testing.T) {
	_, accounts := newConsole(t)
	a, err := accounts.SignIn("ann@ACME", "Secret123")
	if err != nil || a.Tenant != "acme" || a.Role != console.RoleAdmin {
		t.Fatalf("sign-in: %+v, %v", a, err)
	}
	if !strings.HasPrefix(a.Hash, "$argon2id$") || strings.Contains(a.Hash, "Secret123") {
		t.Errorf("stored %q, want an argon2id hash", a.Hash)
	}
	for _, c := range [][2]string{{"ann@acme", "Secret124"}, {"nobody", "Secret123"}} {
		if _, err := accounts.SignIn(c[0], c[1]); err != console.ErrNoAccount {
			t.Errorf("sign-in %s/%s: %v, want ErrNoAccount", c[0], c[1], err)
		}
	}
	if err := accounts.Add(console.Account{Login: "weak", Tenant: "acme", Role: console.RoleAdmin}, "short"); err == nil {
		t.Error("a password the policy refuses was taken")
	}
	if err := accounts.Add(console.Account{Login: "x", Tenant: "acme", Role: "owner"}, "Secret123"); err == nil {
		t.Error("a role that is not admin or viewer was taken")
	}
}

// signIn signs in as login and returns a client with its session cookie and
// the CSRF token of its pages.
func signIn(t *testing.T, hs *httptest.Server, login string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(hs.URL+"/signin", url.Values{"login": {login}, "password": {"Secret123"}, "next": {"/templates"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/templates" {
		t.Fatalf("sign-in as %s: %s at %s", login, resp.Status, resp.Request.URL)
	}
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token in the page")
	}
	u, _ := url.Parse(hs.URL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "sluice_session" && ck.Value != "" {
			return c, string(m[1])
		}
	}
	t.Fatal("no session cookie")
	return nil, ""
}

func TestSessionsCookiesAndCSRF(t *testing.T) {
	hs, _ := newConsole(t)
	// Signed out: a page sends to sign-in, a POST is refused.
	resp, err := http.Get(hs.URL + "/templates")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/signin" {
		t.Errorf("signed out, /templates ends at %s, want /signin", resp.Request.URL)
	}
	// A wrong password: no session.
	resp, _ = http.PostForm(hs.URL+"/signin", url.Values{"login": {"ann@acme"}, "password": {"nope"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("wrong password: %s, cookies %v", resp.Status, resp.Cookies())
	}
	// The cookie is HttpOnly and SameSite.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ = noRedirect.PostForm(hs.URL+"/signin", url.Values{"login": {"ann@acme"}, "password": {"Secret123"}})
	resp.Body.Close()
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v, want one, HttpOnly, SameSite=Strict", cs)
	}

	admin, csrf := signIn(t, hs, "ann@acme")
	// A POST without the token, or with another, is refused; with it, it
	// goes through (signing out).
	for _, token := range []string{"", "forged"} {
		resp, _ := admin.PostForm(hs.URL+"/signout", url.Values{"csrf": {token}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out with CSRF token %q: %s, want 403", token, resp.Status)
		}
	}
	viewer, viewerCSRF := signIn(t, hs, "vic")
	// A viewer may not upload, even with its own token.
	resp, _ = viewer.PostForm(hs.URL+"/upload", url.Values{"csrf": {viewerCSRF}, "dataset": {"clients"}, "file": {"a.csv"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's upload: %s, want 403", resp.Status)
	}
	resp, _ = admin.PostForm(hs.URL+"/signout", url.Values{"csrf": {csrf}})
	resp.Body.Close()
	if resp.Request.URL.Path != "/signin" {
		t.Errorf("sign-out ends at %s", resp.Request.URL)
	}
	// The session is gone: the next page asks to sign in again.
	resp, _ = admin.Get(hs.URL + "/templates")
	resp.Body.Close()
	if resp.Request.URL.Path != "/signin" {
		t.Errorf("after sign-out, /templates ends at %s, want /signin", resp.Request.URL)
	}
}

// TestSignInThrottled: after five wrong passwords, a login may not sign
// in, even with its password, while another login still may.
func TestSignInThrottled(t *testing.T) {
	hs, _ := newConsole(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	try := func(login, password string) int {
		resp, err := noRedirect.PostForm(hs.URL+"/signin", url.Values{"login": {login}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 5 {
		if got := try("ann@acme", "Wrong1234"); got != http.StatusUnauthorized {
			t.Fatalf("a wrong password: %d, want 401", got)
		}
	}
	if got := try("ANN@acme", "Secret123"); got != http.StatusTooManyRequests {
		t.Errorf("the right password after five wrong ones: %d, want 429", got)
	}
	if got := try("vic", "Secret123"); got != http.StatusSeeOther {
		t.Errorf("another login: %d, want 303 (signed in)", got)
	}
}
