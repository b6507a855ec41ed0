// Package output renders what affwatch's commands report (one page's findings, a scan's
// violations, the policy tests, the policy check) in the format the reader asks for with
// --format: text for people, and json, sarif and junit for other programs. Every command
// builds one Report and hands it to the Outputter that Get chooses, like conftest's
// output.Get.
package output

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// Format is an output format's name, as --format takes it.
type Format string

// The formats. Text is for people and may change; JSON, SARIF and JUnit are for programs,
// and their field names are stable (JSON: docs/schemas/output.schema.json).
const (
	Text  Format = "text"
	JSON  Format = "json"
	SARIF Format = "sarif"
	JUnit Format = "junit"
)

// SchemaVersion is the version of the JSON document (schema_version); it changes only
// when a field is renamed or removed.
const SchemaVersion = 1

// Outputter writes a report in one format.
type Outputter interface {
	Output(w io.Writer, r *Report) error
}

// Get returns the outputter of the named format, if it is one of those the command
// offers; "pretty" is the old name of text.
func Get(name string, offered ...Format) (Outputter, error) {
	f := Format(strings.ToLower(strings.TrimSpace(name)))
	if f == "pretty" || f == "" {
		f = Text
	}
	if !slices.Contains(offered, f) {
		names := make([]string, len(offered))
		for i, o := range offered {
			names[i] = string(o)
		}
		return nil, fmt.Errorf("--format %q: want one of %s", name, strings.Join(names, ", "))
	}
	switch f {
	case Text:
		return textOutput{}, nil
	case JSON:
		return jsonOutput{}, nil
	case SARIF:
		return sarifOutput{}, nil
	case JUnit:
		return junitOutput{}, nil
	}
	return nil, fmt.Errorf("--format %q: unknown format", name)
}

// The commands a report comes from.
const (
	CommandEval  = "policy eval"
	CommandTest  = "policy test"
	CommandCheck = "policy check"
	CommandScan  = "scan"
	CommandPages = "pages show"
)

// Report is what one command run has to say. Which parts are set depends on the command:
// Pages for policy eval, Scan and Violations for scan, Tests for policy test, Check for
// policy check; Rules (the catalogue) for eval, check and scan.
type Report struct {
	SchemaVersion  int    `json:"schema_version"`
	Tool           Tool   `json:"tool"`
	Command        string `json:"command"`
	PolicyRevision string `json:"policy_revision,omitempty"`
	Rules          []Rule `json:"rules,omitempty"`

	Pages []Page `json:"pages,omitempty"`

	Scan       *Scan       `json:"scan,omitempty"`
	Violations []Violation `json:"violations,omitempty"`

	Tests    []Test    `json:"tests,omitempty"`
	Coverage *Coverage `json:"coverage,omitempty"`

	Check *Check `json:"check,omitempty"`

	Decisions []Decision `json:"decisions,omitempty"`

	Summary Summary `json:"summary"`

	// Explain asks the text output for the rules that passed and each rule's reasons.
	Explain bool `json:"-"`
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URI     string `json:"information_uri,omitempty"`
}

// Rule is one entry of the rule catalogue, from the rule's METADATA.
type Rule struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Severity    string `json:"severity"`
	Remediation string `json:"remediation,omitempty"`
	Package     string `json:"package,omitempty"`
	File        string `json:"file,omitempty"`
	Line        int    `json:"line,omitempty"`
	// Kind is deny (violations), warn (advisories) or both.
	Kind string `json:"kind"`
}

// Page is one page judged by the policies and what they found on it.
type Page struct {
	URL            string    `json:"url"`
	FetchStatus    string    `json:"fetch_status"`
	Links          int       `json:"links"`
	AffiliateLinks int       `json:"affiliate_links"`
	Disclosures    int       `json:"disclosures"`
	Embeds         int       `json:"embeds"`
	Findings       []Finding `json:"findings"`
	// RuleErrors are the rules that failed on the page (rule id: error); they judged nothing.
	RuleErrors map[string]string `json:"rule_errors,omitempty"`
}

// Finding is one finding of a rule on a page.
type Finding struct {
	RuleID   string `json:"rule_id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	// Kind is deny (a violation) or warn (an advisory).
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Suppressed is the reason when a program exception covers the finding.
	Suppressed string   `json:"suppressed,omitempty"`
	Evidence   Evidence `json:"evidence"`
}

// Evidence locates a finding on its page: the element's CSS selector and the character
// offset into the page's visible text.
type Evidence struct {
	Snippet  string             `json:"snippet,omitempty"`
	Selector string             `json:"selector,omitempty"`
	Offset   int                `json:"offset"`
	URL      string             `json:"url,omitempty"`
	Key      string             `json:"key,omitempty"`
	Numbers  map[string]float64 `json:"numbers,omitempty"`
}

// Scan is one crawl-and-check run and its counts.
type Scan struct {
	ID          int64  `json:"id"`
	Status      string `json:"status"`
	Pages       int    `json:"pages"`
	Verified    int    `json:"verified"`
	NotVerified int    `json:"not_verified"`
	Findings    int    `json:"findings"`
	New         int    `json:"new"`
	Reopened    int    `json:"reopened"`
	Resolved    int    `json:"resolved"`
	Error       string `json:"error,omitempty"`
}

// Violation is a finding tracked across scans, as the scan left it.
type Violation struct {
	Fingerprint    string   `json:"fingerprint"`
	RuleID         string   `json:"rule_id"`
	Title          string   `json:"title"`
	Severity       string   `json:"severity"`
	State          string   `json:"state"`
	Advisory       bool     `json:"advisory"`
	AffiliateID    string   `json:"affiliate_id"`
	ProgramID      string   `json:"program_id,omitempty"`
	URL            string   `json:"url"`
	Message        string   `json:"message"`
	PolicyRevision string   `json:"policy_revision,omitempty"`
	Evidence       Evidence `json:"evidence"`
}

// Test is one Rego unit test's outcome.
type Test struct {
	Package string `json:"package"`
	Name    string `json:"name"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	// Status is pass, fail, error or skip.
	Status     string    `json:"status"`
	DurationMS float64   `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Output     string    `json:"output,omitempty"`
	Failures   []Failure `json:"failures,omitempty"`
}

// Failure is an expression of a failing test that did not hold, with its variables.
type Failure struct {
	Location   string            `json:"location"`
	Expression string            `json:"expression"`
	Vars       map[string]string `json:"vars,omitempty"`
}

// Coverage is which policy lines the tests ran, in percent.
type Coverage struct {
	Percent float64        `json:"percent"`
	Files   []FileCoverage `json:"files"`
	// Threshold is the percentage asked for (0: none).
	Threshold float64 `json:"threshold,omitempty"`
}

// FileCoverage is one policy file's coverage and the line ranges the tests did not run.
type FileCoverage struct {
	File       string      `json:"file"`
	Percent    float64     `json:"percent"`
	NotCovered []LineRange `json:"not_covered,omitempty"`
}

// LineRange is a range of lines, both ends included.
type LineRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Check is what policy check found: the pack compiled or not, and each problem.
type Check struct {
	Compiled bool   `json:"compiled"`
	Rules    int    `json:"rules"`
	Revision string `json:"revision,omitempty"`
	// Error is the load error as people read it (every problem, with file and line).
	Error       string    `json:"error,omitempty"`
	Problems    []Problem `json:"problems,omitempty"`
	Unformatted []string  `json:"unformatted,omitempty"`
}

// Problem is one problem in a policy file.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// Decision is one scan's decision record about one page: fetched or not, the policy
// revision that judged it, the rules judged and those that found something.
type Decision struct {
	ScanID         int64    `json:"scan_id"`
	ScanStarted    string   `json:"scan_started"`
	AffiliateID    string   `json:"affiliate_id"`
	URL            string   `json:"url"`
	FetchStatus    string   `json:"fetch_status"`
	FetchError     string   `json:"fetch_error,omitempty"`
	PolicyRevision string   `json:"policy_revision,omitempty"`
	Recorded       bool     `json:"recorded"`
	Judged         []string `json:"judged"`
	Violated       []string `json:"violated"`
	EvalErrors     string   `json:"eval_errors,omitempty"`
	Findings       int      `json:"findings"`
}

// DecisionOf is a stored decision record as reported; Recorded is false for pages stored
// before decision records were kept, or not judged at all.
func DecisionOf(d affwatch.PageDecision) Decision {
	out := Decision{ScanID: d.ScanID, ScanStarted: d.ScanStarted.UTC().Format(time.RFC3339), AffiliateID: d.AffiliateID, URL: d.URL,
		FetchStatus: string(d.FetchStatus), FetchError: d.FetchError, PolicyRevision: d.PolicyRevision, Recorded: d.Judged != nil,
		Judged: d.Judged, Violated: d.Violated, EvalErrors: d.EvalErrors, Findings: d.Findings}
	if out.Judged == nil {
		out.Judged = []string{}
	}
	if out.Violated == nil {
		out.Violated = []string{}
	}
	return out
}

// Summary counts what the report holds and says whether the command succeeded.
type Summary struct {
	// OK is false when the command exits non-zero for what it found (violations at or
	// above the threshold, a failing test, a problem in the policies).
	OK         bool    `json:"ok"`
	Findings   int     `json:"findings,omitempty"`
	Tests      int     `json:"tests,omitempty"`
	Passed     int     `json:"passed,omitempty"`
	Failed     int     `json:"failed,omitempty"`
	Skipped    int     `json:"skipped,omitempty"`
	Problems   int     `json:"problems,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// Duration is a millisecond count as the JSON and JUnit documents carry it.
func Duration(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// FindingOf is a page finding as reported.
func FindingOf(f affwatch.Finding) Finding {
	kind := "deny"
	if f.Advisory {
		kind = "warn"
	}
	return Finding{RuleID: f.RuleID, Title: f.Title, Severity: f.Severity.String(), Kind: kind, Message: f.Message,
		Suppressed: f.Suppressed, Evidence: EvidenceOf(f.Evidence)}
}

// EvidenceOf is evidence as reported.
func EvidenceOf(e affwatch.Evidence) Evidence {
	return Evidence{Snippet: e.Snippet, Selector: e.Selector, Offset: e.Offset, URL: e.URL, Key: e.Key, Numbers: e.Numbers}
}

// PageOf is a judged page and its findings as reported.
func PageOf(p *affwatch.Page, findings []affwatch.Finding) Page {
	out := Page{URL: p.URL, FetchStatus: string(p.FetchStatus), Links: len(p.Links), AffiliateLinks: len(p.AffiliateLinks()),
		Disclosures: len(p.Disclosures), Embeds: len(p.Embeds), Findings: []Finding{}}
	for _, f := range findings {
		out.Findings = append(out.Findings, FindingOf(f))
	}
	return out
}

// ViolationOf is a stored violation as reported.
func ViolationOf(v affwatch.Violation) Violation {
	return Violation{Fingerprint: v.Fingerprint, RuleID: v.RuleID, Title: v.Title, Severity: v.Severity.String(),
		State: string(v.State), Advisory: v.Advisory, AffiliateID: v.AffiliateID, ProgramID: v.ProgramID, URL: v.URL,
		Message: v.Message, PolicyRevision: v.PolicyRevision, Evidence: EvidenceOf(v.Evidence)}
}

// ScanOf is a scan and its counts as reported.
func ScanOf(s affwatch.Scan) *Scan {
	c := s.Counts
	return &Scan{ID: s.ID, Status: string(s.Status), Pages: c.Pages, Verified: c.Verified, NotVerified: c.Failed,
		Findings: c.Findings, New: c.New, Reopened: c.Reopened, Resolved: c.Resolved, Error: s.Error}
}
