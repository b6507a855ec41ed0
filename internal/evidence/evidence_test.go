package evidence_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/evidence"
	"github.com/affwatch/affwatch/internal/store"
)

// stored makes a real store with one violation seen in two scans and then fixed, with the
// page's HTML changing between them.
func stored(t *testing.T) (*store.DB, affwatch.Violation) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }
	aff := affwatch.Affiliate{ID: "deals", Program: "acme"}
	v := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-001", Severity: affwatch.SeverityHigh, Message: "no disclosure",
		Evidence: affwatch.Evidence{Key: "page", Snippet: "Buy <script>x</script>"}}, affwatch.SourcePolicy, aff, "https://deals.example/")
	v.PolicyRevision = "rev-a"
	for i, html := range []string{"<p>first</p>", "<p>second</p>", "<p>fixed: we earn a commission</p>"} {
		scan, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
		if err != nil {
			t.Fatal(err)
		}
		snap := affwatch.Snapshot{Page: affwatch.Page{URL: "https://deals.example/", FinalURL: "https://deals.example/", Status: 200,
			FetchStatus: affwatch.FetchOK, FetchedAt: now, ContentSHA256: string(rune('a' + i)),
			Affiliate: affwatch.PageAffiliate{ID: "deals"}, Redirects: []affwatch.Redirect{{From: "http://deals.example/", To: "https://deals.example/", Status: 301, Kind: "http"}}},
			HTML: []byte(html), ETag: `"v` + string(rune('1'+i)) + `"`}
		var vs []affwatch.Violation
		if i < 2 {
			vs = []affwatch.Violation{v}
		}
		if _, err := st.SavePage(ctx, scan.ID, snap, vs); err != nil {
			t.Fatal(err)
		}
		now = now.Add(24 * time.Hour)
	}
	return st, v
}

func rules(id string) (string, []byte, bool) {
	if id != "DISC-001" {
		return "", nil, false
	}
	return "policies/disclosure/missing.rego", []byte("package affwatch.rules.disclosure.missing\n"), true
}

func export(t *testing.T, st *store.DB, fp string, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := evidence.Export(context.Background(), st, []string{fp}, evidence.Options{Rules: rules, Revision: "rev-b", SigningKey: key}, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A bundle holds the violation, its history, the page at each scan that changed it with
// the snapshots, the rule text, and is the same bytes when made twice.
func TestBundleIsCompleteAndDeterministic(t *testing.T) {
	st, v := stored(t)
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	a, b := export(t, st, v.Fingerprint[:10], key), export(t, st, v.Fingerprint, key)
	if !bytes.Equal(a, b) {
		t.Fatal("two exports of the same stored data differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	dir := "violations/" + v.Fingerprint + "/"
	for _, want := range []string{"manifest.json", "manifest.sig", "signer.pub", dir + "violation.json", dir + "history.json",
		dir + "pages/scan-000001.json", dir + "pages/scan-000002.json", dir + "pages/scan-000003.json", dir + "rule/missing.rego",
		"snapshots/a.html", "snapshots/b.html", "snapshots/c.html"} {
		if !slices.Contains(names, want) {
			t.Errorf("the bundle has no %s; it has %v", want, names)
		}
	}
	rep, err := evidence.Verify(bytes.NewReader(a), int64(len(a)), key.Public().(ed25519.PublicKey))
	if err != nil || !rep.OK() || !rep.Trusted || rep.Files != len(names)-3 {
		t.Fatalf("a fresh bundle: %+v %v", rep, err)
	}
}

// Flipping one byte of any file makes Verify name that file.
func TestVerifyNamesEveryAlteredFile(t *testing.T) {
	st, v := stored(t)
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	bundle := export(t, st, v.Fingerprint, key)
	zr, _ := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	for _, target := range zr.File {
		t.Run(target.Name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, f := range zr.File {
				rc, _ := f.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				if f.Name == target.Name {
					b[len(b)/2] ^= 0x01
				}
				w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
				w.Write(b)
			}
			zw.Close()
			rep, err := evidence.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
			if err != nil {
				t.Fatal(err)
			}
			named := slices.ContainsFunc(rep.Altered, func(a string) bool {
				return a == target.Name || a == evidence.ManifestFile+" (signature does not match)"
			})
			if rep.OK() || !named {
				t.Fatalf("one byte of %s flipped: %+v", target.Name, rep)
			}
		})
	}
}

// A bundle signed with another key than the trusted one is not trusted; an unsigned one
// still verifies its digests.
func TestSignatureAndTrust(t *testing.T) {
	st, v := stored(t)
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	other, _, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	signed := export(t, st, v.Fingerprint, key)
	rep, _ := evidence.Verify(bytes.NewReader(signed), int64(len(signed)), other)
	if rep.Trusted || !rep.Signed {
		t.Fatalf("signed by another key: %+v", rep)
	}
	plain := export(t, st, v.Fingerprint, nil)
	rep, err := evidence.Verify(bytes.NewReader(plain), int64(len(plain)), nil)
	if err != nil || !rep.OK() || rep.Signed {
		t.Fatalf("an unsigned bundle: %+v %v", rep, err)
	}
}

// A bundle unzipped and zipped again (which adds directory entries) is still intact.
func TestRezippedBundleIsIntact(t *testing.T) {
	st, v := stored(t)
	bundle := export(t, st, v.Fingerprint, nil)
	zr, _ := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range zr.File {
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				zw.Create(d + "/")
			}
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	rep, err := evidence.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil || !rep.OK() || len(rep.Unexpected) != 0 {
		t.Fatalf("a re-zipped bundle: %+v %v", rep, err)
	}
}
