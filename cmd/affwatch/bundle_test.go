package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyBundleBuildAndLoad: policy bundle build writes a signed OPA bundle of a policy
// directory; a config that names it (with the public key) checks, tests and evaluates with
// it (beside the built-in pack, whose library the rule uses) under the bundle's revision;
// a bundle signed with another key is refused.
func TestPolicyBundleBuildAndLoad(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine")
	if code, out, errOut := runCLI(t, "policy", "new", "MINE-001", "--title", "Mine", "--severity", "high", "--dir", mine); code != exitOK {
		t.Fatalf("policy new: exit %d\n%s%s", code, out, errOut)
	}
	writeKey := func(name string) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
		os.WriteFile(filepath.Join(dir, name+".pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
	}
	writeKey("team")
	writeKey("other")
	out := filepath.Join(dir, "bundle.tar.gz")
	code, stdout, errOut := runCLI(t, "policy", "bundle", "build", mine, "-o", out, "--signing-key", filepath.Join(dir, "team.pem"),
		"--key-id", "team", "--revision", "2026-11-24.1")
	if code != exitOK || !strings.Contains(stdout, "revision 2026-11-24.1, signed with key team") {
		t.Fatalf("bundle build: exit %d\n%s%s", code, stdout, errOut)
	}
	cfg := writeConfig(t, dir, "policies:\n  bundles:\n    - {source: bundle.tar.gz, public_key: team.pub.pem, key_id: team}\n")
	if code, stdout, errOut := runCLI(t, "policy", "check", "--config", cfg); code != exitOK || !strings.Contains(stdout, "rules (revision 2026-11-24.1)") {
		t.Errorf("policy check with the bundle: exit %d\n%s%s", code, stdout, errOut)
	}
	if code, stdout, errOut := runCLI(t, "policy", "test", "--config", cfg); code != exitOK || !strings.Contains(stdout, " 0 failed") {
		t.Errorf("policy test with the bundle: exit %d\n%s%s", code, stdout, errOut)
	}
	fixture := filepath.Join(mine, "fixtures", "mine-001.html")
	if code, stdout, errOut := runCLI(t, "policy", "eval", "--config", cfg, "--file", fixture, "--format", "json"); code != exitViolations ||
		!strings.Contains(stdout, `"policy_revision": "2026-11-24.1"`) {
		t.Errorf("policy eval with the bundle: exit %d\n%s%s", code, stdout, errOut)
	}
	wrongKey := writeConfig(t, dir, "policies:\n  bundles:\n    - {source: bundle.tar.gz, public_key: other.pub.pem, key_id: team}\n")
	code, _, errOut = runCLI(t, "policy", "check", "--config", wrongKey)
	if code != exitError || !strings.Contains(errOut, "bundle signature verification failed") || !strings.Contains(errOut, "bundle.tar.gz") {
		t.Errorf("a bundle signed with another key: exit %d %q", code, errOut)
	}
}
