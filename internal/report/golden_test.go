package report_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sampleReport is a manager's morning: a new claim violation with hostile partner text, a
// detector finding with its numbers, a violation open for days, and one the partner fixed.
func sampleReport() report.Report {
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	vs := []affwatch.Violation{{
		Fingerprint: "a1b2c3d4e5f6a7b8c9d0", RuleID: "CLAIM-001", Title: "Prohibited claims", Severity: affwatch.SeverityHigh,
		Source: affwatch.SourcePolicy, AffiliateID: "deal-hunter", URL: "https://deals.example/review?x=<b>",
		Message:     `prohibited claim "guaranteed results"`,
		Remediation: "Remove the claim; the program does not allow promises of results.",
		Evidence: affwatch.Evidence{Snippet: `Our <script>alert(1)</script> pick: GUARANTEED RESULTS in 7 days or your money back!`,
			Key: "guaranteed results"},
		State: affwatch.StateNew, FirstSeen: now.Add(-2 * time.Hour), LastSeen: now.Add(-2 * time.Hour),
	}, {
		Fingerprint: "f00dfacecafe00112233", RuleID: "FRAUD-INJ-001", Title: "Click injection: conversions seconds after the click",
		Severity: affwatch.SeverityHigh, Source: affwatch.SourceDetector, AffiliateID: "fastclick",
		Message: "56.7% of conversions (55 of 97) came within 10 s of their click, against 2.6% in the program",
		Evidence: affwatch.Evidence{Snippet: "56.7% of conversions came within 10 s", Key: "FRAUD-INJ-001", Tier: "act",
			Numbers: map[string]float64{"value": 0.567, "baseline": 0.026, "p": 1e-16, "q": 3e-15, "n": 97, "events": 55},
			Events:  []affwatch.EventVerdict{fastEvent("v-1001", "o-77", 3), fastEvent("v-1002", "o-78", 1.5)}},
		State: affwatch.StateOpen, FirstSeen: now.Add(-50 * time.Hour), LastSeen: now.Add(-1 * time.Hour),
	}, {
		Fingerprint: "0011223344556677", RuleID: "DISC-002", Title: "Disclosure after the first affiliate link",
		Severity: affwatch.SeverityMedium, Source: affwatch.SourcePolicy, AffiliateID: "late-disclosure", URL: "https://late.example/",
		Message: "the first disclosure comes after the first affiliate link", State: affwatch.StateResolved,
		FirstSeen: now.Add(-96 * time.Hour), LastSeen: now.Add(-30 * time.Hour), ResolvedAt: now.Add(-3 * time.Hour),
	}}
	r := report.Build("affwatch: affiliate compliance report", "alice@acme.example", vs, now.Add(-24*time.Hour), now)
	r.DashboardURL = "https://affwatch.acme.example"
	r.TopRisks = []report.PartnerRow{
		{AffiliateID: "fastclick", Name: `Fast <script>alert("x")</script> Click`, Risk: 63, Reasons: "FRAUD-INJ-001 35, CLAIM-001 20, conversion_rate_jump 8"},
		{AffiliateID: "deal-hunter", Risk: 20, Reasons: "CLAIM-001 20"},
	}
	r.BigChanges = []report.PartnerRow{{AffiliateID: "fastclick", Name: `Fast <script>alert("x")</script> Click`,
		Change: "conversion rate +180% (5.60% against 2.00%)"}}
	// Two of two conversions under 10 s: too few for the detector's sample, both shown.
	r.Risk = report.NewRisk(now.Add(-7*24*time.Hour), []report.AffiliateRisk{
		{AffiliateID: "fastclick", Manager: "alice@acme.example", Commission: 412.5, Reject: 55, Review: 3,
			Events: []affwatch.EventVerdict{fastEvent("v-1001", "o-77", 3)}},
		{AffiliateID: "tiny-<i>new</i>", Manager: "alice@acme.example", Commission: 9, Reject: 2,
			Events: []affwatch.EventVerdict{fastEvent("v-2001", "o-90", 2), fastEvent("v-2002", "o-91", 4)}},
	})
	return r
}

// fastEvent is a conversion rejected for coming seconds after its click.
func fastEvent(id, order string, seconds float64) affwatch.EventVerdict {
	return affwatch.EventVerdict{ConversionID: id, OrderID: order, AffiliateID: "fastclick", Commission: 4.5, Verdict: affwatch.VerdictReject,
		Reasons: []affwatch.Reason{{Code: "CTIT_FAST", Detail: fmt.Sprintf("converted %g s after its click (floor 10 s)", seconds),
			Numbers: map[string]float64{"ctit_seconds": seconds, "floor_seconds": 10}}}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/report -update rewrites it after a deliberate change)\n--- got:\n%s", name, got)
	}
}

func TestReportGolden(t *testing.T) {
	r := sampleReport()
	var html, txt bytes.Buffer
	if err := r.HTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := r.Text(&txt); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.html.golden", html.Bytes())
	golden(t, "report.txt.golden", txt.Bytes())

	h := html.String()
	for _, want := range []string{
		`<mark style="background:#fde68a;color:#111827;">GUARANTEED RESULTS</mark>`, // the offending text, marked
		`&lt;script&gt;alert(1)&lt;/script&gt;`,                                     // partner markup, escaped
		`src="data:image/png;base64,`,                                               // the detector's chart
		`href="https://affwatch.acme.example/violations/a1b2c3d4e5f6a7b8c9d0"`,      // the dashboard link
		`(open 2d)`, // the age of what is still open
	} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
}

func TestReportEmailInlinesChartsAndAttachesCSV(t *testing.T) {
	r := sampleReport()
	e, err := r.Email([]string{"alice@acme.example"}, "report")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Attachments) != 2 || e.Attachments[0].Name != "violations.csv" || e.Attachments[1].ContentID == "" {
		t.Fatalf("attachments %+v", e.Attachments)
	}
	if !strings.Contains(e.HTML, `src="cid:`+e.Attachments[1].ContentID+`"`) || strings.Contains(e.HTML, "data:image") {
		t.Error("the email's HTML does not refer to its inline chart by cid")
	}
	if !bytes.HasPrefix(e.Attachments[1].Data, []byte("\x89PNG")) {
		t.Error("the chart is not a PNG")
	}
	if !strings.Contains(string(e.Attachments[0].Data), "CLAIM-001") || !strings.Contains(e.Text, "FRAUD-INJ-001") {
		t.Error("the CSV or the text part lacks the violations")
	}
}
