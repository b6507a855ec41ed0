package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/affwatch/affwatch/rules"
)

// bundles are the config's policy bundles, each with the key its signature must verify
// with.
func bundles(cfg *Config) ([]*rules.Bundle, error) {
	var out []*rules.Bundle
	for _, bc := range cfg.Policies.Bundles {
		b := &rules.Bundle{Location: bc.Source}
		if !rules.IsURL(bc.Source) {
			b.Location = cfg.path(bc.Source)
		}
		if bc.PublicKey != "" {
			pem, err := os.ReadFile(cfg.path(bc.PublicKey))
			if err != nil {
				return nil, fmt.Errorf("policies.bundles %s: public_key: %w", bc.Source, err)
			}
			id, alg := bc.KeyID, bc.Algorithm
			if id == "" {
				id = "default"
			}
			if alg == "" {
				alg = "RS256"
			}
			b.Verification = bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{id: {Key: string(pem), Algorithm: alg}}, id, "", nil)
		}
		out = append(out, b)
	}
	return out, nil
}

// allPolicySources are the config's policy trees and, after them, its bundles as they are
// now (fetched once).
func allPolicySources(ctx context.Context, cfg *Config) ([]rules.Source, error) {
	srcs := policySources(cfg)
	bs, err := bundles(cfg)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		src, err := b.Fetch(ctx)
		if err != nil {
			return nil, fmt.Errorf("policies.bundles: %w", err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// policyBundle builds an OPA bundle of a policy directory, for teams without the opa
// binary: affwatch policy bundle build DIR -o bundle.tar.gz [--signing-key KEY].
func policyBundle(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 || args[0] != "build" {
		return exitError, errors.New("name what to do: affwatch policy bundle build DIR -o bundle.tar.gz [--signing-key PEM] [--key-id ID] [--signing-alg ALG] [--revision REV]")
	}
	fs := newFlags("policy bundle build", stderr)
	out := fs.String("o", "bundle.tar.gz", "the bundle file to write")
	key := fs.String("signing-key", "", "sign the bundle with this PEM private key file (OPA's signing format)")
	keyID := fs.String("key-id", "default", "the key id written into the signature")
	alg := fs.String("signing-alg", "RS256", "the signing algorithm (RS256, ES256, HS256, ...)")
	rev := fs.String("revision", "", "the manifest revision (default: a hash of the files)")
	rest := args[1:]
	var dir string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		dir, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return exitError, err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	if dir == "" {
		return exitError, errors.New("name the policy directory: affwatch policy bundle build DIR -o bundle.tar.gz")
	}
	if _, err := os.Stat(dir); err != nil {
		return exitError, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".bundle-*.tar.gz")
	if err != nil {
		return exitError, err
	}
	defer os.Remove(tmp.Name())
	revision, err := rules.BuildBundle(os.DirFS(dir), tmp, rules.BuildOptions{Revision: *rev, SigningKey: *key, SigningAlg: *alg, KeyID: *keyID})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return exitError, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return exitError, err
	}
	signed := "unsigned"
	if *key != "" {
		signed = "signed with key " + *keyID
	}
	fmt.Fprintf(stdout, "wrote %s (revision %s, %s)\n", *out, revision, signed)
	return exitOK, nil
}
