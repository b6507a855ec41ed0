package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/affwatch/affwatch"
)

// Reloader keeps the policies in force while compliance staff edit them: when the files
// change it compiles them and runs their tests, and only if both pass does the new
// revision replace the old. On any failure the last good revision stays and the reason
// is returned (and logged by Watch). It is an affwatch.Evaluator.
type Reloader struct {
	sources []Source
	bundles []*Bundle
	opts    Options
	log     *slog.Logger
	cur     atomic.Pointer[Engine]
	stamp   string
}

var _ affwatch.Evaluator = (*Reloader)(nil)

// NewReloader loads the policies; the first load must succeed.
func NewReloader(ctx context.Context, sources []Source, opts Options) (*Reloader, error) {
	return NewBundleReloader(ctx, sources, nil, opts)
}

// NewBundleReloader loads the policies of the sources and of the bundles (after them);
// the first load must succeed. Check then also asks each bundle again (a URL with its
// ETag) and swaps a changed one in through the same path: compiled and its tests run, or
// refused with the last good revision kept.
func NewBundleReloader(ctx context.Context, sources []Source, bundles []*Bundle, opts Options) (*Reloader, error) {
	r := &Reloader{sources: sources, bundles: bundles, opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = slog.Default().With("component", "rules")
	}
	all, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	stamp, err := stampOf(all)
	if err != nil {
		return nil, err
	}
	// At start, a partial pack is better than none: it runs, and the problems are returned.
	e, err := Load(ctx, all, opts)
	if e == nil {
		return nil, err
	}
	r.cur.Store(e)
	r.stamp = stamp
	return r, err
}

// current is the sources and, after them, each bundle as it is now.
func (r *Reloader) current(ctx context.Context) ([]Source, error) {
	all := append([]Source(nil), r.sources...)
	for _, b := range r.bundles {
		src, err := b.Fetch(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, src)
	}
	return all, nil
}

// Engine is the revision in force.
func (r *Reloader) Engine() *Engine { return r.cur.Load() }

// Evaluate evaluates with the revision in force.
func (r *Reloader) Evaluate(ctx context.Context, p *affwatch.Page) ([]affwatch.Finding, error) {
	return r.cur.Load().Evaluate(ctx, p)
}

// RuleIDs are the rules of the revision in force.
func (r *Reloader) RuleIDs() []string { return r.cur.Load().RuleIDs() }

// Revision is the revision in force.
func (r *Reloader) Revision() string { return r.cur.Load().Revision() }

// Check reloads the policies if their files changed. It reports whether a new revision is
// now in force; an error means the files changed but the new revision was refused.
func (r *Reloader) Check(ctx context.Context) (bool, error) {
	all, err := r.current(ctx)
	if err != nil {
		return false, fmt.Errorf("reload refused, keeping revision %s: %w", r.Revision(), err)
	}
	stamp, err := stampOf(all)
	if err != nil {
		return false, err
	}
	if stamp == r.stamp {
		return false, nil
	}
	r.stamp = stamp // a refused revision is not retried until the files change again
	e, err := Load(ctx, all, r.opts)
	if err != nil {
		return false, fmt.Errorf("reload refused, keeping revision %s: %w", r.Revision(), err)
	}
	run, err := RunTests(ctx, all, r.opts.Programs, TestOptions{})
	if err != nil {
		return false, fmt.Errorf("reload refused, keeping revision %s: %w", r.Revision(), err)
	}
	if n := run.Failed(); n > 0 {
		var first *TestResult
		for _, t := range run.Results {
			if t.Fail || t.Error != nil {
				first = t
				break
			}
		}
		return false, fmt.Errorf("reload refused, keeping revision %s: %d policy test(s) fail, first %s: %s.%s",
			r.Revision(), n, first.Location, first.Package, first.Name)
	}
	old := r.Revision()
	r.cur.Store(e)
	r.log.Info("policies reloaded", "from", old, "to", e.Revision(), "rules", len(e.Rules()))
	return true, nil
}

// Watch checks for changes every interval until ctx ends, logging refused revisions.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.Check(ctx); err != nil {
				r.log.Error("policy reload", "err", err)
			}
		}
	}
}

// stampOf hashes every file of the sources (policies, tests, schemas).
func stampOf(sources []Source) (string, error) {
	h := sha256.New()
	for _, s := range sources {
		err := fs.WalkDir(s.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(s.FS, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%s\x00%d\x00", s.Name, p, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("read policies from %s: %w", s.Name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
