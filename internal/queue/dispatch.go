package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/affwatch/affwatch"
)

// Progress is how a scan on the queue stands.
type Progress struct {
	ScanID int64
	// Sites are the scan's jobs; Done have finished, Running are being crawled, Retrying
	// wait for another attempt (one failed, or its worker died).
	Sites, Done, Running, Retrying int
	// Pages is the pages stored so far.
	Pages int
}

// Dispatch runs a scan on the queue: it starts the scan, enqueues one job per affiliate
// site (host), waits for the workers to finish them all, and finishes the scan from their
// tallies, by the same rules as an in-process scan.
type Dispatch struct {
	Pool *pgxpool.Pool
	// Scanner's Store starts and finishes the scan; its PolicyProblems are recorded on a
	// partial scan. Its Crawler and Evaluator are not used: the workers crawl and judge.
	Scanner *affwatch.Scanner
	// Poll is how often the jobs are looked at (default 1 s).
	Poll time.Duration
	// OnProgress, when set, hears how the scan stands at every poll.
	OnProgress func(Progress)
	Logger     *slog.Logger
}

func (d *Dispatch) log() *slog.Logger {
	if d.Logger == nil {
		d.Logger = slog.Default().With("component", "dispatch")
	}
	return d.Logger
}

// Run scans the affiliates through the workers and returns the finished scan (see
// affwatch.Scanner.Run for what the status and the error mean). When ctx ends first, the
// scan's jobs not yet done are cancelled and the scan is recorded failed: interrupted.
func (d *Dispatch) Run(ctx context.Context, affs []affwatch.Affiliate) (affwatch.Scan, error) {
	st := d.Scanner.Store
	client, err := insertOnly(d.Pool, d.log())
	if err != nil {
		return affwatch.Scan{}, err
	}
	if err := st.SyncAffiliates(ctx, affs); err != nil {
		return affwatch.Scan{}, fmt.Errorf("sync affiliates: %w", err)
	}
	scan, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if err != nil {
		return affwatch.Scan{}, fmt.Errorf("start scan: %w", err)
	}
	log := d.log().With("scan", scan.ID)
	shares := Shares(scan.ID, affs)
	seeds := 0
	for _, a := range affs {
		seeds += len(a.Sites)
	}
	if len(shares) > 0 {
		params := make([]river.InsertManyParams, len(shares))
		for i, s := range shares {
			opts := s.InsertOpts()
			opts.Tags = []string{scanTag(scan.ID)}
			params[i] = river.InsertManyParams{Args: s, InsertOpts: &opts}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			_, ferr := d.Scanner.Conclude(ctx, scan.ID, seeds, affwatch.SiteTally{}, []error{fmt.Errorf("enqueue the sites: %w", err)})
			return affwatch.Scan{ID: scan.ID}, ferr
		}
	}
	log.Info("scan queued", "sites", len(shares), "queue", Name)
	tally, errs, werr := d.wait(ctx, client, scan.ID, len(shares))
	if werr != nil && ctx.Err() == nil {
		errs = append(errs, werr)
	}
	if ctx.Err() != nil {
		d.cancel(client, scan.ID, log)
	}
	return d.Scanner.Conclude(ctx, scan.ID, seeds, tally, errs)
}

// wait polls the scan's jobs until every one has finished, and adds up their tallies;
// a job that was given up (it failed every attempt) or cancelled is an error.
func (d *Dispatch) wait(ctx context.Context, client *river.Client[pgx.Tx], scanID int64, sites int) (affwatch.SiteTally, []error, error) {
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		jobs, err := listJobs(ctx, client, scanID)
		if err != nil {
			if ctx.Err() != nil {
				return affwatch.SiteTally{}, nil, nil
			}
			return affwatch.SiteTally{}, nil, err
		}
		p := Progress{ScanID: scanID, Sites: sites}
		var (
			tally affwatch.SiteTally
			errs  []error
		)
		for _, j := range jobs {
			switch {
			case isFinished(j.State):
				p.Done++
			case j.State == rivertype.JobStateRunning:
				p.Running++
			case len(j.Errors) > 0:
				p.Retrying++ // an attempt failed, or the job was rescued from a worker that died
			}
			switch j.State {
			case rivertype.JobStateCompleted:
				var st affwatch.SiteTally
				if out := j.Output(); out != nil {
					if err := json.Unmarshal(out, &st); err != nil {
						errs = append(errs, fmt.Errorf("job %d: output: %w", j.ID, err))
					}
				}
				tally.Add(st)
			case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
				errs = append(errs, jobError(j))
			}
		}
		if d.OnProgress != nil {
			if sc, err := d.Scanner.Store.Scan(ctx, scanID); err == nil {
				p.Pages = sc.Counts.Pages
			}
			d.OnProgress(p)
		}
		if p.Done >= len(jobs) {
			return tally, errs, nil
		}
		select {
		case <-ctx.Done():
			return tally, errs, nil
		case <-t.C:
		}
	}
}

// jobError says why a site's job ended without completing.
func jobError(j *rivertype.JobRow) error {
	var args SiteArgs
	_ = json.Unmarshal(j.EncodedArgs, &args)
	why := string(j.State)
	if n := len(j.Errors); n > 0 {
		why = fmt.Sprintf("%s after %d attempt(s): %s", j.State, j.Attempt, j.Errors[n-1].Error)
	}
	return fmt.Errorf("affiliate %s, host %s: %s", args.Affiliate.ID, args.Host, why)
}

// listJobs lists every job of the scan.
func listJobs(ctx context.Context, client *river.Client[pgx.Tx], scanID int64) ([]*rivertype.JobRow, error) {
	params := river.NewJobListParams().Kinds(SiteArgs{}.Kind()).TagsAny(scanTag(scanID)).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(10_000).
		States(append(finished, rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled)...)
	var out []*rivertype.JobRow
	for {
		res, err := client.JobList(ctx, params)
		if err != nil {
			return nil, fmt.Errorf("list the scan's jobs: %w", err)
		}
		out = append(out, res.Jobs...)
		if len(res.Jobs) < 10_000 {
			return out, nil
		}
		params = params.After(res.LastCursor)
	}
}

// cancel cancels the scan's jobs that have not finished (the scan was interrupted).
func (d *Dispatch) cancel(client *river.Client[pgx.Tx], scanID int64, log *slog.Logger) {
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	jobs, err := listJobs(ctx, client, scanID)
	if err != nil {
		log.Error("cancel the scan's jobs", "err", err)
		return
	}
	var errs []error
	n := 0
	for _, j := range jobs {
		if isFinished(j.State) {
			continue
		}
		if _, err := client.JobCancel(ctx, j.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	log.Info("scan interrupted: its jobs cancelled", "jobs", n, "err", errors.Join(errs...))
}
