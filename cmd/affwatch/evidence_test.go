package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
)

// A violation found by a real scan is exported with a signed bundle that verifies against
// the printed public key; a changed snapshot is named by verify, with exit 1.
func TestEvidenceExportAndVerifyThroughTheCLI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, undisclosed) }))
	defer srv.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.pem")
	code, pub, errOut := runCLI(t, "evidence", "key", "--generate", keyFile)
	if code != exitOK || !strings.Contains(pub, "BEGIN PUBLIC KEY") {
		t.Fatalf("key --generate: exit %d %q %s", code, pub, errOut)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v %v", fi, err)
	}
	pubFile := filepath.Join(dir, "signer.pem")
	os.WriteFile(pubFile, []byte(pub), 0o644)
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", "evidence: {signing_key_file: signing.pem}"))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatalf("scan: exit %d\n%s%s", code, out, errOut)
	}
	if code, again, _ := runCLI(t, "evidence", "key", "--config", cfg); code != exitOK || again != pub {
		t.Fatalf("evidence key from the config: exit %d, %q, want the generated key's", code, again)
	}
	vs, _ := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{RuleID: "DISC-001"})
	if len(vs) != 1 {
		t.Fatalf("violations: %+v", vs)
	}
	bundle := filepath.Join(dir, "bundle.zip")
	code, out, errOut := runCLI(t, "evidence", "export", vs[0].Fingerprint[:12], "-o", bundle, "--config", cfg)
	if code != exitOK || !strings.Contains(out, "signed") || !strings.Contains(out, "DISC-001") {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "evidence", "verify", bundle, "--public-key", pubFile); code != exitOK ||
		!strings.Contains(out, "signed by the trusted key") || !strings.Contains(out, ": intact") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	// Someone edits the stored page in the bundle.
	raw, _ := os.ReadFile(bundle)
	zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var changed string
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.HasPrefix(f.Name, "snapshots/") {
			b, changed = bytes.Replace(b, []byte("Deals"), []byte("Offers"), 1), f.Name
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	os.WriteFile(bundle, buf.Bytes(), 0o644)
	code, out, _ = runCLI(t, "evidence", "verify", bundle)
	if code != exitViolations || changed == "" || !strings.Contains(out, "ALTERED     "+changed) || !strings.Contains(out, "NOT intact") {
		t.Fatalf("verify of a changed bundle: exit %d\n%s", code, out)
	}
}
