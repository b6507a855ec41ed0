package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/affwatch/affwatch/policies"
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
		if err := groupUsage("policy bundle", args, stdout); err != nil {
			return exitError, err
		}
		return exitOK, nil // help was asked for
	}
	fs := newFlags("policy bundle build", stderr)
	out := fs.String("o", "bundle.tar.gz", "the bundle file to write")
	key := fs.String("signing-key", "", "sign the bundle with this PEM private key file (OPA's signing format)")
	keyID := fs.String("key-id", "default", "the key id written into the signature")
	alg := fs.String("signing-alg", "RS256", "the signing algorithm (RS256, ES256, HS256, ...)")
	rev := fs.String("revision", "", "the manifest revision (default: a hash of the files)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return exitError, err
	}
	dir, err := oneArg(pos, "the policy directory: affwatch policy bundle build DIR -o bundle.tar.gz")
	if err != nil {
		return exitError, err
	}
	if _, err := os.Stat(dir); err != nil {
		return exitError, err
	}
	// A bundle is what the daemons of a team load: one that does not compile would be
	// refused by each of them, night after night. Refuse it here, naming every problem.
	// It is compiled as the daemon loads it: beside the built-in pack's library and
	// schemas, which its rules may use.
	srcs := []rules.Source{{Name: "policies", FS: onlyDirs{policies.FS, []string{"lib", "schemas"}}}, {Name: dir, FS: os.DirFS(dir)}}
	cat, cerr := rules.ReadCatalogue(srcs)
	problems := reportProblems(cerr)
	if cerr == nil {
		kinds := []rules.Kind{rules.KindPage}
		if hasJoined(cat) {
			kinds = append(kinds, rules.KindAffiliate)
		}
		if !hasPageRules(cat) {
			kinds = kinds[1:] // a bundle of joined rules alone
		}
		for _, k := range kinds {
			_, err := rules.Load(context.Background(), srcs, rules.Options{Kind: k})
			problems = append(problems, reportProblems(err)...)
		}
	}
	if len(problems) > 0 {
		return exitError, fmt.Errorf("bundle %s: the policies do not compile; no bundle written:\n%s", dir, problemText(problems))
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

// hasPageRules says whether a catalogue holds a page rule (not only joined ones).
func hasPageRules(cat []rules.Rule) bool {
	for _, r := range cat {
		if !strings.HasPrefix(r.Package, rules.AffiliateRulePrefix) {
			return true
		}
	}
	return false
}

// onlyDirs is a tree with only some of its top directories: the built-in pack's library
// and schemas without its rules.
type onlyDirs struct {
	fs.FS
	dirs []string
}

func (o onlyDirs) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(o.FS, name)
	if name != "." {
		return es, err
	}
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool { return !slices.Contains(o.dirs, e.Name()) }), err
}
