package chrome

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// The cloaking server shows crawlers a compliant page and readers from a search engine
// another: a scan without personas (static or rendered) finds nothing; with a persona
// arriving from Google in a desktop browser, CLOAK-001 names what differs with both views,
// and a persona arriving without a referrer is shown the crawler's page.
func TestCloaking(t *testing.T) {
	ctx := context.Background()
	eng := func(prog affwatch.Program) *rules.Engine {
		e, err := rules.Load(ctx, []rules.Source{{Name: "policies", FS: policies.FS}}, rules.Options{Programs: []affwatch.Program{prog}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	scan := func(t *testing.T, mode affwatch.RenderMode, personas ...affwatch.Persona) (affwatch.Page, []affwatch.Finding) {
		prog := fixtures.Program()
		prog.CloakingPersonas = personas
		c := crawler.New(crawler.Config{AllowPrivate: true, NoSitemaps: true, Render: mode, Renderer: noClose{shared}}, []affwatch.Program{prog})
		c.Logger = slog.New(slog.DiscardHandler)
		defer c.Close()
		var pages []affwatch.Page
		aff := affwatch.Affiliate{ID: "fixture", Program: prog.ID, Sites: []string{srv.URL("cloaking")}}
		if err := c.Crawl(ctx, aff, func(s affwatch.Snapshot) error { pages = append(pages, s.Page); return nil }); err != nil || len(pages) != 1 {
			t.Fatalf("crawl: %v, %d pages", err, len(pages))
		}
		fs, err := eng(prog).Evaluate(ctx, &pages[0])
		if err != nil {
			t.Fatal(err)
		}
		return pages[0], fs
	}
	ids := func(fs []affwatch.Finding) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.RuleID)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	google := affwatch.Persona{Name: "google-desktop", Referrer: "https://www.google.com/"}
	direct := affwatch.Persona{Name: "direct-mobile", Mobile: true}

	if _, fs := scan(t, affwatch.RenderNever); len(fs) != 0 {
		t.Errorf("static scan: %s, want none", ids(fs))
	}
	if _, fs := scan(t, affwatch.RenderAlways); len(fs) != 0 {
		t.Errorf("rendered scan: %s, want none", ids(fs))
	}
	p, fs := scan(t, affwatch.RenderNever, google, direct)
	if ids(fs) != "CLOAK-001" {
		t.Fatalf("with personas: %s, want CLOAK-001 (views %+v)", ids(fs), p.Views)
	}
	if len(p.Views) != 2 || p.Views[0].FetchStatus != affwatch.FetchOK || p.Views[1].FetchStatus != affwatch.FetchOK {
		t.Fatalf("views %+v", p.Views)
	}
	f := fs[0]
	for _, want := range []string{"google-desktop", "other affiliate links", "a disclosure only the crawler saw", "other claims"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q lacks %q", f.Message, want)
		}
	}
	for _, want := range []string{"crawler saw: affiliate links awin:998877; a disclosure; claims none",
		"reader saw: affiliate links awin:112233; no disclosure; claims guarantee"} {
		if !strings.Contains(f.Evidence.Snippet, want) {
			t.Errorf("evidence %q lacks %q", f.Evidence.Snippet, want)
		}
	}
	if f.Evidence.Key != "google-desktop" || !strings.Contains(p.Views[1].UserAgent, "Mobile") {
		t.Errorf("key %q, mobile persona's user agent %q", f.Evidence.Key, p.Views[1].UserAgent)
	}
}
