// Package queue shares a crawl scan between affwatch worker processes through a
// PostgreSQL job queue (River, https://riverqueue.com): the scan is one job per affiliate
// site (host), any number of workers on any machines take the jobs, a host is crawled by
// one worker at a time (a PostgreSQL advisory lock per host), and the job of a worker
// that died is retried by another once River rescues it. Pages are stored idempotently,
// so a site crawled twice stores nothing twice.
package queue

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/affwatch/affwatch"
)

// Pooler is a store that can carry the job queue: a PostgreSQL store gives the pool the
// queue runs on; a SQLite store gives nil (it keeps the in-process pool).
type Pooler interface {
	Pool() *pgxpool.Pool
}

// Name is the River queue the crawl jobs go to.
const Name = "affwatch_crawl"

// SiteArgs is one job: crawl the affiliate's sites on one host for a running scan.
type SiteArgs struct {
	ScanID int64 `json:"scan_id"`
	// Host is the host the sites are on (lower case, with its port): the unit of
	// politeness, crawled by one worker at a time.
	Host string `json:"host"`
	// Affiliate is the affiliate with only its sites on Host.
	Affiliate affwatch.Affiliate `json:"affiliate"`
	// Render is the affiliate's own render setting (not part of its JSON form).
	Render affwatch.RenderMode `json:"render,omitempty"`
}

// Kind is River's name for the job.
func (SiteArgs) Kind() string { return "affwatch_crawl_site" }

// InsertOpts puts the job on the crawl queue, once per scan, affiliate and host: enqueuing
// a scan's jobs again adds nothing. MaxAttempts bounds the retries of a site whose crawl
// keeps failing (the store unreachable, say): the scan is then recorded failed.
func (SiteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Name, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Shares splits a scan's affiliates into jobs: each affiliate's sites grouped by host.
// A site whose URL has no host makes a job of its own (the crawler records it as a bad
// seed).
func Shares(scanID int64, affs []affwatch.Affiliate) []SiteArgs {
	var out []SiteArgs
	for _, a := range affs {
		byHost := map[string][]string{}
		var hosts []string
		for _, site := range a.Sites {
			h := hostOf(site)
			if _, ok := byHost[h]; !ok {
				hosts = append(hosts, h)
			}
			byHost[h] = append(byHost[h], site)
		}
		for _, h := range hosts {
			share := a
			share.Sites = byHost[h]
			out = append(out, SiteArgs{ScanID: scanID, Host: h, Affiliate: share, Render: a.Render})
		}
	}
	return out
}

func hostOf(site string) string {
	u, err := url.Parse(strings.TrimSpace(site))
	if err != nil || u.Host == "" {
		return "bad-seed:" + site
	}
	return strings.ToLower(u.Host)
}

// hostLockClass is the first key of the two-key advisory locks held on hosts ("afwh");
// River's own locks use one-key (bigint) locks, a separate key space.
const hostLockClass = 0x61667768

// lockHost takes the advisory lock of host on a connection of its own (not the pool's,
// which the pages being saved and River need), without waiting. ok is false when another
// worker holds it. The lock lives as long as the connection, so a worker that dies
// (SIGKILL, a lost machine) frees its hosts at once.
func lockHost(ctx context.Context, pool *pgxpool.Pool, host string) (unlock func(), ok bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, false, fmt.Errorf("lock host %s: %w", host, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int, hashtext($2))`, hostLockClass, host).Scan(&ok); err != nil || !ok {
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, false, fmt.Errorf("lock host %s: %w", host, err)
		}
		return nil, false, nil
	}
	return func() {
		// Closing the connection releases the lock.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.Close(ctx)
	}, true, nil
}

// finished are the states a job ends in.
var finished = []rivertype.JobState{rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled}

func isFinished(s rivertype.JobState) bool { return slices.Contains(finished, s) }

// scanTag tags a scan's jobs, to list them.
func scanTag(scanID int64) string { return fmt.Sprintf("scan-%d", scanID) }
