package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/fixtures"
)

func TestRenderConfigIsChecked(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"crawl", "crawl: {render: sometimes}\n", "crawl.render"},
		{"program", "programs: [{id: p, render: maybe}]\n", "programs[0].render"},
		{"affiliate", "programs: [{id: p}]\naffiliates: [{id: a, program: p, render: yes}]\n", "affiliates[0].render"},
		{"allow hosts", "crawl: {render_allow_hosts: [localhost]}\n", "crawl.render_allow_hosts[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(tc.yaml), "."); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	cfg, err := ParseConfig([]byte("programs: [{id: p, render: auto}]\naffiliates: [{id: a, program: p, render: always}]\n"), ".")
	if err != nil || cfg.Crawl.Render != affwatch.RenderNever || cfg.Programs[0].Render != affwatch.RenderAuto || !cfg.rendering() {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// A scan with render: always on one affiliate judges that affiliate's script-built page as
// a reader sees it (DISC-001), while the same page under another affiliate, not rendered,
// shows nothing.
func TestScanRendersWhereConfigured(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	page := srv.URL("render-cases") + "script-only.html"
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true, render_timeout: 5s, render_tabs: 1}\n"+
		"programs: [{id: acme}]\naffiliates:\n  - {id: rendered, program: acme, sites: [%q], render: always}\n  - {id: static, program: acme, sites: [%q]}\n", page, page))
	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if code != exitViolations {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	vs, err := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(vs); fmt.Sprint(got) != fmt.Sprint([]key{{"DISC-001", "rendered", page}}) {
		t.Fatalf("violations %v", got)
	}
}
