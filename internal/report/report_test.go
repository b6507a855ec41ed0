package report_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/report"
)

func TestPartnerTextIsEscaped(t *testing.T) {
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	hostile := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	vs := []affwatch.Violation{{
		RuleID: "DISC-001", Title: "Affiliate links without a disclosure", Severity: affwatch.SeverityHigh,
		Message: "links to " + hostile, AffiliateID: "evil\"><b>", URL: "javascript:alert(3)",
		Evidence: affwatch.Evidence{Snippet: hostile}, State: affwatch.StateNew, FirstSeen: now, LastSeen: now,
	}, {
		RuleID: "DISC-002", Severity: affwatch.SeverityMedium, Message: "=HYPERLINK(\"http://x\")", AffiliateID: "b",
		State: affwatch.StateResolved, ResolvedAt: now, FirstSeen: now.Add(-72 * time.Hour),
	}}
	r := report.Build("Report", "alice@acme.example", vs, now.Add(-24*time.Hour), now)
	if len(r.New) != 1 || len(r.Resolved) != 1 || r.Active() != 1 {
		t.Fatalf("new %d resolved %d", len(r.New), len(r.Resolved))
	}
	var html bytes.Buffer
	if err := r.HTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img src=x", `"><b>`, `href="javascript:`} {
		if strings.Contains(html.String(), bad) {
			t.Errorf("HTML report contains unescaped %q", bad)
		}
	}
	if !strings.Contains(html.String(), "&lt;script&gt;") {
		t.Error("the hostile snippet is not shown escaped")
	}
	var c bytes.Buffer
	if err := r.CSV(&c); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	if msg := rows[2][6]; !strings.HasPrefix(msg, "'=") {
		t.Errorf("formula not defused in CSV: %q", msg)
	}
	var txt bytes.Buffer
	if err := r.Text(&txt); err != nil || !strings.Contains(txt.String(), "[HIGH] DISC-001") {
		t.Errorf("text report: %v\n%s", err, txt.String())
	}
}
