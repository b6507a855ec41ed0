package chrome

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/store"
)

// A rendered page keeps the hash of the DOM it was judged from beside the snapshot's,
// which stays the server's HTML; both reach the store. A static page has no DOM hash.
func TestRenderedDOMHashIsKept(t *testing.T) {
	ctx := context.Background()
	pageURL := srv.URL("render-cases") + "script-only.html"
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	server := sha256.Sum256(body)

	prog := fixtures.Program()
	c := crawler.New(crawler.Config{AllowPrivate: true, NoSitemaps: true, Render: affwatch.RenderAlways, Renderer: noClose{shared}, NoScreenshots: true},
		[]affwatch.Program{prog})
	defer c.Close()
	var snaps []affwatch.Snapshot
	aff := affwatch.Affiliate{ID: "fixture", Program: prog.ID, Sites: []string{pageURL}}
	if err := c.Crawl(ctx, aff, func(s affwatch.Snapshot) error { snaps = append(snaps, s); return nil }); err != nil || len(snaps) != 1 {
		t.Fatalf("crawl: %v, %d pages", err, len(snaps))
	}
	p := snaps[0].Page
	if p.ContentSHA256 != hex.EncodeToString(server[:]) {
		t.Errorf("the snapshot's hash %s is not the server's HTML's", p.ContentSHA256)
	}
	if len(p.RenderedSHA256) != 64 || p.RenderedSHA256 == p.ContentSHA256 {
		t.Errorf("rendered DOM hash %q (snapshot %s)", p.RenderedSHA256, p.ContentSHA256)
	}
	if static := crawlOne(t, pageURL, affwatch.RenderNever, shared); static.RenderedSHA256 != "" {
		t.Errorf("a static page has a rendered DOM hash %q", static.RenderedSHA256)
	}

	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scan, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, scan.ID, snaps[0], nil); err != nil {
		t.Fatal(err)
	}
	pages, err := st.Pages(ctx, scan.ID)
	if err != nil || len(pages) != 1 || pages[0].RenderedSHA256 != p.RenderedSHA256 || pages[0].ContentSHA256 != p.ContentSHA256 {
		t.Fatalf("stored %+v, %v", pages, err)
	}
}
