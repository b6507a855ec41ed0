package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"strings"

	"github.com/affwatch/affwatch/internal/evidence"
)

// cmdEvidence is `affwatch evidence export|verify|key`.
func cmdEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) > 0 {
		switch args[0] {
		case "export":
			return exitOK, evidenceExport(ctx, args[1:], stdout, stderr)
		case "verify":
			return evidenceVerify(args[1:], stdout, stderr)
		case "key":
			return exitOK, evidenceKey(args[1:], stdout, stderr)
		}
	}
	if err := groupUsage("evidence", args, stdout); err != nil {
		return exitError, err
	}
	return exitOK, nil // help was asked for
}

func evidenceExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("evidence export", stderr)
	cfgPath := configFlag(fs)
	out := fs.String("o", "evidence.zip", "write the bundle to `FILE`")
	fps, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(fps) == 0 {
		return usageErrorf("name at least one violation's FINGERPRINT (or a unique prefix)")
	}
	cfg, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	opt := evidence.Options{}
	if cfg.Evidence.SigningKeyFile != "" {
		if opt.SigningKey, err = readSigningKey(cfg.path(cfg.Evidence.SigningKeyFile)); err != nil {
			return err
		}
	}
	eng, _, err := loadPolicies(ctx, cfg, logger(stderr, false))
	if eng != nil {
		opt.Revision = eng.Revision()
		files := map[string]string{}
		for _, r := range eng.Rules() {
			files[r.ID] = r.File
		}
		srcs := policySources(cfg)
		opt.Rules = func(id string) (string, []byte, bool) {
			file, ok := files[id]
			if !ok {
				return "", nil, false
			}
			for _, s := range srcs {
				if rel, ok := strings.CutPrefix(file, s.Name+"/"); ok {
					if text, err := iofs.ReadFile(s.FS, path.Clean(rel)); err == nil {
						return file, text, true
					}
				}
			}
			return "", nil, false
		}
	} else if err != nil {
		fmt.Fprintf(stderr, "the policies could not be loaded, so the bundle carries no rule text: %v\n", err)
	}
	var buf bytes.Buffer
	m, err := evidence.Export(ctx, st, fps, opt, &buf)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	signed := "unsigned"
	if opt.SigningKey != nil {
		signed = "signed"
	}
	fmt.Fprintf(stdout, "%s: %d violation(s), %d files and the manifest, %s\n", *out, len(m.Violations), len(m.Files), signed)
	for _, v := range m.Violations {
		fmt.Fprintf(stdout, "  %s  %s  %s %s", v.Fingerprint[:12], v.RuleID, v.AffiliateID, v.URL)
		if v.Note != "" {
			fmt.Fprintf(stdout, "  (%s)", v.Note)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func evidenceVerify(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("evidence verify", stderr)
	pubFile := fs.String("public-key", "", "the signer's public key `FILE` (as `affwatch evidence key` prints it): the bundle must be signed with it")
	format := fs.String("format", "text", "output `text|json`")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitError, err
	}
	bundle, err := oneArg(pos, "the bundle to verify")
	if err != nil {
		return exitError, err
	}
	var trusted ed25519.PublicKey
	if *pubFile != "" {
		k, err := readPublicKey(*pubFile)
		if err != nil {
			return exitError, err
		}
		trusted = k
	}
	raw, err := os.ReadFile(bundle)
	if err != nil {
		return exitError, err
	}
	rep, err := evidence.Verify(bytes.NewReader(raw), int64(len(raw)), trusted)
	if err != nil {
		return exitError, fmt.Errorf("%s: %w", bundle, err)
	}
	ok := rep.OK() && (trusted == nil || rep.Trusted)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Bundle string `json:"bundle"`
			OK     bool   `json:"ok"`
			evidence.Report
		}{bundle, ok, rep}); err != nil {
			return exitError, err
		}
	} else {
		for _, f := range rep.Altered {
			fmt.Fprintf(stdout, "ALTERED     %s\n", f)
		}
		for _, f := range rep.Missing {
			fmt.Fprintf(stdout, "MISSING     %s\n", f)
		}
		for _, f := range rep.Unexpected {
			fmt.Fprintf(stdout, "UNEXPECTED  %s\n", f)
		}
		switch {
		case !rep.Signed:
			fmt.Fprintln(stdout, "not signed")
		case rep.SignatureOK && rep.Trusted:
			fmt.Fprintf(stdout, "signed by the trusted key %s\n", rep.Signer)
		case rep.SignatureOK && trusted == nil:
			fmt.Fprintf(stdout, "signed by %s (not checked against a trusted key: give --public-key)\n", rep.Signer)
		case rep.SignatureOK:
			fmt.Fprintf(stdout, "signed by %s, which is NOT the trusted key\n", rep.Signer)
		}
		verdict := "intact"
		if !ok {
			verdict = "NOT intact"
		}
		fmt.Fprintf(stdout, "%s: %s (%d files match the manifest)\n", bundle, verdict, rep.Files)
	}
	if !ok {
		return exitViolations, nil
	}
	return exitOK, nil
}

func evidenceKey(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("evidence key", stderr)
	cfgPath := configFlag(fs)
	generate := fs.String("generate", "", "write a new Ed25519 signing key to `FILE` (mode 0600; keep it out of the repository) and print its public key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if *generate != "" {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(*generate, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		key = k
	} else {
		cfg, err := LoadConfig(*cfgPath)
		if err != nil {
			return err
		}
		if cfg.Evidence.SigningKeyFile == "" {
			return errors.New("evidence.signing_key_file is not set in the config: make a key with --generate FILE and name it there")
		}
		if key, err = readSigningKey(cfg.path(cfg.Evidence.SigningKeyFile)); err != nil {
			return err
		}
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	return pem.Encode(stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// readSigningKey reads an Ed25519 private key (PEM, PKCS #8).
func readSigningKey(file string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("evidence.signing_key_file: %w", err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, fmt.Errorf("evidence.signing_key_file %s: not a PEM file", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("evidence.signing_key_file %s: %w", file, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("evidence.signing_key_file %s: not an Ed25519 key", file)
	}
	return ek, nil
}

// readPublicKey reads an Ed25519 public key: PEM (as `evidence key` prints it) or the
// base64 a bundle's signer.pub holds.
func readPublicKey(file string) (ed25519.PublicKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--public-key: %w", err)
	}
	if b, _ := pem.Decode(raw); b != nil {
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--public-key %s: %w", file, err)
		}
		if ek, ok := k.(ed25519.PublicKey); ok {
			return ek, nil
		}
		return nil, fmt.Errorf("--public-key %s: not an Ed25519 key", file)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("--public-key %s: neither a PEM public key nor a base64 Ed25519 key", file)
	}
	return k, nil
}
