package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/report"
	"github.com/affwatch/affwatch/rules"
)

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"login", "error", "overview", "violations", "violation", "affiliates", "affiliate", "scans", "rules", "playground"}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"mark": report.Highlight,
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"verified": func(f affwatch.FetchStatus) bool { return f.Verified() },
	"pct": func(a, b int) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f%%", 100*float64(a)/float64(b))
	},
	"num": func(f float64) string { return fmt.Sprintf("%.4g", f) },
	"has": func(list []string, s string) bool { return slices.Contains(list, s) },
}

func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// render writes a page inside the layout; the user is shown in the header.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, u affwatch.User, data map[string]any) {
	var buf bytes.Buffer
	if data == nil {
		data = map[string]any{}
	}
	data["User"], data["Page"], data["Path"] = u, name, r.URL.Path
	if err := s.pages[name].Execute(&buf, data); err != nil {
		s.log().Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// nights are the last n days, oldest first, for the trend.
func nights(now time.Time, n int) []time.Time {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	out := make([]time.Time, n)
	for i := range n {
		out[i] = today.AddDate(0, 0, i-n+1)
	}
	return out
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	ctx := r.Context()
	scope, scoped := u.Scope(s.Affiliates)
	counts, err := s.Store.ViolationCounts(ctx, scoped, scope)
	if err != nil {
		return err
	}
	// The table: states down, severities across, most severe first.
	sevs := slices.Clone(affwatch.Severities())
	slices.Reverse(sevs)
	type row struct {
		State  affwatch.State
		Counts []int
		Total  int
	}
	var rows []row
	bySev := make([]int, len(sevs))
	for _, st := range affwatch.ValidStates() {
		rw := row{State: st, Counts: make([]int, len(sevs))}
		for _, c := range counts {
			if c.State != st {
				continue
			}
			for i, sv := range sevs {
				if sv == c.Severity {
					rw.Counts[i] += c.Count
					if st.Active() && st != affwatch.StateSuppressed {
						bySev[i] += c.Count
					}
				}
			}
			rw.Total += c.Count
		}
		rows = append(rows, rw)
	}
	trend, err := s.Store.OpenByDay(ctx, scoped, scope, nights(s.now(), 14))
	if err != nil {
		return err
	}
	changes, err := s.Store.Changes(ctx, scoped, scope, 7)
	if err != nil {
		return err
	}
	scans, err := s.Store.Scans(ctx, 5)
	if err != nil {
		return err
	}
	type scanRow struct {
		Scan       affwatch.Scan
		Unverified []affwatch.PageSummary
	}
	var last []scanRow
	for _, sc := range scans {
		pages, err := s.unverifiedPages(r, u, sc.ID)
		if err != nil {
			return err
		}
		last = append(last, scanRow{sc, pages})
	}
	data := map[string]any{"Severities": sevs, "Rows": rows, "Active": bySev, "Trend": trendSVG(trend),
		"TrendData": trend, "Changes": changes, "Scans": last}
	if u.Role == affwatch.RoleAdmin {
		mail, err := s.Store.Mail(ctx, false, 10)
		if err != nil {
			return err
		}
		pending, err := s.Store.Mail(ctx, true, 1000)
		if err != nil {
			return err
		}
		data["Mail"], data["Pending"] = mail, len(pending)
	}
	s.render(w, r, "overview", u, data)
	return nil
}

// unverifiedPages are a scan's pages that could not be verified, of the affiliates the
// user sees.
func (s *Server) unverifiedPages(r *http.Request, u affwatch.User, scanID int64) ([]affwatch.PageSummary, error) {
	pages, err := s.Store.PagesOf(r.Context(), scanID, "", true, 200)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(pages, func(p affwatch.PageSummary) bool { return !s.sees(u, p.AffiliateID) }), nil
}

func (s *Server) violationsPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v := r.URL.Query()
	q, err := s.violationQuery(v, u)
	if err != nil {
		return err
	}
	vs, next, err := s.queryViolations(r.Context(), q)
	if err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		nv := url.Values{}
		for k, vals := range v {
			nv[k] = vals
		}
		nv.Set("cursor", next)
		nextURL = "/violations?" + nv.Encode()
	}
	filters := url.Values{}
	for k, vals := range v {
		if k != "cursor" {
			filters[k] = vals
		}
	}
	affs := s.visibleAffiliates(u)
	s.render(w, r, "violations", u, map[string]any{
		"Violations": vs, "Next": nextURL, "Query": v, "Filters": filters.Encode(),
		"States": splitList(v["state"]), "Sevs": splitList(v["severity"]), "Affs": splitList(v["affiliate"]),
		"AllStates": append([]affwatch.State{"active"}, affwatch.ValidStates()...), "AllSeverities": affwatch.Severities(),
		"Affiliates": affs, "Sorts": affwatch.ViolationSorts(), "Flash": v.Get("done"),
	})
	return nil
}

// visibleAffiliates are the configured affiliates the user sees.
func (s *Server) visibleAffiliates(u affwatch.User) []affwatch.Affiliate {
	var out []affwatch.Affiliate
	for _, a := range s.Affiliates {
		if u.Sees(a) {
			out = append(out, a)
		}
	}
	return out
}

// exportViolations writes every violation the filters select (not just one page) as CSV
// or JSON.
func (s *Server) exportViolations(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v := r.URL.Query()
	q, err := s.violationQuery(v, u)
	if err != nil {
		return err
	}
	format := v.Get("format")
	if format != "csv" && format != "json" {
		return badField("format", "unknown export format %q (want csv or json)", format)
	}
	q.Limit, q.After = -1, "" // everything the filter selects, in one query
	all, _, err := s.queryViolations(r.Context(), q)
	if err != nil {
		return err
	}
	name := "violations-" + s.now().UTC().Format("20060102-150405")
	if format == "json" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		writeJSON(w, http.StatusOK, map[string]any{"violations": orEmpty(all)})
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"fingerprint", "severity", "rule_id", "state", "affiliate_id", "program_id", "source", "url", "title", "message",
		"snippet", "first_seen", "last_seen", "suppress_reason", "suppressed_by", "suppress_until"})
	for _, x := range all {
		until := ""
		if !x.SuppressUntil.IsZero() {
			until = x.SuppressUntil.UTC().Format(time.RFC3339)
		}
		cw.Write([]string{x.Fingerprint, x.Severity.String(), x.RuleID, string(x.State), csvSafe(x.AffiliateID), x.ProgramID,
			string(x.Source), csvSafe(x.URL), csvSafe(x.Title), csvSafe(x.Message), csvSafe(x.Evidence.Snippet),
			x.FirstSeen.UTC().Format(time.RFC3339), x.LastSeen.UTC().Format(time.RFC3339), csvSafe(x.SuppressReason),
			csvSafe(x.SuppressedBy), until})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe quotes a cell a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// bulkChange acknowledges or suppresses the selected violations with one reason.
func (s *Server) bulkChange(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	if !u.CanChange() {
		return fmt.Errorf("%w: a %s cannot change violations", errForbidden, u.Role)
	}
	if err := r.ParseForm(); err != nil {
		return badField("body", "%v", err)
	}
	fps := r.PostForm["fp"]
	if len(fps) == 0 {
		return badField("fp", "select at least one violation")
	}
	if len(fps) > maxLimit {
		return badField("fp", "at most %d violations at once", maxLimit)
	}
	req := changeRequest{Action: r.PostFormValue("action"), Reason: r.PostFormValue("reason"), Until: r.PostFormValue("until")}
	if req.Action != "suppress" && req.Action != "acknowledge" {
		return badField("action", "bulk changes acknowledge or suppress")
	}
	ch, err := req.change(u.Name, s.now())
	if err != nil {
		return err
	}
	done, skipped := 0, 0
	for _, fp := range fps {
		v, err := s.visibleViolation(r.Context(), fp, u)
		if err != nil {
			return err
		}
		if _, err := s.Store.Change(r.Context(), v.Fingerprint, ch); err != nil {
			if errors.Is(err, affwatch.ErrConflict) {
				skipped++ // already resolved, or suppressed: nothing to do
				continue
			}
			return err
		}
		done++
	}
	back := safeNext(r.PostFormValue("back"))
	if back == "/" {
		back = "/violations"
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"done="+url.QueryEscape(fmt.Sprintf("%d changed, %d skipped (their state does not allow it)", done, skipped)), http.StatusSeeOther)
	return nil
}

func (s *Server) violationPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v, err := s.visibleViolation(r.Context(), r.PathValue("fp"), u)
	if err != nil {
		return err
	}
	doc, err := s.violationDoc(r, v)
	if err != nil {
		return err
	}
	var rule *rules.Rule
	if s.Policies != nil {
		for _, x := range s.Policies().Rules() {
			if x.ID == v.RuleID {
				rule = &x
			}
		}
	}
	if rule == nil {
		for _, x := range detectors.Rules() {
			if x.ID == v.RuleID {
				rule = &rules.Rule{ID: x.ID, Title: x.Title, Description: "A fraud detector over the click and conversion logs: the numbers below say why it flagged the affiliate.",
					Severity: v.Severity, Remediation: x.Remediation}
			}
		}
	}
	s.render(w, r, "violation", u, map[string]any{"V": v, "Doc": doc, "Rule": rule, "Key": v.Evidence.FingerprintKey(),
		"Error": r.URL.Query().Get("error"), "Today": s.now().Format("2006-01-02")})
	return nil
}

// snapshotCSP is the policy the stored partner HTML is served under: a sandbox (an opaque
// origin, no scripts, no forms, no popups) that loads nothing but inline images, so a
// partner's scripts never run in the dashboard's origin.
const snapshotCSP = "sandbox; default-src 'none'; img-src data:"

// snapshot serves the HTML stored for the violation's page, for the sandboxed iframe.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v, err := s.visibleViolation(r.Context(), r.PathValue("fp"), u)
	if err != nil {
		return err
	}
	p, err := s.Store.PageAt(r.Context(), v.AffiliateID, v.URL, v.LastScan)
	if err != nil {
		return err
	}
	if p.ContentSHA256 == "" {
		return fmt.Errorf("snapshot of %s: %w", v.URL, affwatch.ErrNotFound)
	}
	html, err := s.Store.Snapshot(r.Context(), p.ContentSHA256)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", snapshotCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, max-age=300")
	_, err = w.Write(html)
	return err
}

// changePage applies the suppress, acknowledge or reopen form of a violation's page.
func (s *Server) changePage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v, err := s.changeableViolation(r.Context(), r.PathValue("fp"), u)
	if err != nil {
		return err
	}
	req := changeRequest{Action: r.PostFormValue("action"), Reason: r.PostFormValue("reason"), Until: r.PostFormValue("until")}
	ch, err := req.change(u.Name, s.now())
	if err == nil {
		_, err = s.Store.Change(r.Context(), v.Fingerprint, ch)
	}
	back := "/violations/" + v.Fingerprint
	switch code := statusOf(err); {
	case err == nil:
	case code == http.StatusBadRequest || code == http.StatusConflict:
		// Shown on the page, above its forms.
		http.Redirect(w, r, back+"?error="+url.QueryEscape(err.Error()), http.StatusSeeOther)
		return nil
	default:
		return err
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// affiliateRow is one affiliate in the list.
type affiliateRow struct {
	affwatch.Affiliate
	Open int `json:"open_violations"`
}

func (s *Server) affiliateRows(r *http.Request, u affwatch.User) ([]affiliateRow, error) {
	var out []affiliateRow
	for _, a := range s.visibleAffiliates(u) {
		n, err := s.countActive(r.Context(), a.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, affiliateRow{a, n})
	}
	return out, nil
}

// countActive is how many active violations an affiliate has.
func (s *Server) countActive(ctx context.Context, affID string) (int, error) {
	counts, err := s.Store.ViolationCounts(ctx, true, []string{affID})
	n := 0
	for _, c := range counts {
		if c.State.Active() {
			n += c.Count
		}
	}
	return n, err
}

func (s *Server) affiliatesPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	rows, err := s.affiliateRows(r, u)
	if err != nil {
		return err
	}
	s.render(w, r, "affiliates", u, map[string]any{"Rows": rows})
	return nil
}

// trafficDay is one day of an affiliate's traffic beside the program's.
type trafficDay struct {
	Day                string  `json:"day"`
	Clicks             int     `json:"clicks"`
	Conversions        int     `json:"conversions"`
	Rate               float64 `json:"conversion_rate"`
	ProgramClicks      int     `json:"program_clicks"`
	ProgramConversions int     `json:"program_conversions"`
	ProgramRate        float64 `json:"program_conversion_rate"`
}

// affiliateView is what the affiliate page and the API show of one affiliate.
type affiliateView struct {
	Affiliate  affwatch.Affiliate     `json:"affiliate"`
	Pages      []affwatch.PageSummary `json:"pages"`
	Open       []affwatch.Violation   `json:"open_violations"`
	Detections []affwatch.Violation   `json:"detector_findings"`
	Traffic    []trafficDay           `json:"traffic"`
}

func (s *Server) affiliateView(r *http.Request, u affwatch.User, id string) (affiliateView, error) {
	ctx := r.Context()
	a, ok := s.affiliate(id)
	if !ok || !u.Sees(a) {
		return affiliateView{}, fmt.Errorf("affiliate %q: %w", id, affwatch.ErrNotFound)
	}
	view := affiliateView{Affiliate: a}
	var err error
	if view.Pages, err = s.Store.PagesOf(ctx, 0, a.ID, false, 500); err != nil {
		return view, err
	}
	base := affwatch.ViolationQuery{AffiliateIDs: []string{a.ID}, Limit: maxLimit,
		States: []affwatch.State{affwatch.StateNew, affwatch.StateOpen, affwatch.StateReopened, affwatch.StateAcknowledged}}
	pol, det := base, base
	pol.Source, det.Source = affwatch.SourcePolicy, affwatch.SourceDetector
	if view.Open, _, err = s.Store.ViolationPage(ctx, pol); err != nil {
		return view, err
	}
	if view.Detections, _, err = s.Store.ViolationPage(ctx, det); err != nil {
		return view, err
	}
	// Traffic over the last 30 days of data: the affiliate's against the program's.
	since := s.now().AddDate(0, 0, -30)
	mine, err := s.Store.DailyTraffic(ctx, []string{a.ID}, since)
	if err != nil {
		return view, err
	}
	var program []string
	for _, x := range s.Affiliates {
		if x.Program == a.Program {
			program = append(program, x.ID)
		}
	}
	all, err := s.Store.DailyTraffic(ctx, program, since)
	if err != nil {
		return view, err
	}
	prog := map[string]affwatch.Traffic{}
	for _, t := range all {
		prog[t.Day.Format("2006-01-02")] = t
	}
	rate := func(conv, clicks int) float64 {
		if clicks == 0 {
			return 0
		}
		return float64(conv) / float64(clicks)
	}
	for _, t := range mine {
		d := t.Day.Format("2006-01-02")
		p := prog[d]
		view.Traffic = append(view.Traffic, trafficDay{Day: d, Clicks: t.Clicks, Conversions: t.Conversions, Rate: rate(t.Conversions, t.Clicks),
			ProgramClicks: p.Clicks, ProgramConversions: p.Conversions, ProgramRate: rate(p.Conversions, p.Clicks)})
	}
	view.Pages, view.Open, view.Detections, view.Traffic = orEmpty(view.Pages), orEmpty(view.Open), orEmpty(view.Detections), orEmpty(view.Traffic)
	return view, nil
}

func (s *Server) affiliatePage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	view, err := s.affiliateView(r, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.render(w, r, "affiliate", u, map[string]any{"V": view})
	return nil
}

func (s *Server) scansPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	scans, err := s.Store.Scans(r.Context(), 50)
	if err != nil {
		return err
	}
	s.render(w, r, "scans", u, map[string]any{"Scans": scans, "CanScan": u.CanScan() && s.StartScan != nil, "Flash": r.URL.Query().Get("done")})
	return nil
}

// startScan starts a scan for an admin, through the same workflow as the CLI.
func (s *Server) startScan(r *http.Request, u affwatch.User) error {
	if !u.CanScan() {
		return fmt.Errorf("%w: only an admin starts scans", errForbidden)
	}
	if s.StartScan == nil {
		return fmt.Errorf("%w: this server does not start scans", affwatch.ErrConflict)
	}
	return s.StartScan(r.Context(), u.Name)
}

func (s *Server) startScanPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	if err := s.startScan(r, u); err != nil {
		if statusOf(err) != http.StatusConflict {
			return err
		}
		http.Redirect(w, r, "/scans?done="+url.QueryEscape(err.Error()), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/scans?done="+url.QueryEscape("scan started"), http.StatusSeeOther)
	return nil
}

// ruleRow is a rule of the catalogue with how often it fired.
type ruleRow struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Severity    affwatch.Severity `json:"severity"`
	Remediation string            `json:"remediation,omitempty"`
	Kind        string            `json:"kind"` // deny, warn (advisory) or detector
	Fired       int               `json:"fired"`
	Active      int               `json:"active"`
}

func (s *Server) ruleRows(r *http.Request, u affwatch.User) ([]ruleRow, error) {
	scope, scoped := u.Scope(s.Affiliates)
	counts, err := s.Store.RuleCounts(r.Context(), scoped, scope)
	if err != nil {
		return nil, err
	}
	byID := map[string]affwatch.RuleCount{}
	for _, c := range counts {
		byID[c.RuleID] = c
	}
	var out []ruleRow
	if s.Policies != nil {
		for _, x := range s.Policies().Rules() {
			kind := "deny"
			if !x.Deny {
				kind = "warn"
			}
			out = append(out, ruleRow{x.ID, x.Title, x.Description, x.Severity, x.Remediation, kind, byID[x.ID].Total, byID[x.ID].Active})
		}
	}
	for _, x := range detectors.Rules() {
		out = append(out, ruleRow{x.ID, x.Title, "fraud detector over the click and conversion logs (severity by tier: review medium, act high)",
			affwatch.SeverityUnknown, x.Remediation, "detector", byID[x.ID].Total, byID[x.ID].Active})
	}
	return out, nil
}

func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	rows, err := s.ruleRows(r, u)
	if err != nil {
		return err
	}
	rev := ""
	if s.Policies != nil {
		rev = s.Policies().Revision()
	}
	s.render(w, r, "rules", u, map[string]any{"Rules": rows, "Revision": rev})
	return nil
}

// maxPlayground bounds the HTML the playground takes.
const maxPlayground = 2 << 20

// playgroundPage extracts pasted HTML exactly as the crawler does and judges it with the
// policies in force, showing the Page document and the findings.
func (s *Server) playgroundPage(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	data := map[string]any{"Programs": s.Programs, "URL": "https://partner.example/review"}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxPlayground+64<<10)
		if err := r.ParseForm(); err != nil {
			return badField("html", "the page is larger than %d bytes", maxPlayground)
		}
		html, pageURL, progID := r.PostFormValue("html"), strings.TrimSpace(r.PostFormValue("url")), r.PostFormValue("program")
		data["HTML"], data["URL"], data["Program"] = html, pageURL, progID
		if u, err := url.Parse(pageURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badField("url", "%q is not an http(s) URL", pageURL)
		}
		prog := affwatch.Program{ID: progID}
		for _, p := range s.Programs {
			if p.ID == progID {
				prog = p
			}
		}
		page, err := crawler.Extract([]byte(html), pageURL, crawler.ExtractOptions{Program: &prog, MaxLinks: s.MaxLinks})
		if err != nil {
			return badField("html", "%v", err)
		}
		page.FinalURL, page.FetchStatus, page.FetchedAt, page.Program = pageURL, affwatch.FetchOK, s.now().UTC(), prog.ID
		page.Affiliate = affwatch.PageAffiliate{ID: "playground", NetworkIDs: map[string]string{}}
		if s.Policies == nil {
			return fmt.Errorf("%w: no policies are loaded", affwatch.ErrConflict)
		}
		eng := s.Policies()
		findings, err := eng.Evaluate(r.Context(), &page)
		var rf affwatch.RulesFailed
		if err != nil && !errors.As(err, &rf) {
			return fmt.Errorf("evaluate policies: %w", err)
		}
		if err != nil {
			data["RuleErrors"] = err.Error()
		}
		doc, _ := json.MarshalIndent(page, "", "  ")
		data["Findings"], data["Doc"], data["Revision"], data["Ran"] = findings, string(doc), eng.Revision(), true
	}
	s.render(w, r, "playground", u, data)
	return nil
}
