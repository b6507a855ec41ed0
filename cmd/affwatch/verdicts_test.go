package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/internal/testkit"
)

// Ingest judges every conversion; `events list --verdict reject --format csv` gives
// exactly the columns of a bulk-reversal upload, and several verdicts can be asked for.
func TestEventsListGivesTheReversalUpload(t *testing.T) { verdictsEndToEnd(t, "") }

// The same on PostgreSQL.
func TestVerdictsOnPostgres(t *testing.T) {
	verdictsEndToEnd(t, fmt.Sprintf("store: {dsn: %q}\n", testkit.Postgres(t)))
}

// verdictsEndToEnd ingests, lists, detects and reports on the store extra names (none:
// SQLite in the test's directory).
func verdictsEndToEnd(t *testing.T, extra string) {
	dir := t.TempDir()
	// The window reaches back to the events' day, so the report counts them at risk.
	cfg := writeConfig(t, dir, "programs: [{id: p}]\naffiliates: [{id: a, program: p, manager: m@example.com}]\ndetect: {window: 3650d}\n"+extra)
	clicks := filepath.Join(dir, "clicks.csv")
	convs := filepath.Join(dir, "conversions.csv")
	os.WriteFile(clicks, []byte("click_id,ts,affiliate_id,ip,user_agent\n"+
		"c1,2026-11-01T10:00:00Z,a,81.2.69.1,Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0\n"+
		"c2,2026-11-01T10:00:00Z,a,5.9.10.11,Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0\n"), 0o644)
	os.WriteFile(convs, []byte("conversion_id,click_id,ts,affiliate_id,order_id,commission\n"+
		"v1,c1,2026-11-01T10:00:04Z,a,o1,2.50\n"+ // 4 s after its click: CTIT_FAST
		"v2,c1,2026-11-01T11:00:00Z,a,o2,3\n"+ // ok
		"v3,c2,2026-11-01T11:00:00Z,a,o3,4\n"), 0o644) // hosting address: review
	for _, f := range []struct{ kind, file, want string }{
		{"clicks", clicks, "2 loaded, 0 already loaded, 0 skipped, 0 rejected, 0 conflicting; verdicts: 1 ok, 1 review, 0 reject"},
		{"conversions", convs, "3 loaded, 0 already loaded, 0 skipped, 0 rejected, 0 conflicting; verdicts: 1 ok, 1 review, 1 reject"},
	} {
		code, out, errOut := runCLI(t, "ingest", f.kind, "--config", cfg, f.file)
		if code != exitOK || !strings.Contains(out, f.want) {
			t.Fatalf("ingest %s: exit %d\n%s%s", f.kind, code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, "events", "list", "--config", cfg, "--verdict", "reject", "--format", "csv")
	want := "conversion_id,order_id,reason\nv1,o1,CTIT_FAST: converted 4 s after its click (floor 10 s)\n"
	if code != exitOK || out != want {
		t.Fatalf("exit %d\n%q\nwant %q\n%s", code, out, want, errOut)
	}
	code, out, _ = runCLI(t, "events", "list", "--config", cfg, "--verdict", "review,reject", "--format", "csv")
	if code != exitOK || !strings.Contains(out, "v1,o1,") || !strings.Contains(out, "v3,o3,DATACENTER_IP: address 5.9.10.11 is in hetzner's published ranges") ||
		strings.Contains(out, "v2,") {
		t.Fatalf("review and reject: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "events", "list", "--config", cfg, "--verdict", "ok")
	if code != exitOK || !strings.Contains(out, "v2") || strings.Contains(out, "v1 ") {
		t.Fatalf("ok: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "events", "list", "--config", cfg, "--verdict", "bad"); code != exitError ||
		!strings.Contains(errOut, `"bad" is not a verdict`) {
		t.Fatalf("a bad verdict: exit %d %s", code, errOut)
	}
	// detect judges the window again and says so
	code, out, errOut = runCLI(t, "detect", "--config", cfg, "--end", "2026-11-02T00:00:00Z")
	if code != exitOK || !strings.Contains(out, "conversions judged again in the window: 1 ok, 1 review, 1 reject") {
		t.Fatalf("detect: exit %d\n%s%s", code, out, errOut)
	}
	// The reports sum the commission at risk per affiliate and manager, and list the events.
	reports := filepath.Join(dir, "reports")
	if code, out, errOut := runCLI(t, "report", "--config", cfg, "--out", reports); code != exitOK {
		t.Fatalf("report: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []struct{ file, want string }{
		{"report-all.txt", "COMMISSION AT RISK"},
		{"report-all.txt", "manager m@example.com: 6.50 over 1 affiliate(s)"},
		{"report-all.txt", "a: 6.50 (1 reject, 1 review)"},
		{"report-all.txt", "v1 order o1 2.50 reject: CTIT_FAST: converted 4 s after its click (floor 10 s)"},
		{"report-m@example.com.txt", "a: 6.50 (1 reject, 1 review)"},
		{"report-all.json", `"CommissionAtRisk": {`},
	} {
		b, err := os.ReadFile(filepath.Join(reports, f.file))
		if err != nil || !strings.Contains(string(b), f.want) {
			t.Errorf("%s does not say %q (%v):\n%s", f.file, f.want, err, b)
		}
	}
}

// A verdict setting that makes no sense is a config error naming the line and the key.
func TestVerdictConfigErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "programs: [{id: p}]\nverdicts:\n  flood_clicks: -1\n  codes:\n    DATACENTER: ok\n    BOT_UA: maybe\n")
	code, _, errOut := runCLI(t, "events", "list", "--config", cfg)
	for _, want := range []string{"line 3: verdicts.flood_clicks: cannot be negative", `line 5: verdicts.codes.DATACENTER: "DATACENTER" is not a reason code`,
		`line 6: verdicts.codes.BOT_UA: "maybe" is not a verdict`} {
		if code != exitError || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want %q in\n%s", code, want, errOut)
		}
	}
}
