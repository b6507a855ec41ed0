// Package evidence exports what affwatch kept about violations as a bundle a legal team can
// keep and check: the stored HTML snapshots, the page documents (fetch times, status,
// redirect chain, the validators the server sent), the violations with their full history,
// the rule's source text and policy revision, and a manifest with the SHA-256 of every file,
// optionally signed with Ed25519. A bundle is the same bytes every time it is made from the
// same stored data, and Verify names every file that was altered, added or removed.
package evidence

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// Format names the bundle layout in its manifest.
const Format = "affwatch-evidence/1"

// The bundle's fixed files.
const (
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.sig"
	SignerFile    = "signer.pub"
)

// Source is the stored data a bundle is made from.
type Source interface {
	Violation(ctx context.Context, fp string) (affwatch.Violation, error)
	History(ctx context.Context, fp string) ([]affwatch.ViolationEvent, error)
	PageRecords(ctx context.Context, affiliateID, url string) ([]affwatch.PageRecord, error)
	Snapshot(ctx context.Context, sha string) ([]byte, error)
}

// RuleText finds the source text of a rule by id: the file it lives in and its bytes.
type RuleText func(ruleID string) (file string, text []byte, ok bool)

// Options are what a bundle carries beside the stored data.
type Options struct {
	// Rules gives each policy rule's source text, from the policies in force.
	Rules RuleText
	// Revision is the revision of the policies Rules reads from: a violation found under
	// another revision is marked so in the manifest.
	Revision string
	// SigningKey, when set, signs the manifest.
	SigningKey ed25519.PrivateKey
}

// Manifest lists the bundle's files with their digests.
type Manifest struct {
	Format     string      `json:"format"`
	Violations []Violation `json:"violations"`
	Files      []File      `json:"files"`
}

// Violation is what the manifest says of one violation in the bundle.
type Violation struct {
	Fingerprint string `json:"fingerprint"`
	RuleID      string `json:"rule_id"`
	AffiliateID string `json:"affiliate_id"`
	URL         string `json:"url,omitempty"`
	State       string `json:"state"`
	// FoundUnder is the policy revision that last found it; RuleRevision the revision the
	// bundled rule text comes from. They differ when the rule changed since.
	FoundUnder   string `json:"found_under_revision,omitempty"`
	RuleRevision string `json:"rule_text_revision,omitempty"`
	Note         string `json:"note,omitempty"`
}

// File is one file of the bundle and its digest.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// Export writes a bundle of the violations (full fingerprints or unique prefixes) to w.
func Export(ctx context.Context, src Source, fps []string, opt Options, w io.Writer) (Manifest, error) {
	files := map[string][]byte{}
	m := Manifest{Format: Format}
	var stamp time.Time
	for _, fp := range fps {
		v, err := src.Violation(ctx, fp)
		if err != nil {
			return m, fmt.Errorf("export %s: %w", fp, err)
		}
		if v.LastSeen.After(stamp) {
			stamp = v.LastSeen
		}
		dir := "violations/" + v.Fingerprint + "/"
		entry := Violation{Fingerprint: v.Fingerprint, RuleID: v.RuleID, AffiliateID: v.AffiliateID, URL: v.URL,
			State: string(v.State), FoundUnder: v.PolicyRevision}
		if files[dir+"violation.json"], err = indent(v); err != nil {
			return m, err
		}
		hist, err := src.History(ctx, v.Fingerprint)
		if err != nil {
			return m, fmt.Errorf("export %s: history: %w", fp, err)
		}
		if files[dir+"history.json"], err = indent(hist); err != nil {
			return m, err
		}
		if v.Source == affwatch.SourcePolicy {
			if err := addPages(ctx, src, v, hist, dir, files); err != nil {
				return m, fmt.Errorf("export %s: %w", fp, err)
			}
			if opt.Rules != nil {
				if file, text, ok := opt.Rules(v.RuleID); ok {
					files[dir+"rule/"+path.Base(file)] = text
					entry.RuleRevision = opt.Revision
					if v.PolicyRevision != "" && opt.Revision != "" && v.PolicyRevision != opt.Revision {
						entry.Note = "the rule text is from the policies in force when the bundle was made, not from the revision that found the violation"
					}
				} else {
					entry.Note = "the rule is not in the policies in force: its source text is not included"
				}
			}
		}
		m.Violations = append(m.Violations, entry)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sum := sha256.Sum256(files[name])
		m.Files = append(m.Files, File{Path: name, SHA256: hex.EncodeToString(sum[:]), Size: len(files[name])})
	}
	manifest, err := indent(m)
	if err != nil {
		return m, err
	}
	files[ManifestFile] = manifest
	names = append(names, ManifestFile)
	if opt.SigningKey != nil {
		files[SignatureFile] = []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(opt.SigningKey, manifest)) + "\n")
		files[SignerFile] = []byte(base64.StdEncoding.EncodeToString(opt.SigningKey.Public().(ed25519.PublicKey)) + "\n")
		names = append(names, SignatureFile, SignerFile)
	}
	// The same stored data gives the same bytes: entries in a fixed order, stamped with the
	// last time one of the violations was seen, not with the time of export.
	zw := zip.NewWriter(w)
	for _, name := range names {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: stamp.UTC().Truncate(time.Second)})
		if err != nil {
			return m, err
		}
		if _, err := fw.Write(files[name]); err != nil {
			return m, err
		}
	}
	return m, zw.Close()
}

// addPages adds the page as stored at each scan that changed the violation, and at its
// first and last sightings, with the HTML snapshots those looks saw.
func addPages(ctx context.Context, src Source, v affwatch.Violation, hist []affwatch.ViolationEvent, dir string, files map[string][]byte) error {
	want := map[int64]bool{v.FirstScan: true, v.LastScan: true}
	for _, e := range hist {
		if e.ScanID > 0 {
			want[e.ScanID] = true
		}
	}
	recs, err := src.PageRecords(ctx, v.AffiliateID, v.URL)
	if err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	for _, r := range recs {
		if !want[r.ScanID] {
			continue
		}
		raw, err := indent(r)
		if err != nil {
			return err
		}
		files[fmt.Sprintf("%spages/scan-%06d.json", dir, r.ScanID)] = raw
		sha := r.Page.ContentSHA256
		if sha == "" || files["snapshots/"+sha+".html"] != nil {
			continue
		}
		html, err := src.Snapshot(ctx, sha)
		switch {
		case errors.Is(err, affwatch.ErrNotFound):
			continue // the page had no body worth keeping (an error page, say)
		case err != nil:
			return fmt.Errorf("snapshot %s: %w", sha, err)
		}
		files["snapshots/"+sha+".html"] = html
	}
	return nil
}

func indent(v any) ([]byte, error) {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(raw, '\n'), nil
}

// Report is what Verify found.
type Report struct {
	Files int `json:"files"`
	// Altered are files whose digest differs from the manifest's; Missing are in the
	// manifest but not in the bundle; Unexpected are in the bundle but not the manifest.
	Altered    []string `json:"altered,omitempty"`
	Missing    []string `json:"missing,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	// Signed says whether the bundle carries a signature; SignatureOK whether it matches
	// the manifest; Signer is the signing key (base64); Trusted whether it is the key the
	// checker was given.
	Signed      bool   `json:"signed"`
	SignatureOK bool   `json:"signature_ok"`
	Signer      string `json:"signer,omitempty"`
	Trusted     bool   `json:"trusted"`
}

// OK reports whether the bundle is intact: every file as the manifest says, and a
// signature, when there is one, that matches (and comes from the trusted key, if one was
// given to Verify).
func (r Report) OK() bool {
	return len(r.Altered) == 0 && len(r.Missing) == 0 && len(r.Unexpected) == 0 && (!r.Signed || r.SignatureOK)
}

// Verify checks a bundle against its manifest and signature. trusted, when set, is the
// public key the signature must come from; a bundle signed by another key, or not signed,
// is then not OK.
func Verify(r io.ReaderAt, size int64, trusted ed25519.PublicKey) (Report, error) {
	var rep Report
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return rep, fmt.Errorf("verify: not a bundle: %w", err)
	}
	content := map[string][]byte{}
	var files []*zip.File
	for _, f := range zr.File {
		// A bundle unzipped and zipped again by hand gains directory entries: they hold
		// nothing, and are no files of the bundle.
		if strings.HasSuffix(f.Name, "/") && f.UncompressedSize64 == 0 {
			continue
		}
		files = append(files, f)
		rc, err := f.Open()
		if err != nil {
			return rep, fmt.Errorf("verify: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			// a flipped byte in a compressed entry fails its checksum: that file was altered
			rep.Altered = append(rep.Altered, f.Name)
			continue
		}
		content[f.Name] = b
	}
	raw, ok := content[ManifestFile]
	if !ok {
		if slices.Contains(rep.Altered, ManifestFile) {
			return rep, nil
		}
		return rep, fmt.Errorf("verify: no %s in the bundle", ManifestFile)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.Altered = append(rep.Altered, ManifestFile)
		return rep, nil
	}
	listed := map[string]bool{ManifestFile: true, SignatureFile: true, SignerFile: true}
	for _, f := range m.Files {
		listed[f.Path] = true
		b, ok := content[f.Path]
		switch {
		case slices.Contains(rep.Altered, f.Path):
		case !ok:
			rep.Missing = append(rep.Missing, f.Path)
		default:
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != f.SHA256 || len(b) != f.Size {
				rep.Altered = append(rep.Altered, f.Path)
			} else {
				rep.Files++
			}
		}
	}
	for _, f := range files {
		if !listed[f.Name] {
			rep.Unexpected = append(rep.Unexpected, f.Name)
		}
	}
	sig, signed := content[SignatureFile]
	rep.Signed = signed || slices.Contains(rep.Altered, SignatureFile)
	if signed {
		pub, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(content[SignerFile])))
		s, serr := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sig)))
		if err == nil && serr == nil && len(pub) == ed25519.PublicKeySize {
			rep.Signer = base64.StdEncoding.EncodeToString(pub)
			rep.SignatureOK = ed25519.Verify(pub, raw, s)
			rep.Trusted = trusted != nil && bytes.Equal(trusted, pub)
		}
		if !rep.SignatureOK {
			// the manifest or the signature was changed after signing
			rep.Altered = append(rep.Altered, ManifestFile+" (signature does not match)")
		}
	}
	if trusted != nil && !rep.Trusted {
		rep.SignatureOK = false
	}
	sort.Strings(rep.Altered)
	return rep, nil
}
