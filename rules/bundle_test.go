package rules_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/affwatch/affwatch/rules"
)

// bundleTree is a one-rule policy tree with its test; title is what the rule looks for.
func bundleTree(title string, testPasses bool) fstest.MapFS {
	want := 1
	if !testPasses {
		want = 2
	}
	return fstest.MapFS{
		"mine/title.rego":      {Data: []byte(fmt.Sprintf("# METADATA\n# title: Title\n# custom:\n#   id: MINE-001\n#   severity: low\npackage affwatch.rules.mine.title\n\ndeny contains {\"msg\": \"x\"} if input.title == %q\n", title))},
		"mine/title_test.rego": {Data: []byte(fmt.Sprintf("package affwatch.rules.mine.title_test\n\nimport data.affwatch.rules.mine.title\n\ntest_fires if {\n\tcount(title.deny) == %d with input as {\"title\": %q}\n}\n", want, title))},
	}
}

func buildBundle(t *testing.T, tree fstest.MapFS, opt rules.BuildOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := rules.BuildBundle(tree, &b, opt); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bundleServer serves one bundle with an ETag, answering 304 to a matching If-None-Match.
type bundleServer struct {
	mu       sync.Mutex
	body     []byte
	full     atomic.Int32 // 200 answers
	notModif atomic.Int32 // 304 answers
}

func (s *bundleServer) set(b []byte) { s.mu.Lock(); s.body = b; s.mu.Unlock() }

func (s *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body := s.body
	s.mu.Unlock()
	etag := fmt.Sprintf("%q", fmt.Sprintf("%x", len(body))+fmt.Sprintf("-%x", body[len(body)-16:]))
	if r.Header.Get("If-None-Match") == etag {
		s.notModif.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.full.Add(1)
	w.Header().Set("ETag", etag)
	w.Write(body)
}

// TestBundleServedOnLoopbackIsPolledAndSwapped: the reloader reads a bundle from a URL,
// records its manifest revision, asks again with the ETag (304: nothing downloaded), and
// swaps in a changed bundle; one whose tests fail is refused and the last good kept.
func TestBundleServedOnLoopbackIsPolledAndSwapped(t *testing.T) {
	ctx := context.Background()
	srv := &bundleServer{}
	srv.set(buildBundle(t, bundleTree("a", true), rules.BuildOptions{Revision: "night-1"}))
	hs := httptest.NewServer(srv)
	defer hs.Close()
	r, err := rules.NewBundleReloader(ctx, nil, []*rules.Bundle{{Location: hs.URL + "/bundle.tar.gz"}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision() != "night-1" || len(r.RuleIDs()) != 1 {
		t.Fatalf("revision %q rules %v, want night-1 and MINE-001", r.Revision(), r.RuleIDs())
	}
	if changed, err := r.Check(ctx); changed || err != nil || srv.notModif.Load() != 1 {
		t.Fatalf("unchanged bundle: changed %v err %v, 304s %d", changed, err, srv.notModif.Load())
	}
	srv.set(buildBundle(t, bundleTree("b", true), rules.BuildOptions{Revision: "night-2"}))
	if changed, err := r.Check(ctx); !changed || err != nil || r.Revision() != "night-2" {
		t.Fatalf("changed bundle: changed %v err %v revision %s", changed, err, r.Revision())
	}
	srv.set(buildBundle(t, bundleTree("c", false), rules.BuildOptions{Revision: "night-3"}))
	changed, err := r.Check(ctx)
	if changed || err == nil || !strings.Contains(err.Error(), "keeping revision night-2") || !strings.Contains(err.Error(), "test(s) fail") {
		t.Fatalf("a bundle whose tests fail: changed %v err %v", changed, err)
	}
	if r.Revision() != "night-2" {
		t.Fatalf("revision %s after a refused bundle, want night-2", r.Revision())
	}
	// While the reloader watches, a new bundle on the server is picked up.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go r.Watch(wctx, 20*time.Millisecond)
	srv.set(buildBundle(t, bundleTree("d", true), rules.BuildOptions{Revision: "night-4"}))
	deadline := time.Now().Add(10 * time.Second)
	for r.Revision() != "night-4" {
		if time.Now().After(deadline) {
			t.Fatalf("the watching reloader did not pick up night-4 (revision %s)", r.Revision())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTamperedSignedBundleIsRefused: a signed bundle verifies with the configured key; the
// same bundle with a module changed after signing is refused with a clear message, and
// the last good revision stays; an unsigned bundle is refused when a key is configured.
func TestTamperedSignedBundleIsRefused(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	vc := bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{"affwatch": {Key: pub, Algorithm: "RS256"}}, "affwatch", "", nil)

	signed := buildBundle(t, bundleTree("a", true), rules.BuildOptions{Revision: "signed-1", SigningKey: priv, KeyID: "affwatch"})
	srv := &bundleServer{}
	srv.set(signed)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	r, err := rules.NewBundleReloader(ctx, nil, []*rules.Bundle{{Location: hs.URL, Verification: vc}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision() != "signed-1" {
		t.Fatalf("revision %q", r.Revision())
	}
	srv.set(tamper(t, signed, "mine/title.rego", func(b []byte) []byte { return bytes.Replace(b, []byte(`"a"`), []byte(`"z"`), 1) }))
	changed, err := r.Check(ctx)
	if changed || !errors.Is(err, rules.ErrBundleVerification) || !strings.Contains(err.Error(), "keeping revision signed-1") {
		t.Fatalf("tampered bundle: changed %v, err %v", changed, err)
	}
	t.Logf("refused: %v", err)
	if r.Revision() != "signed-1" {
		t.Fatalf("revision %s after a tampered bundle", r.Revision())
	}
	srv.set(buildBundle(t, bundleTree("b", true), rules.BuildOptions{Revision: "unsigned-2"}))
	if changed, err := r.Check(ctx); changed || !errors.Is(err, rules.ErrBundleVerification) || !strings.Contains(err.Error(), "signatures.json") {
		t.Fatalf("unsigned bundle with a key configured: changed %v, err %v", changed, err)
	}
	if _, err := rules.ReadBundle("other-key", bytes.NewReader(signed), bundle.NewVerificationConfig(
		map[string]*bundle.KeyConfig{"affwatch": {Key: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n", Algorithm: "RS256"}}, "affwatch", "", nil)); !errors.Is(err, rules.ErrBundleVerification) {
		t.Errorf("a bundle checked with another key: %v", err)
	}
}

// tamper rewrites one file of a bundle, keeping its .signatures.json.
func tamper(t *testing.T, bundleTarGz []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(bundleTarGz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if strings.TrimPrefix(h.Name, "/") == name {
			body, found = edit(body), true
		}
		h.Size = int64(len(body))
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	if !found {
		t.Fatalf("%s is not in the bundle", name)
	}
	return out.Bytes()
}
