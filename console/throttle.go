package console

import (
	"strings"
	"sync"
	"time"
)

// Failed sign-ins of a login: after maxFailures within failureWindow, the
// login may not sign in until the window has passed since the first of
// them, whatever the password, so that guessing one costs hours. Kept in
// the process (one console instance counts its own).
const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
)

// throttle counts the failed sign-ins of each login.
type throttle struct {
	mu       sync.Mutex
	failures map[string]failures
}

type failures struct {
	n     int
	first time.Time
}

// blocked reports whether login may not try to sign in now.
func (t *throttle) blocked(login string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.failures[strings.ToLower(login)]
	return f.n >= maxFailures && now.Sub(f.first) < failureWindow
}

// failed records a failed sign-in of login; succeeded forgets its failures.
func (t *throttle) failed(login string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failures == nil {
		t.failures = map[string]failures{}
	}
	login = strings.ToLower(login)
	f := t.failures[login]
	if now.Sub(f.first) >= failureWindow {
		f = failures{first: now}
	}
	f.n++
	t.failures[login] = f
}

func (t *throttle) succeeded(login string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, strings.ToLower(login))
}
