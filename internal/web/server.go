// Package web is affwatch's dashboard and its JSON API (/api/v1), served by `affwatch
// serve`: one Server holding the store roles and the application's workflows, pages from
// embedded html/template files, errors mapped to status codes in one place, and every
// route but the sign-in page, the static assets and /healthz behind one authentication
// and authorisation middleware.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/rules"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the API's OpenAPI 3 document, as served at /api/v1/openapi.json.
func OpenAPI() []byte { return openAPI }

// Store is what the dashboard reads and changes: the store roles it needs.
type Store interface {
	affwatch.Users
	affwatch.Dashboard
	affwatch.Scans
	affwatch.Violations
	Snapshot(ctx context.Context, sha string) ([]byte, error)
	Mail(ctx context.Context, pending bool, limit int) ([]affwatch.OutboxItem, error)
}

// ScanStarter starts a scan with the same workflow the CLI and the schedule use, in the
// background; it returns an error wrapping affwatch.ErrConflict when a scan is running.
type ScanStarter func(ctx context.Context, by string) error

// Server is the dashboard and the API.
type Server struct {
	Store Store
	// Affiliates and Programs are the configured ones: a manager sees the affiliates whose
	// manager they are.
	Affiliates []affwatch.Affiliate
	Programs   []affwatch.Program
	// Policies is the policy revision in force (the daemon's reloader), for the rules
	// catalogue and the playground.
	Policies func() *rules.Engine
	// StartScan, when set, lets an admin start a scan.
	StartScan ScanStarter
	// Health answers GET /healthz without a session.
	Health http.Handler
	// Secure marks the session cookie Secure (served over TLS).
	Secure bool
	// SessionTTL is how long a session lasts (default 12 hours).
	SessionTTL time.Duration
	// MaxLinks caps the links the playground's extraction keeps (0: the crawler's default).
	MaxLinks int
	Now      func() time.Time
	Logger   *slog.Logger

	once    sync.Once
	pages   map[string]*template.Template
	limiter *limiter
	metrics *metrics
	handler http.Handler
}

// ServeHTTP serves the dashboard, the API, /metrics and /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	s.handler.ServeHTTP(w, r)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		s.Logger = slog.Default().With("component", "web")
	}
	return s.Logger
}

func (s *Server) init() {
	if s.SessionTTL <= 0 {
		s.SessionTTL = 12 * time.Hour
	}
	s.pages = parsePages()
	s.limiter = newLimiter(s.now)
	s.metrics = newMetrics(s)

	mux := http.NewServeMux()
	// Without a session.
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	if s.Health != nil {
		mux.Handle("GET /healthz", s.Health)
	}
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)

	// With a session (pages) or a session or token (API, metrics).
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, affwatch.User) error) {
		mux.Handle(pattern, s.authenticated(false, h))
	}
	api := func(pattern string, h func(http.ResponseWriter, *http.Request, affwatch.User) error) {
		mux.Handle(pattern, s.authenticated(true, h))
	}
	page("POST /logout", s.logout)
	page("GET /{$}", s.overview)
	page("GET /violations", s.violationsPage)
	page("GET /violations/export", s.exportViolations)
	page("POST /violations/bulk", s.bulkChange)
	page("GET /violations/{fp}", s.violationPage)
	page("GET /violations/{fp}/snapshot", s.snapshot)
	page("POST /violations/{fp}/change", s.changePage)
	page("GET /affiliates", s.affiliatesPage)
	page("GET /affiliates/{id}", s.affiliatePage)
	page("GET /scans", s.scansPage)
	page("POST /scans", s.startScanPage)
	page("GET /rules", s.rulesPage)
	page("GET /playground", s.playgroundPage)
	page("POST /playground", s.playgroundPage)

	api("GET /api/v1/openapi.json", s.apiOpenAPI)
	api("GET /api/v1/me", s.apiMe)
	api("GET /api/v1/violations", s.apiViolations)
	api("GET /api/v1/violations/{fp}", s.apiViolation)
	api("POST /api/v1/violations/{fp}/changes", s.apiChange)
	api("GET /api/v1/scans", s.apiScans)
	api("POST /api/v1/scans", s.apiStartScan)
	api("GET /api/v1/scans/{id}", s.apiScan)
	api("GET /api/v1/affiliates", s.apiAffiliates)
	api("GET /api/v1/affiliates/{id}", s.apiAffiliate)
	api("GET /api/v1/rules", s.apiRules)
	api("/api/", func(http.ResponseWriter, *http.Request, affwatch.User) error {
		return fmt.Errorf("no such API route: %w", affwatch.ErrNotFound)
	})
	api("GET /metrics", s.serveMetrics)

	// Cross-origin state changes (a form on another site posting with the user's cookie)
	// are refused before anything else sees them.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, fmt.Errorf("%w: cross-origin request refused", errForbidden))
	}))
	s.handler = s.metrics.instrument(securityHeaders(cop.Handler(mux)))
}

// securityHeaders sets the headers every dashboard response carries: no framing by other
// sites, no MIME sniffing, no referrer leaving the dashboard, and a content security
// policy that runs only the dashboard's own script and styles.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasSuffix(r.URL.Path, "/snapshot") {
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
				"frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
		}
		next.ServeHTTP(w, r)
	})
}

// Errors that map to status codes besides the domain's ErrInvalid, ErrNotFound and
// ErrConflict.
var (
	errUnauthenticated = errors.New("sign in first")
	errForbidden       = errors.New("forbidden")
	errTooMany         = errors.New("too many attempts")
)

// fieldError is a bad request naming the parameter or JSON field at fault.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// badField makes a 400 that names the field.
func badField(field, format string, a ...any) error {
	return &fieldError{field: field, err: fmt.Errorf("%w: "+format, append([]any{affwatch.ErrInvalid}, a...)...)}
}

// statusOf maps an error to its HTTP status: the one place that does.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, errForbidden):
		return http.StatusForbidden
	case errors.Is(err, errTooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, affwatch.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, affwatch.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, affwatch.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// fail answers a failed request: JSON for the API (and clients that ask for it), an
// error page for people. Internal errors are logged and not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.log().Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if code == http.StatusNotFound {
		msg = "not found"
		if fe := (*fieldError)(nil); errors.As(err, &fe) {
			msg = err.Error()
		}
	}
	if isAPI(r) {
		body := apiError{Message: msg}
		var fe *fieldError
		if errors.As(err, &fe) {
			body.Field = fe.field
		}
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="affwatch"`)
		}
		writeJSON(w, code, map[string]apiError{"error": body})
		return
	}
	w.WriteHeader(code)
	s.render(w, r, "error", affwatch.User{}, map[string]any{"Code": code, "Status": http.StatusText(code), "Message": msg})
}

// isAPI says whether a request wants JSON answers.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics"
}
