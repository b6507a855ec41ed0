package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/affwatch/affwatch/internal/queue"
)

// siteProgress is how one affiliate's crawl stands.
type siteProgress struct {
	queued, done, failed int
}

// progress shows a scan on a terminal: one line, rewritten twice a second, with the pages
// done, waiting and failed overall and for the busiest affiliates in hand.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	sites map[string]siteProgress
	total int // affiliates in the scan
	stop  chan struct{}
	wg    sync.WaitGroup
	// queued is how a scan shared with workers stands (nil for an in-process scan).
	queued *queue.Progress
}

// onQueue is the queue's OnProgress: a scan shared with workers counts sites.
func (p *progress) onQueue(q queue.Progress) {
	p.mu.Lock()
	p.queued = &q
	p.mu.Unlock()
}

// isTerminal reports whether w is a character device (a terminal, not a file or pipe).
func isTerminal(w io.Writer) bool {
	if o, ok := w.(*cmdOutput); ok {
		w = o.Writer
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, affiliates int) *progress {
	return &progress{w: w, sites: map[string]siteProgress{}, total: affiliates, stop: make(chan struct{})}
}

// update is the crawler's OnProgress.
func (p *progress) update(aff string, queued, done, failed int) {
	p.mu.Lock()
	p.sites[aff] = siteProgress{queued, done, failed}
	p.mu.Unlock()
}

// start redraws the line every interval until finish.
func (p *progress) start(interval time.Duration) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprintf(p.w, "\r\033[K%s\n", p.line(0))
				return
			case <-t.C:
				fmt.Fprintf(p.w, "\r\033[K%s", p.line(3))
			}
		}
	}()
}

func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
}

// line renders the state: totals, then up to busiest affiliates still crawling.
func (p *progress) line(busiest int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q := p.queued; q != nil {
		return fmt.Sprintf("scan %d on the queue: sites %d/%d done, %d being crawled, %d retried; %d pages stored",
			q.ScanID, q.Done, q.Sites, q.Running, q.Retrying, q.Pages)
	}
	var done, failed, queued, finished int
	var active []string
	for id, s := range p.sites {
		done += s.done
		failed += s.failed
		queued += s.queued
		if s.queued == 0 {
			finished++
		} else {
			active = append(active, id)
		}
	}
	sort.Slice(active, func(i, j int) bool {
		a, b := p.sites[active[i]], p.sites[active[j]]
		if a.queued != b.queued {
			return a.queued > b.queued
		}
		return active[i] < active[j]
	})
	out := fmt.Sprintf("scan: %d pages done, %d waiting, %d not verified; affiliates %d/%d done", done, queued, failed, finished, p.total)
	var parts []string
	for _, id := range active[:min(busiest, len(active))] {
		s := p.sites[id]
		parts = append(parts, fmt.Sprintf("%s %d done/%d waiting/%d failed", id, s.done, s.queued, s.failed))
	}
	if len(parts) > 0 {
		out += " · " + strings.Join(parts, ", ")
	}
	return out
}
