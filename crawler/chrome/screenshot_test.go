package chrome

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/report"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// A rendered page's screenshot goes with its snapshot into the store, content-addressed;
// it decodes, is the window's width and at most the cap tall; the violation's evidence
// points at the disclosure's box in it, and the crop the manager's email shows has the
// disclosure's yellow background where the box says.
func TestScreenshotStoredAndCropped(t *testing.T) {
	ctx := context.Background()
	prog := fixtures.Program()
	c := crawler.New(crawler.Config{AllowPrivate: true, NoSitemaps: true, Render: affwatch.RenderAlways, Renderer: noClose{shared}},
		[]affwatch.Program{prog})
	defer c.Close()
	var snaps []affwatch.Snapshot
	aff := affwatch.Affiliate{ID: "fixture", Program: prog.ID, Sites: []string{srv.URL("render-cases") + "disclosure-far-below.html"}}
	if err := c.Crawl(ctx, aff, func(s affwatch.Snapshot) error { snaps = append(snaps, s); return nil }); err != nil || len(snaps) != 1 {
		t.Fatalf("crawl: %v, %d pages", err, len(snaps))
	}
	snap := snaps[0]
	if snap.Page.Screenshot == "" || len(snap.Screenshot) == 0 {
		t.Fatalf("no screenshot: %q, %d bytes", snap.Page.Screenshot, len(snap.Screenshot))
	}
	eng, err := rules.Load(ctx, []rules.Source{{Name: "policies", FS: policies.FS}}, rules.Options{Programs: []affwatch.Program{prog}})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := eng.Evaluate(ctx, &snap.Page)
	if err != nil || len(fs) != 1 || fs[0].RuleID != "DISC-005" {
		t.Fatalf("findings %+v, %v", fs, err)
	}
	ev := fs[0].Evidence
	if ev.Box == nil || ev.Screenshot != snap.Page.Screenshot || ev.Box.Y < 3000 {
		t.Fatalf("the evidence does not point into the screenshot: %+v", ev)
	}

	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scan, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	v := affwatch.NewViolation(fs[0], affwatch.SourcePolicy, aff, snap.Page.URL)
	if _, err := st.SavePage(ctx, scan.ID, snap, []affwatch.Violation{v}); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Screenshot(ctx, snap.Page.Screenshot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(stored))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1280 || h < 3700 || h > affwatch.MaxScreenshotHeight {
		t.Errorf("screenshot %dx%d, want 1280 wide and the page's height within %d", w, h, affwatch.MaxScreenshotHeight)
	}
	vs, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil || len(vs) != 1 || vs[0].Evidence.Box == nil || vs[0].Evidence.Screenshot != snap.Page.Screenshot {
		t.Fatalf("stored violation %+v, %v", vs, err)
	}

	r := report.Build("t", "m", vs, scan.Started.Add(-1), scan.Started.Add(1))
	if err := r.AddCrops(ctx, st); err != nil {
		t.Fatal(err)
	}
	crop := r.Crops[vs[0].Fingerprint]
	if crop == nil {
		t.Fatal("no crop for the new violation")
	}
	ci, err := png.Decode(bytes.NewReader(crop))
	if err != nil {
		t.Fatal(err)
	}
	// The crop starts a margin above and left of the box (24 px, less at the page's edge).
	box := vs[0].Evidence.Box
	off := image.Pt(int(box.X)-max(0, int(box.X)-24), int(box.Y)-max(0, int(box.Y)-24))
	yellow, n := color.RGBA{0xfe, 0xf3, 0xc7, 0xff}, 0
	for y := 0; y < int(box.Height); y++ {
		for x := 0; x < int(box.Width); x++ {
			if color.RGBAModel.Convert(ci.At(off.X+x, off.Y+y)) == yellow {
				n++
			}
		}
	}
	if area := int(box.Width) * int(box.Height); n < area/3 {
		t.Errorf("%d of %d pixels of the element's box in the crop are the disclosure's yellow", n, area)
	}
	e, err := r.Email([]string{"m@example"}, "s")
	if err != nil {
		t.Fatal(err)
	}
	if a := e.Attachments[len(e.Attachments)-1]; a.ContentID == "" || !bytes.Equal(a.Data, crop) || !bytes.Contains([]byte(e.HTML), []byte("cid:"+a.ContentID)) {
		t.Errorf("the email does not show the crop inline: %+v", a.Name)
	}
}

// A page taller than the cap is shot down to the cap.
func TestScreenshotIsCapped(t *testing.T) {
	res, err := shared.Render(context.Background(), srv.URL("render-cases")+"tall.html", crawler.RenderOptions{Screenshot: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(res.Screenshot))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 1280 || cfg.Height != affwatch.MaxScreenshotHeight {
		t.Errorf("screenshot of a 20,000 px page: %dx%d", cfg.Width, cfg.Height)
	}
}
