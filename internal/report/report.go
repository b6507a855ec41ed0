// Package report renders what a manager reads: the violations of their affiliates, new,
// still open and resolved, as email-safe HTML, plain text and CSV. Every piece of partner
// content goes through html/template or is written as CSV data, never as markup.
package report

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/affwatch/affwatch"
)

//go:embed templates/*
var templates embed.FS

// Report is one manager's view of the program's violations.
type Report struct {
	Title     string
	Manager   string
	Generated time.Time
	Since     time.Time
	// Scan is the latest crawl scan, for the header line.
	Scan         affwatch.Scan
	DashboardURL string

	// New were first seen (or reopened) since Since; Open are older and still active;
	// Resolved were fixed since Since; Suppressed are kept quiet on purpose.
	New, Open, Resolved, Suppressed []affwatch.Violation
	// Counts are the active (new + open) violations by severity, most severe first.
	Counts []SeverityCount

	// TopRisks are the manager's riskiest partners (the scorecards' risk scores), and
	// BigChanges the partners whose numbers moved most against the period before: the
	// short table at the top of the report.
	TopRisks, BigChanges []PartnerRow

	// Charts are small PNG bar charts (the affiliate's value against the baseline) of the
	// detector findings, by fingerprint.
	Charts map[string][]byte
	// Crops are PNG crops of the page's screenshot around the offending element of new
	// violations on rendered pages, by fingerprint (AddCrops).
	Crops map[string][]byte
	// InlineCharts refers to the charts and crops as cid: parts of an email instead of
	// data: URIs.
	InlineCharts bool

	// Risk is the commission at risk: the conversions judged review or reject, nil when
	// the report has no verdicts to show.
	Risk *Risk
}

// Risk is the commission on conversions judged review or reject since a time (those the
// network already took back left out), per affiliate and per manager.
type Risk struct {
	Since      time.Time       `json:"since"`
	Commission float64         `json:"commission"`
	Managers   []ManagerRisk   `json:"managers"`
	Affiliates []AffiliateRisk `json:"affiliates"`
}

// ManagerRisk is one manager's affiliates' commission at risk.
type ManagerRisk struct {
	Manager    string  `json:"manager"`
	Affiliates int     `json:"affiliates"`
	Commission float64 `json:"commission"`
}

// AffiliateRisk is one affiliate's commission at risk, the conversions behind it by
// verdict, and the first few of them with their reason codes.
type AffiliateRisk struct {
	AffiliateID string                  `json:"affiliate_id"`
	Manager     string                  `json:"manager,omitempty"`
	Commission  float64                 `json:"commission"`
	Review      int                     `json:"review"`
	Reject      int                     `json:"reject"`
	Events      []affwatch.EventVerdict `json:"events,omitempty"`
}

// NewRisk sums affiliates' risks into a report's, most commission first, with each
// manager's total.
func NewRisk(since time.Time, affs []AffiliateRisk) *Risk {
	r := &Risk{Since: since, Affiliates: slices.Clone(affs), Managers: []ManagerRisk{}}
	if r.Affiliates == nil {
		r.Affiliates = []AffiliateRisk{}
	}
	sort.SliceStable(r.Affiliates, func(i, j int) bool {
		a, b := r.Affiliates[i], r.Affiliates[j]
		if a.Commission != b.Commission {
			return a.Commission > b.Commission
		}
		return a.AffiliateID < b.AffiliateID
	})
	byManager := map[string]*ManagerRisk{}
	for _, a := range r.Affiliates {
		r.Commission += a.Commission
		m := byManager[a.Manager]
		if m == nil {
			m = &ManagerRisk{Manager: a.Manager}
			byManager[a.Manager] = m
		}
		m.Affiliates++
		m.Commission += a.Commission
	}
	for _, name := range slices.Sorted(maps.Keys(byManager)) {
		r.Managers = append(r.Managers, *byManager[name])
	}
	return r
}

// Only is the part of the risk of these affiliates (a manager's report).
func (r *Risk) Only(keep func(affiliateID string) bool) *Risk {
	if r == nil {
		return nil
	}
	var affs []AffiliateRisk
	for _, a := range r.Affiliates {
		if keep(a.AffiliateID) {
			affs = append(affs, a)
		}
	}
	return NewRisk(r.Since, affs)
}

// PartnerRow is one partner in the report's risk table: its risk score with the reasons
// that weigh most, or the change that moved most.
type PartnerRow struct {
	AffiliateID string  `json:"affiliate_id"`
	Name        string  `json:"name,omitempty"`
	Risk        float64 `json:"risk"`
	Reasons     string  `json:"reasons,omitempty"`
	Change      string  `json:"change,omitempty"`
}

// SeverityCount is one cell of the summary.
type SeverityCount struct {
	Severity affwatch.Severity
	Count    int
}

// Build sorts violations into a report. since is the time of the previous report: what
// was first seen after it is new, what was resolved after it is listed as fixed.
func Build(title, manager string, vs []affwatch.Violation, since, now time.Time) Report {
	r := Report{Title: title, Manager: manager, Generated: now, Since: since}
	count := map[affwatch.Severity]int{}
	for _, v := range vs {
		switch {
		case v.State == affwatch.StateSuppressed:
			r.Suppressed = append(r.Suppressed, v)
		case v.State == affwatch.StateResolved:
			if !v.ResolvedAt.Before(since) {
				r.Resolved = append(r.Resolved, v)
			}
		case v.FirstSeen.After(since) || v.State == affwatch.StateNew || v.State == affwatch.StateReopened:
			r.New = append(r.New, v)
			count[v.Severity]++
		default:
			r.Open = append(r.Open, v)
			count[v.Severity]++
		}
	}
	for _, s := range affwatch.Severities() {
		r.Counts = append(r.Counts, SeverityCount{Severity: s, Count: count[s]})
	}
	r.Charts = map[string][]byte{}
	for _, list := range [][]affwatch.Violation{r.New, r.Open} {
		for _, v := range list {
			if png := chartOf(v); png != nil {
				r.Charts[v.Fingerprint] = png
			}
		}
	}
	sort.SliceStable(r.Counts, func(i, j int) bool { return r.Counts[i].Severity > r.Counts[j].Severity })
	for _, list := range [][]affwatch.Violation{r.New, r.Open, r.Resolved, r.Suppressed} {
		sort.SliceStable(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if a.Severity != b.Severity {
				return a.Severity > b.Severity
			}
			if a.AffiliateID != b.AffiliateID {
				return a.AffiliateID < b.AffiliateID
			}
			return a.RuleID < b.RuleID
		})
	}
	return r
}

// chartCID is the Content-ID of a violation's chart in an email.
func chartCID(fp string) string { return "chart-" + fp[:min(16, len(fp))] + "@affwatch" }

// chartSrc is where the HTML finds a violation's chart ("" when it has none).
func (r Report) chartSrc(fp string) template.URL {
	png, ok := r.Charts[fp]
	if !ok {
		return ""
	}
	if r.InlineCharts {
		return template.URL("cid:" + chartCID(fp))
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

// Active is the number of violations that still stand.
func (r Report) Active() int { return len(r.New) + len(r.Open) }

var funcs = map[string]any{
	"sevcolor": func(s affwatch.Severity) string {
		switch s {
		case affwatch.SeverityCritical:
			return "#7f1d1d"
		case affwatch.SeverityHigh:
			return "#b91c1c"
		case affwatch.SeverityMedium:
			return "#b45309"
		case affwatch.SeverityLow:
			return "#1d4ed8"
		}
		return "#4b5563"
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"age": func(from, now time.Time) string {
		d := now.Sub(from)
		if days := int(d.Hours() / 24); days >= 1 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dh", int(d.Hours()))
	},
	"upper": strings.ToUpper,
	"short": func(s string) string { return s[:min(12, len(s))] },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"highlight": highlight,
	"chart":     func(string) template.URL { return "" }, // replaced per report
	"crop":      func(string) template.URL { return "" }, // replaced per report
	"num":       func(x float64) string { return fmt.Sprintf("%.3g", x) },
	"money":     func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"link": func(base, fp string) template.URL {
		if base == "" {
			return ""
		}
		return template.URL(strings.TrimRight(base, "/") + "/violations/" + url.PathEscape(fp))
	},
	"numbers": func(m map[string]float64) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%.4g", k, m[k]))
		}
		return strings.Join(parts, ", ")
	},
}

var (
	htmlT = template.Must(template.New("report.html.tmpl").Funcs(funcs).ParseFS(templates, "templates/report.html.tmpl"))
	textT = texttemplate.Must(texttemplate.New("report.txt.tmpl").Funcs(funcs).ParseFS(templates, "templates/report.txt.tmpl"))
)

// HTML writes the email-safe HTML report (inline styles, table layout).
func (r Report) HTML(w io.Writer) error {
	t, err := htmlT.Clone()
	if err != nil {
		return err
	}
	return t.Funcs(map[string]any{"chart": r.chartSrc, "crop": r.cropSrc}).Execute(w, r)
}

// JSON writes the report as JSON, for other tools.
func (r Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Title, Manager                  string
		Generated, Since                time.Time
		Scan                            affwatch.Scan
		Counts                          []SeverityCount
		New, Open, Resolved, Suppressed []affwatch.Violation
		TopRisks                        []PartnerRow `json:"TopRisks,omitempty"`
		BigChanges                      []PartnerRow `json:"BigChanges,omitempty"`
		CommissionAtRisk                *Risk        `json:",omitempty"`
	}{r.Title, r.Manager, r.Generated, r.Since, r.Scan, r.Counts, r.New, r.Open, r.Resolved, r.Suppressed, r.TopRisks, r.BigChanges, r.Risk})
}

// Email is the report as one message: HTML with its charts inline, the plain text, and the
// CSV of every violation attached.
func (r Report) Email(to []string, subject string) (affwatch.Email, error) {
	r.InlineCharts = true
	var html, text, csvBuf bytes.Buffer
	if err := r.HTML(&html); err != nil {
		return affwatch.Email{}, err
	}
	if err := r.Text(&text); err != nil {
		return affwatch.Email{}, err
	}
	if err := r.CSV(&csvBuf); err != nil {
		return affwatch.Email{}, err
	}
	e := affwatch.Email{To: to, Subject: subject, Text: text.String(), HTML: html.String(),
		Attachments: []affwatch.Attachment{{Name: "violations.csv", ContentType: "text/csv", Data: csvBuf.Bytes()}}}
	for _, fp := range slices.Sorted(maps.Keys(r.Charts)) {
		e.Attachments = append(e.Attachments, affwatch.Attachment{Name: "chart-" + fp[:min(12, len(fp))] + ".png",
			ContentType: "image/png", Data: r.Charts[fp], ContentID: chartCID(fp)})
	}
	for _, fp := range slices.Sorted(maps.Keys(r.Crops)) {
		e.Attachments = append(e.Attachments, affwatch.Attachment{Name: "element-" + fp[:min(12, len(fp))] + ".png",
			ContentType: "image/png", Data: r.Crops[fp], ContentID: cropCID(fp)})
	}
	return e, nil
}

// Text writes the plain-text report.
func (r Report) Text(w io.Writer) error { return textT.Execute(w, r) }

// CSVHeader is the header row of the CSV export.
var CSVHeader = []string{"state", "severity", "rule_id", "title", "affiliate_id", "url", "message", "evidence",
	"first_seen", "last_seen", "resolved_at", "fingerprint"}

// CSV writes every violation of the report, one row each. Cells that a spreadsheet would
// run as a formula are prefixed with a quote.
func (r Report) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, list := range [][]affwatch.Violation{r.New, r.Open, r.Resolved, r.Suppressed} {
		for _, v := range list {
			row := []string{string(v.State), v.Severity.String(), v.RuleID, v.Title, v.AffiliateID, v.URL, v.Message,
				v.Evidence.Snippet, date(v.FirstSeen), date(v.LastSeen), date(v.ResolvedAt), v.Fingerprint}
			for i := range row {
				row[i] = csvSafe(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe defuses spreadsheet formula injection from partner text.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
