package web

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/auth"
)

// sessionCookie is the name of the session cookie; its value is the session's secret.
const sessionCookie = "affwatch_session"

// authenticated is the one authentication middleware: a page needs a session; the API
// and /metrics take a session or a personal API token (Authorization: Bearer). What a
// user may see and do is then the handler's business, through User.Sees and the scope.
func (s *Server) authenticated(api bool, h func(http.ResponseWriter, *http.Request, affwatch.User) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.userOf(r, api)
		if err != nil {
			if !api && errors.Is(err, errUnauthenticated) {
				// People are sent to sign in, and back to where they were going after.
				next := r.URL.RequestURI()
				if r.Method != http.MethodGet {
					next = "/"
				}
				http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			}
			s.fail(w, r, err)
			return
		}
		if err := h(w, r, u); err != nil {
			s.fail(w, r, err)
		}
	})
}

// userOf finds the user a request comes from.
func (s *Server) userOf(r *http.Request, api bool) (affwatch.User, error) {
	ctx := r.Context()
	if api {
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || !strings.HasPrefix(tok, auth.TokenPrefix) {
				return affwatch.User{}, fmt.Errorf("%w: Authorization: want Bearer and a personal API token", errUnauthenticated)
			}
			u, err := s.Store.TokenUser(ctx, auth.Hash(strings.TrimSpace(tok)), s.now())
			if errors.Is(err, affwatch.ErrNotFound) {
				return u, fmt.Errorf("%w: the token is unknown or revoked", errUnauthenticated)
			}
			return u, err
		}
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return affwatch.User{}, errUnauthenticated
	}
	u, err := s.Store.SessionUser(ctx, auth.Hash(c.Value), s.now())
	if errors.Is(err, affwatch.ErrNotFound) {
		return u, fmt.Errorf("%w: the session has ended", errUnauthenticated)
	}
	return u, err
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", affwatch.User{}, map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a redirect after sign-in on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) {
		return "/"
	}
	return next
}

// login checks a name and password, rate-limited per account and per address, and starts
// a server-side session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, pw := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	ip := clientIP(r)
	again := func(code int, msg string) {
		w.WriteHeader(code)
		s.render(w, r, "login", affwatch.User{}, map[string]any{"Next": next, "Name": name, "Error": msg})
	}
	if wait := s.limiter.blocked("user:"+strings.ToLower(name), "ip:"+ip); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts: try again in %s.", wait.Round(time.Second)))
		return
	}
	u, err := s.Store.UserByName(r.Context(), name)
	switch {
	case errors.Is(err, affwatch.ErrNotFound):
		auth.DummyCheck(pw)
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		if perr := auth.CheckPassword(u.PasswordHash, pw); perr != nil || u.Disabled {
			err = errUnauthenticated
		}
	}
	if err != nil {
		s.limiter.failed("user:"+strings.ToLower(name), "ip:"+ip)
		s.log().Warn("sign-in refused", "user", name, "ip", ip)
		again(http.StatusUnauthorized, "Wrong name or password.")
		return
	}
	s.limiter.reset("user:" + strings.ToLower(name))
	secret, hash, err := auth.NewSecret("afs_")
	if err == nil {
		err = s.Store.CreateSession(r.Context(), hash, u.ID, s.now().Add(s.SessionTTL))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.SessionTTL.Seconds())})
	s.log().Info("signed in", "user", u.Name, "role", u.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on the server and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.Store.DeleteSession(r.Context(), auth.Hash(c.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// clientIP is the address a request came from (the dashboard is not meant to sit behind
// a proxy that would hide it; X-Forwarded-For is not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Sign-in limits: failures per account and per address within the window, after which
// sign-in is refused until the window has passed since the oldest failure.
const (
	maxFailuresPerAccount = 5
	maxFailuresPerAddress = 20
	failureWindow         = 15 * time.Minute
)

// limiter counts failed sign-ins per key (an account, an address).
type limiter struct {
	mu   sync.Mutex
	now  func() time.Time
	fail map[string][]time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, fail: map[string][]time.Time{}}
}

func limitOf(key string) int {
	if strings.HasPrefix(key, "ip:") {
		return maxFailuresPerAddress
	}
	return maxFailuresPerAccount
}

// recent drops failures older than the window.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.fail[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > failureWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fail, key)
	} else {
		l.fail[key] = ts
	}
	return ts
}

// blocked is how long until any of the keys may try again (0: now).
func (l *limiter) blocked(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		ts := l.recent(k, now)
		if len(ts) >= limitOf(k) {
			wait = max(wait, failureWindow-now.Sub(ts[len(ts)-limitOf(k)]))
		}
	}
	return wait
}

func (l *limiter) failed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fail[k] = append(l.recent(k, now), now)
	}
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.fail, key)
	l.mu.Unlock()
}
