package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/platform"
)

//go:embed pages/*.html
var pageFiles embed.FS

//go:embed static
var staticFiles embed.FS

// DefaultAddr is where the console listens unless SLUICE_CONSOLE_ADDR says.
const DefaultAddr = "127.0.0.1:8080"

// cookieName is the session cookie's name.
const cookieName = "sluice_session"

// Server is the console: its pages and what they read and act on.
type Server struct {
	accounts  *Accounts
	sessions  *Sessions
	warehouse driver.Conn // as the read-only user: imports, users, templates' examples
	database  string
	tenants   func() platform.Tenants
	uploads   *Uploads // nil: uploads are off (no MinIO admin keys)
	ops       *operate.Ops
	invites   Invitations
	logger    *slog.Logger
	pages     map[string]*template.Template
	throttle  throttle // failed sign-ins
	mux       *http.ServeMux
}

// Deps are what a Server reads and acts on.
type Deps struct {
	Accounts  *Accounts
	Sessions  *Sessions
	Warehouse driver.Conn
	Database  string
	Tenants   func() platform.Tenants
	Uploads   *Uploads
	Ops       *operate.Ops // imports: what they are, and stopping and continuing them
	Invites   Invitations  // the set-password page's, before any sign-in
	Logger    *slog.Logger
}

// New returns the console's server.
func New(d Deps) (*Server, error) {
	s := &Server{accounts: d.Accounts, sessions: d.Sessions, warehouse: d.Warehouse, database: d.Database,
		tenants: d.Tenants, uploads: d.Uploads, ops: d.Ops, invites: d.Invites, logger: d.Logger, mux: http.NewServeMux()}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFiles, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /signin", s.signInPage)
	s.mux.HandleFunc("POST /signin", s.signIn)
	s.mux.Handle("POST /signout", s.user(s.signOut))
	s.mux.HandleFunc("GET /invite/{token}", s.invitePage)
	s.mux.HandleFunc("POST /invite/{token}", s.setPassword)
	s.mux.Handle("GET /{$}", s.user(func(w http.ResponseWriter, r *http.Request, _ *request) {
		http.Redirect(w, r, "/imports", http.StatusSeeOther)
	}))
	s.routes()
	return s, nil
}

// ServeHTTP serves the console, with headers that keep its pages out of
// frames and other origins' scripts out of its pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	// connect-src: the presigned uploads go to the bucket's origin.
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' "+s.uploadOrigin()+"; frame-ancestors 'none'; form-action 'self'")
	s.mux.ServeHTTP(w, r)
}

// Run serves the console at addr until ctx ends.
func (s *Server) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Requests end with ctx: the progress streams too.
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	s.logger.Info("console: listening", "url", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) uploadOrigin() string {
	if s.uploads == nil {
		return ""
	}
	return s.uploads.origin()
}

// request is what a signed-in request's handler gets: the account and its
// session.
type request struct {
	account Account
	session session
}

// user wraps a handler that needs a signed-in account; a POST must also
// carry the session's CSRF token (form field csrf, or the X-CSRF-Token
// header of the upload script), and an account's POST must be an admin's.
func (s *Server) user(h func(http.ResponseWriter, *http.Request, *request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie(cookieName)
		var token string
		if c != nil {
			token = c.Value
		}
		ss, err := s.sessions.Get(token)
		var a Account
		if err == nil {
			a, err = s.accounts.Get(ss.Login)
		}
		if err != nil {
			if !errors.Is(err, errNoSession) && !errors.Is(err, ErrNoAccount) {
				s.fail(w, err)
				return
			}
			if r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			sent := r.Header.Get("X-CSRF-Token")
			if sent == "" {
				sent = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(sent), []byte(ss.CSRF)) != 1 {
				http.Error(w, "this form has expired: load the page again", http.StatusForbidden)
				return
			}
		}
		h(w, r, &request{account: a, session: ss})
	})
}

// admin wraps a handler only an admin may use: a viewer's request is
// refused.
func (s *Server) admin(h func(http.ResponseWriter, *http.Request, *request)) http.Handler {
	return s.user(func(w http.ResponseWriter, r *http.Request, req *request) {
		if !req.account.Acts() {
			http.Error(w, "your account may only look: ask an admin of your company", http.StatusForbidden)
			return
		}
		h(w, r, req)
	})
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "signin", nil, map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	next, login, now := safeNext(r.PostFormValue("next")), r.PostFormValue("login"), time.Now()
	if s.throttle.blocked(login, now) {
		s.render(w, http.StatusTooManyRequests, "signin", nil, map[string]any{"Next": next, "Login": login,
			"Error": "Too many failed sign-ins for this login: try again in 15 minutes."})
		return
	}
	a, err := s.accounts.SignIn(login, r.PostFormValue("password"))
	if errors.Is(err, ErrNoAccount) {
		s.throttle.failed(login, now)
		s.render(w, http.StatusUnauthorized, "signin", nil, map[string]any{"Next": next, "Login": login,
			"Error": "That login and password do not match an account."})
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.throttle.succeeded(login)
	token, err := s.sessions.Start(a.Login)
	if err != nil {
		s.fail(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, _ *request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if err := s.sessions.End(c.Value); err != nil {
			s.fail(w, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// safeNext is where to go after signing in: a path of this console only.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/imports"
	}
	return next
}

// fail answers 500 and logs why; the page says no more.
func (s *Server) fail(w http.ResponseWriter, err error) {
	s.logger.Error("console: " + err.Error())
	http.Error(w, "something went wrong; try again, and tell your operator if it goes on", http.StatusInternalServerError)
}

// notFound answers 404: also what another tenant's import answers.
func (s *Server) notFound(w http.ResponseWriter, req *request) {
	s.render(w, http.StatusNotFound, "notfound", req, nil)
}
