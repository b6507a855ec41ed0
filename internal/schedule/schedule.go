// Package schedule runs affwatch's nightly jobs on cron schedules: one run of a job at a
// time (an overlapping tick is skipped and logged), one job of the pipeline at a time (the
// report waits for the scan), a lock in the store so that two daemons never run the same
// job, and a graceful stop that lets the running job finish its page in hand.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is one scheduled piece of work.
type Job struct {
	Name string
	// Spec is a standard five-field cron expression, in the scheduler's time zone.
	Spec string
	Run  func(ctx context.Context) error
	// Background jobs (the outbox retries) run beside the pipeline instead of in turn.
	Background bool
}

// Locker is a lock shared by every daemon on one database.
type Locker interface {
	Lock(ctx context.Context, name, owner string, ttl time.Duration) error
	Unlock(ctx context.Context, name, owner string) error
}

// Scheduler runs jobs until its context ends.
type Scheduler struct {
	Jobs     []Job
	Location *time.Location
	Locker   Locker
	// Owner names this daemon in the locks (by default Owner("affwatch serve"): its pid,
	// host and start).
	Owner string
	// LockTTL is how long a lock outlives a daemon that died holding it (default 2 min;
	// a running job renews it).
	LockTTL time.Duration
	Logger  *slog.Logger

	mu       sync.Mutex // guards status
	status   map[string]*Status
	pipeline sync.Mutex // one pipeline job at a time
	cron     *cron.Cron
	ids      map[string]cron.EntryID
}

// Status is what the health endpoint says of one job.
type Status struct {
	Running     bool      `json:"running"`
	LastStart   time.Time `json:"last_start,omitzero"`
	LastEnd     time.Time `json:"last_end,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Next        time.Time `json:"next,omitzero"`
	Runs        int       `json:"runs"`
	Skipped     int       `json:"skipped"`
}

func (s *Scheduler) log() *slog.Logger {
	if s.Logger == nil {
		s.Logger = slog.Default().With("component", "schedule")
	}
	return s.Logger
}

// Start schedules the jobs; Stop ends them.
func (s *Scheduler) Start(ctx context.Context) error {
	if s.Location == nil {
		s.Location = time.UTC
	}
	if s.Owner == "" {
		s.Owner = Owner("affwatch serve")
	}
	if s.LockTTL <= 0 {
		s.LockTTL = 2 * time.Minute
	}
	s.status = map[string]*Status{}
	s.ids = map[string]cron.EntryID{}
	s.cron = cron.New(cron.WithLocation(s.Location))
	for _, j := range s.Jobs {
		s.status[j.Name] = &Status{}
		var running sync.Mutex // one run of this job at a time
		var id cron.EntryID
		id, err := s.cron.AddFunc(j.Spec, func() {
			if !running.TryLock() {
				s.skip(j.Name, "the previous run is still going")
				return
			}
			defer running.Unlock()
			if !j.Background && !s.claimTick(ctx, j.Name, s.cron.Entry(id)) {
				return
			}
			s.run(ctx, j)
		})
		if err != nil {
			return fmt.Errorf("schedule %s %q: %w", j.Name, j.Spec, err)
		}
		s.ids[j.Name] = id
	}
	s.cron.Start()
	for _, j := range s.Jobs {
		s.log().Info("job scheduled", "job", j.Name, "spec", j.Spec, "next", s.cron.Entry(s.ids[j.Name]).Next)
	}
	return nil
}

// Stop stops scheduling and waits for the running jobs to end (their context is the one
// Start was given: cancel it first to make them stop early).
func (s *Scheduler) Stop() {
	<-s.cron.Stop().Done()
}

func (s *Scheduler) skip(job, why string) {
	s.mu.Lock()
	s.status[job].Skipped++
	s.mu.Unlock()
	s.log().Warn("run skipped", "job", job, "why", why)
}

// tickTTL is how long a claim on a tick is kept; expired claims are dropped.
const tickTTL = 24 * time.Hour

// claimTick claims the tick e is running for, in the store shared by the daemons, and
// reports whether this daemon got it: of several daemons on one database, only the first
// runs a pipeline job's tick. The job's lock alone would not do: a short job that one
// daemon has finished before the other's tick fires would run twice. A tick of an
// "@every" schedule, which each daemon counts from its own start, is its interval's
// bucket.
func (s *Scheduler) claimTick(ctx context.Context, job string, e cron.Entry) bool {
	tick := e.Prev
	if tick.IsZero() {
		tick = time.Now()
	}
	if every, ok := e.Schedule.(cron.ConstantDelaySchedule); ok {
		tick = tick.Truncate(every.Delay)
	}
	name := "tick:" + job + "@" + tick.UTC().Format(time.RFC3339)
	if p, ok := s.Locker.(interface {
		DropExpiredLocks(ctx context.Context) error
	}); ok {
		if err := p.DropExpiredLocks(ctx); err != nil {
			s.log().Warn("drop expired tick claims", "err", err)
		}
	}
	err := s.Locker.Lock(ctx, name, s.Owner, tickTTL)
	var h lockHolder
	switch {
	case err == nil:
		return true
	case errors.As(err, &h):
		s.skip(job, "this tick was run by "+h.LockHolder())
	default:
		s.skip(job, "claim the tick: "+err.Error())
	}
	return false
}

// run runs one job: after the pipeline job in hand, under the store lock.
func (s *Scheduler) run(ctx context.Context, j Job) {
	if !j.Background {
		s.pipeline.Lock()
		defer s.pipeline.Unlock()
	}
	if ctx.Err() != nil {
		return
	}
	jobCtx, release, err := Acquire(ctx, s.Locker, "job:"+j.Name, s.Owner, s.LockTTL)
	if err != nil {
		s.skip(j.Name, err.Error())
		return
	}
	s.mu.Lock()
	st := s.status[j.Name]
	st.Running, st.LastStart = true, time.Now()
	st.Runs++
	s.mu.Unlock()
	s.log().Info("job started", "job", j.Name)

	err = j.Run(jobCtx)
	if ctx.Err() == nil && jobCtx.Err() != nil {
		s.log().Error("the job was stopped", "job", j.Name, "err", context.Cause(jobCtx))
	}
	if uerr := release(); uerr != nil {
		s.log().Error("unlock", "job", j.Name, "err", uerr)
	}

	s.mu.Lock()
	st.Running, st.LastEnd = false, time.Now()
	if err != nil {
		st.LastError = err.Error()
	} else {
		st.LastError, st.LastSuccess = "", st.LastEnd
	}
	s.mu.Unlock()
	if err != nil {
		s.log().Error("job failed", "job", j.Name, "took", time.Since(st.LastStart).Round(time.Millisecond), "err", err)
		return
	}
	s.log().Info("job finished", "job", j.Name, "took", time.Since(st.LastStart).Round(time.Millisecond))
}

// RunNow runs a job at once (as the next tick would), waiting for it.
func (s *Scheduler) RunNow(ctx context.Context, name string) error {
	for _, j := range s.Jobs {
		if j.Name == name {
			s.run(ctx, j)
			return nil
		}
	}
	return fmt.Errorf("no job %q", name)
}

// Health is the daemon's state: each job's last run, last success and next run.
type Health struct {
	Status string             `json:"status"` // ok, or failing when a job's last run failed
	Jobs   map[string]*Status `json:"jobs"`
}

// Health reports on every job.
func (s *Scheduler) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{Status: "ok", Jobs: map[string]*Status{}}
	names := make([]string, 0, len(s.status))
	for n := range s.status {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := *s.status[n]
		st.Next = s.cron.Entry(s.ids[n]).Next
		if st.LastError != "" {
			h.Status = "failing"
		}
		h.Jobs[n] = &st
	}
	return h
}

// ServeHealth answers GET /healthz with the health as JSON: 200 when ok, 503 when a job's
// last run failed (so a monitor can alert).
func (s *Scheduler) ServeHealth(w http.ResponseWriter, r *http.Request) {
	h := s.Health()
	w.Header().Set("Content-Type", "application/json")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

// ErrNoJobs is returned when the configuration schedules nothing.
var ErrNoJobs = errors.New("no job is scheduled: set schedule.scan, schedule.detect or schedule.report")
