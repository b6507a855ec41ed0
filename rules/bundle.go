package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// MaxBundleBytes caps the size of a policy bundle read from a file or a URL.
const MaxBundleBytes = 64 << 20

// ErrBundleVerification marks a bundle whose signature does not verify (tampered, signed
// with another key, or not signed while a key is configured).
var ErrBundleVerification = errors.New("bundle signature verification failed")

// Bundle is an OPA bundle of policies (the .tar.gz `opa build` writes): a file, or an
// HTTP(S) URL that is asked again with its ETag, so an unchanged bundle is not
// downloaded again. It is read with OPA's own bundle code, which verifies the bundle's
// signature when Verification is set. The operator names the URL in the config, so it is
// fetched without the crawler's address guard (loopback and private addresses included).
type Bundle struct {
	// Location is a file path or an http:// or https:// URL.
	Location string
	// Verification, when set, is the key the bundle must be signed with (OPA's signing
	// format, .signatures.json); a bundle that does not verify is refused.
	Verification *bundle.VerificationConfig
	// Client fetches URLs (default: an http.Client with a 1-minute timeout).
	Client *http.Client

	mu   sync.Mutex
	etag string
	last *Source
}

// IsURL reports whether a bundle location is an HTTP(S) URL rather than a file.
func IsURL(location string) bool {
	return strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://")
}

// Fetch reads the bundle and returns it as a policy source whose Revision is the bundle's
// manifest revision. From a URL, it asks with the last ETag: on 304 Not Modified the last
// source is returned again.
func (b *Bundle) Fetch(ctx context.Context) (Source, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var (
		body io.ReadCloser
		etag string
	)
	if IsURL(b.Location) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.Location, nil)
		if err != nil {
			return Source{}, fmt.Errorf("bundle %s: %w", b.Location, err)
		}
		if b.etag != "" && b.last != nil {
			req.Header.Set("If-None-Match", b.etag)
		}
		client := b.Client
		if client == nil {
			client = &http.Client{Timeout: time.Minute}
		}
		resp, err := client.Do(req)
		if err != nil {
			return Source{}, fmt.Errorf("bundle %s: %w", b.Location, err)
		}
		switch {
		case resp.StatusCode == http.StatusNotModified && b.last != nil:
			resp.Body.Close()
			return *b.last, nil
		case resp.StatusCode != http.StatusOK:
			resp.Body.Close()
			return Source{}, fmt.Errorf("bundle %s: HTTP %s", b.Location, resp.Status)
		}
		body, etag = resp.Body, resp.Header.Get("ETag")
	} else {
		f, err := os.Open(b.Location)
		if err != nil {
			return Source{}, fmt.Errorf("bundle: %w", err)
		}
		body = f
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, MaxBundleBytes+1))
	if err != nil {
		return Source{}, fmt.Errorf("bundle %s: %w", b.Location, err)
	}
	if len(raw) > MaxBundleBytes {
		return Source{}, fmt.Errorf("bundle %s: larger than %d bytes", b.Location, MaxBundleBytes)
	}
	src, err := ReadBundle(b.Location, bytes.NewReader(raw), b.Verification)
	if err != nil {
		return Source{}, err
	}
	b.etag, b.last = etag, &src
	return src, nil
}

// ReadBundle reads an OPA bundle (.tar.gz) with OPA's bundle reader into a policy source:
// its .rego files (tests too) at their paths, and its manifest revision as the source's
// Revision. With a verification config, the bundle must carry a signature that verifies.
func ReadBundle(name string, r io.Reader, vc *bundle.VerificationConfig) (Source, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxBundleBytes+1))
	if err != nil {
		return Source{}, fmt.Errorf("bundle %s: %w", name, err)
	}
	read := func(verify bool) (bundle.Bundle, error) {
		rd := bundle.NewReader(bytes.NewReader(raw)).WithRegoVersion(ast.RegoV1).WithSizeLimitBytes(MaxBundleBytes)
		if verify {
			return rd.WithBundleVerificationConfig(vc).Read()
		}
		return rd.WithSkipBundleVerification(true).Read()
	}
	// Read once without the signature check, so that a bundle that is broken is told
	// from one whose signature does not verify.
	b, err := read(false)
	if err != nil {
		return Source{}, fmt.Errorf("bundle %s: %w", name, err)
	}
	if vc != nil {
		if b, err = read(true); err != nil {
			return Source{}, fmt.Errorf("bundle %s: %w: %v", name, ErrBundleVerification, err)
		}
		if len(b.Signatures.Signatures) == 0 {
			return Source{}, fmt.Errorf("bundle %s: %w: the bundle is not signed", name, ErrBundleVerification)
		}
	}
	files := fstest.MapFS{}
	for _, m := range b.Modules {
		p := strings.TrimPrefix(path.Clean("/"+m.Path), "/")
		files[p] = &fstest.MapFile{Data: m.Raw, Mode: 0o644}
	}
	if len(files) == 0 {
		return Source{}, fmt.Errorf("bundle %s: no .rego files in it", name)
	}
	return Source{Name: name, FS: files, Revision: b.Manifest.Revision}, nil
}

// BuildOptions shape a bundle built from a policy directory.
type BuildOptions struct {
	// Revision is the manifest revision (default: a hash of the files).
	Revision string
	// SigningKey, when set, is the PEM private key (or its file) the bundle is signed with,
	// with SigningAlg (default RS256) and KeyID (default "default").
	SigningKey, SigningAlg, KeyID string
}

// BuildBundle writes the .rego files of a policy tree (tests included, so that whoever
// loads it can run them) as an OPA bundle, signed when a key is given, and returns the
// bundle's revision.
func BuildBundle(fsys fs.FS, w io.Writer, opt BuildOptions) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rego") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", errors.New("no .rego files to bundle")
	}
	sort.Strings(names)
	h := sha256.New()
	var mods []bundle.ModuleFile
	for _, n := range names {
		raw, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		parsed, err := ast.ParseModuleWithOpts(n, string(raw), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(raw))
		h.Write(raw)
		mods = append(mods, bundle.ModuleFile{URL: "/" + n, Path: "/" + n, RelativePath: n, Raw: raw, Parsed: parsed})
	}
	rev := opt.Revision
	if rev == "" {
		rev = hex.EncodeToString(h.Sum(nil))[:12]
	}
	regoV1 := 1
	b := bundle.Bundle{Manifest: bundle.Manifest{Revision: rev, Roots: &[]string{""}, RegoVersion: &regoV1}, Modules: mods,
		Data: map[string]any{}}
	if opt.SigningKey != "" {
		keyID := opt.KeyID
		if keyID == "" {
			keyID = "default"
		}
		if err := b.GenerateSignature(bundle.NewSigningConfig(opt.SigningKey, opt.SigningAlg, ""), keyID, false); err != nil {
			return "", fmt.Errorf("sign the bundle: %w", err)
		}
	}
	if err := bundle.NewWriter(w).DisableFormat(true).Write(b); err != nil {
		return "", err
	}
	return rev, nil
}
