package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/mailpittest"
)

// hostileLink is a page whose affiliate link text is markup, as a partner could write it.
const hostileLink = `<html><body><h1>Deals</h1><p><a href="https://www.amazon.com/dp/B01?tag=fixer-20" rel="sponsored">&lt;img src=x onerror=alert(1)&gt; Buy</a></p></body></html>`
const hostileFixed = `<html><body><p>We earn a commission from qualifying purchases.</p><h1>Deals</h1><p><a href="https://www.amazon.com/dp/B01?tag=fixer-20" rel="sponsored">&lt;img src=x onerror=alert(1)&gt; Buy</a></p></body></html>`

// The night end to end: fixture sites and sample events, scan, detect, and each manager's
// report delivered through a real SMTP server (STARTTLS, auth) with only their affiliates;
// a second night reports the page the partner fixed as resolved.
func TestNightlyReportsReachEachManager(t *testing.T) {
	mp := mailpittest.Start(t)
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p := &page{}
	p.body.Store(hostileLink)
	fixer := httptest.NewServer(p)
	defer fixer.Close()

	dir := t.TempDir()
	t.Setenv("AFFWATCH_TEST_SMTP_PASSWORD", "s3cret")
	cfg := writeConfig(t, dir, demoConfig(srv)+fmt.Sprintf(`  - {id: fixer, name: Fixer, program: acme, manager: bob@acme.example, sites: [%q]}
smtp:
  host: 127.0.0.1
  port: %d
  username: affwatch
  password_env: AFFWATCH_TEST_SMTP_PASSWORD
  from: "affwatch <affwatch@acme.example>"
  tls: starttls
  ca_file: %s
`, fixer.URL+"/", mp.SMTPPort, mp.CertFile))

	night := func() {
		t.Helper()
		if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
			t.Fatalf("scan: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := runCLI(t, "detect", "--config", cfg, "--end", "2026-11-23T00:00:00Z"); code != exitOK {
			t.Fatalf("detect: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := runCLI(t, "report", "--config", cfg, "--send", "--out", filepath.Join(dir, "reports")); code != exitOK {
			t.Fatalf("report --send: exit %d\n%s%s", code, out, errOut)
		}
	}
	for _, kind := range []string{"clicks", "conversions"} {
		f := filepath.Join(dir, kind+".csv")
		raw, _ := fixtures.Events.ReadFile("events/" + kind + ".csv")
		os.WriteFile(f, raw, 0o644)
		if code, out, errOut := runCLI(t, "ingest", kind, "--config", cfg, f); code != exitOK {
			t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
		}
	}
	night()

	byTo := map[string]mailpittest.Message{}
	for _, s := range mp.Messages() {
		if len(s.To) != 1 {
			t.Fatalf("a report went to %v: one manager per message", s.To)
		}
		byTo[s.To[0].Address] = mp.Message(s.ID)
	}
	if len(byTo) != 2 {
		t.Fatalf("messages to %v, want alice and bob", byTo)
	}
	mine := map[string][]string{"alice@acme.example": {"deal-hunter"}, "bob@acme.example": {"stuffer", "late-disclosure", "fixer"}}
	theirs := map[string][]string{"alice@acme.example": {"stuffer", "late-disclosure", "fixer"}, "bob@acme.example": {"deal-hunter"}}
	for to, m := range byTo {
		if !strings.Contains(m.Subject, "new") || m.From.Address != "affwatch@acme.example" {
			t.Errorf("%s: subject %q from %v", to, m.Subject, m.From)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].FileName != "violations.csv" {
			t.Fatalf("%s: attachments %+v", to, m.Attachments)
		}
		csv := string(mp.PartData(m.ID, m.Attachments[0].PartID))
		for _, part := range []struct{ name, body string }{{"text", m.Text}, {"html", m.HTML}, {"csv", csv}} {
			for _, aff := range mine[to] {
				if !strings.Contains(part.body, aff) {
					t.Errorf("%s's %s part does not list their affiliate %s", to, part.name, aff)
				}
			}
			for _, aff := range theirs[to] {
				if strings.Contains(part.body, aff) {
					t.Errorf("%s's %s part shows %s, another manager's affiliate", to, part.name, aff)
				}
			}
		}
	}
	bob := byTo["bob@acme.example"]
	if strings.Contains(bob.HTML, "<img src=x") || !strings.Contains(bob.HTML, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the partner's markup is not escaped in the HTML part")
	}

	// Sending again for the same scans sends nothing.
	if code, out, _ := runCLI(t, "report", "--config", cfg, "--send", "--out", filepath.Join(dir, "reports")); code != exitOK || !strings.Contains(out, "0 report(s) queued (2 already queued") {
		t.Fatalf("second send for the same scans: exit %d\n%s", code, out)
	}
	if n := len(mp.Messages()); n != 2 {
		t.Fatalf("%d messages after a repeated send, want 2", n)
	}

	// The partner fixes the page; the next night's report to bob lists it as resolved.
	p.body.Store(hostileFixed)
	night()
	var latest mailpittest.Message
	for _, s := range mp.Messages() { // newest first
		if s.To[0].Address == "bob@acme.example" {
			latest = mp.Message(s.ID)
			break
		}
	}
	resolved := latest.Text[strings.Index(latest.Text, "== RESOLVED"):]
	if !strings.Contains(resolved, "DISC-001") || !strings.Contains(resolved, "fixer") {
		t.Errorf("the fixed page is not reported as resolved:\n%s", latest.Text)
	}
	if n := len(mp.Messages()); n != 4 {
		t.Errorf("%d messages after two nights, want 4", n)
	}
}

// The SMTP server is down when the night's reports go out: the command fails naming the
// server, nothing is lost (the outbox lists both), and once the server is back the next
// `report --send` delivers each report once.
func TestReportsWaitInTheOutboxForTheServer(t *testing.T) {
	mp := mailpittest.Start(t)
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, demoConfig(srv)+fmt.Sprintf(`smtp:
  host: 127.0.0.1
  port: %d
  from: "affwatch <affwatch@acme.example>"
  tls: starttls
  ca_file: %s
`, mp.SMTPPort, mp.CertFile))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatalf("scan: exit %d\n%s%s", code, out, errOut)
	}
	mp.Stop()
	out := filepath.Join(dir, "reports")
	code, stdout, stderr := runCLI(t, "report", "--config", cfg, "--send", "--out", out)
	if code != exitPartial || !strings.Contains(stderr, fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort)) || !strings.Contains(stderr, "kept in the outbox") {
		t.Fatalf("with the server down: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, "outbox", "--config", cfg, "--pending"); code != exitOK || strings.Count(stdout, "next try") != 2 {
		t.Fatalf("outbox while the server is down:\n%s", stdout)
	}
	mp.Restart()
	code, stdout, stderr = runCLI(t, "report", "--config", cfg, "--send", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "2 delivered") {
		t.Fatalf("once the server is back: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, "report", "--config", cfg, "--send", "--out", out); code != exitOK || !strings.Contains(stdout, "0 delivered") {
		t.Fatalf("a third send: exit %d\n%s", code, stdout)
	}
	if n := len(mp.Messages()); n != 2 {
		t.Fatalf("%d messages arrived, want 2 (alice's and bob's, once each)", n)
	}
}
