package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// maxLimit is the largest page of a list.
const maxLimit = 500

// splitList reads a comma-separated parameter, which may also be repeated.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// parseDay reads a date (2026-11-23) or a time (RFC 3339).
func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// violationQuery reads the violation list's filters, order and cursor from the query
// string, and limits it to what the user may see. A bad value is a 400 naming its
// parameter.
func (s *Server) violationQuery(v url.Values, u affwatch.User) (affwatch.ViolationQuery, error) {
	var q affwatch.ViolationQuery
	q.Scope, q.Scoped = u.Scope(s.Affiliates)
	for _, st := range splitList(v["state"]) {
		if st == "active" { // every state but resolved
			for _, a := range affwatch.ValidStates() {
				if a.Active() && !slices.Contains(q.States, a) {
					q.States = append(q.States, a)
				}
			}
			continue
		}
		state, err := affwatch.ParseState(st)
		if err != nil {
			return q, badField("state", "unknown state %q (want new, open, reopened, acknowledged, suppressed, resolved or active)", st)
		}
		q.States = append(q.States, state)
	}
	for _, sv := range splitList(v["severity"]) {
		sev, err := affwatch.ParseSeverity(sv)
		if err != nil {
			return q, badField("severity", "unknown severity %q (want info, low, medium, high or critical)", sv)
		}
		q.Severities = append(q.Severities, sev)
	}
	q.AffiliateIDs = splitList(v["affiliate"])
	q.RuleID = strings.TrimSpace(v.Get("rule"))
	switch src := affwatch.Source(v.Get("source")); src {
	case "", affwatch.SourcePolicy, affwatch.SourceDetector:
		q.Source = src
	default:
		return q, badField("source", "unknown source %q (want policy or detector)", src)
	}
	q.Text = strings.TrimSpace(v.Get("q"))
	if len(q.Text) > 200 {
		return q, badField("q", "the search text is longer than 200 characters")
	}
	if d := v.Get("since"); d != "" {
		t, err := parseDay(d)
		if err != nil {
			return q, badField("since", "%q is not a date (2026-11-23) or an RFC 3339 time", d)
		}
		q.Since = t
	}
	if d := v.Get("until"); d != "" {
		t, err := parseDay(d)
		if err != nil {
			return q, badField("until", "%q is not a date (2026-11-23) or an RFC 3339 time", d)
		}
		if len(d) == len("2006-01-02") {
			t = t.Add(24 * time.Hour) // a date counts to its end
		}
		q.Until = t
	}
	q.Sort = v.Get("sort")
	if q.Sort != "" && !slices.Contains(affwatch.ViolationSorts(), q.Sort) {
		return q, badField("sort", "unknown order %q (want %s)", q.Sort, strings.Join(affwatch.ViolationSorts(), ", "))
	}
	q.Limit = 50
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			return q, badField("limit", "%q is not a number from 1 to %d", l, maxLimit)
		}
		q.Limit = n
	}
	q.After = v.Get("cursor")
	return q, nil
}

// queryViolations runs a query; a cursor the store does not recognise is the cursor
// parameter's fault.
func (s *Server) queryViolations(ctx context.Context, q affwatch.ViolationQuery) ([]affwatch.Violation, string, error) {
	vs, next, err := s.Store.ViolationPage(ctx, q)
	if err != nil && q.After != "" && statusOf(err) == http.StatusBadRequest {
		return nil, "", badField("cursor", "the cursor was not made by this list and order")
	}
	return vs, next, err
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// visibleViolation is the violation with a fingerprint, if the user may see it: another
// manager's violation is not found, as if it did not exist.
func (s *Server) visibleViolation(ctx context.Context, fp string, u affwatch.User) (affwatch.Violation, error) {
	if !fingerprintRE.MatchString(fp) {
		return affwatch.Violation{}, affwatch.ErrNotFound
	}
	v, err := s.Store.Violation(ctx, fp)
	if err != nil {
		return v, err
	}
	if !s.sees(u, v.AffiliateID) {
		return affwatch.Violation{}, affwatch.ErrNotFound
	}
	return v, nil
}

// sees says whether the user may see an affiliate (configured or not).
func (s *Server) sees(u affwatch.User, affID string) bool {
	if u.Role != affwatch.RoleManager {
		return true
	}
	a, ok := s.affiliate(affID)
	return ok && u.Sees(a)
}

func (s *Server) affiliate(id string) (affwatch.Affiliate, bool) {
	for _, a := range s.Affiliates {
		if a.ID == id {
			return a, true
		}
	}
	return affwatch.Affiliate{}, false
}

// changeRequest is a change to a violation as a form or the API sends it.
type changeRequest struct {
	Action string `json:"action"` // suppress, acknowledge (ack), reopen
	Reason string `json:"reason"`
	Until  string `json:"until"` // a date (to its end) or an RFC 3339 time; suppress only
}

// change turns a request into the domain's Change, naming the field at fault.
func (c changeRequest) change(by string, now time.Time) (affwatch.Change, error) {
	ch := affwatch.Change{By: by, Reason: strings.TrimSpace(c.Reason)}
	switch c.Action {
	case "suppress":
		ch.To = affwatch.StateSuppressed
		if ch.Reason == "" {
			return ch, badField("reason", "a suppression needs a reason")
		}
	case "acknowledge", "ack":
		ch.To = affwatch.StateAcknowledged
	case "reopen":
		ch.To = affwatch.StateOpen
	default:
		return ch, badField("action", "unknown action %q (want suppress, acknowledge or reopen)", c.Action)
	}
	if len(ch.Reason) > 2000 {
		return ch, badField("reason", "the reason is longer than 2000 characters")
	}
	if c.Until != "" {
		if ch.To != affwatch.StateSuppressed {
			return ch, badField("until", "only a suppression has an expiry")
		}
		t, err := parseDay(c.Until)
		if err != nil {
			return ch, badField("until", "%q is not a date (2026-11-23) or an RFC 3339 time", c.Until)
		}
		if len(c.Until) == len("2006-01-02") {
			t = time.Date(t.Year(), t.Month(), t.Day(), 23, 59, 59, 0, time.Local)
		}
		if !t.After(now) {
			return ch, badField("until", "%s is not in the future", c.Until)
		}
		ch.Until = t
	}
	return ch, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiError is the body of every API error: a message, and the field at fault for a 400.
type apiError struct {
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// changeableViolation is a violation the user may see and change by hand (suppress,
// acknowledge, reopen): not found when they may not see it, forbidden when their role
// only reads.
func (s *Server) changeableViolation(ctx context.Context, fp string, u affwatch.User) (affwatch.Violation, error) {
	v, err := s.visibleViolation(ctx, fp, u)
	if err != nil {
		return v, err
	}
	if !u.CanChange() {
		return v, fmt.Errorf("%w: a %s cannot change violations", errForbidden, u.Role)
	}
	return v, nil
}
