package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affwatch/affwatch/internal/schedule"
	"github.com/affwatch/affwatch/internal/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A run that outlasts its interval is not started again beside itself: the tick is
// skipped and counted.
func TestOverlappingRunIsSkipped(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running, maxRunning, runs atomic.Int32
	release := make(chan struct{})
	s := &schedule.Scheduler{Locker: st, Jobs: []schedule.Job{{Name: "scan", Spec: "@every 1s", Run: func(ctx context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}}}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a skipped tick", func() bool { return s.Health().Jobs["scan"].Skipped > 0 })
	close(release)
	cancel()
	s.Stop()
	if maxRunning.Load() != 1 {
		t.Fatalf("%d runs at once, want 1", maxRunning.Load())
	}
}

// A job another daemon holds the store lock for is skipped; once the lock is released
// (or expires), this daemon runs it.
func TestStoreLockKeepsTwoDaemonsApart(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	if err := st.Lock(ctx, "job:scan", "other-daemon", time.Minute); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	s := &schedule.Scheduler{Locker: st, Owner: "this-daemon", Jobs: []schedule.Job{{Name: "scan", Spec: "@every 1h",
		Run: func(context.Context) error { runs.Add(1); return nil }}}}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.RunNow(ctx, "scan")
	if runs.Load() != 0 || s.Health().Jobs["scan"].Skipped != 1 {
		t.Fatalf("ran %d times beside another daemon's lock; health %+v", runs.Load(), s.Health().Jobs["scan"])
	}
	if err := st.Unlock(ctx, "job:scan", "other-daemon"); err != nil {
		t.Fatal(err)
	}
	s.RunNow(ctx, "scan")
	if runs.Load() != 1 {
		t.Fatalf("did not run once the lock was free")
	}
	// The lock was released after the run: the other daemon can take it.
	if err := st.Lock(ctx, "job:scan", "other-daemon", time.Minute); err != nil {
		t.Fatalf("lock not released after the run: %v", err)
	}
}

// The report waits for the scan in hand instead of reading half a scan.
func TestPipelineJobsRunInTurn(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	scanDone := make(chan struct{})
	var order []string
	var reportSawScanDone bool
	s := &schedule.Scheduler{Locker: st, Jobs: []schedule.Job{
		{Name: "scan", Spec: "@every 1h", Run: func(context.Context) error {
			time.Sleep(200 * time.Millisecond)
			order = append(order, "scan")
			close(scanDone)
			return nil
		}},
		{Name: "report", Spec: "@every 1h", Run: func(context.Context) error {
			select {
			case <-scanDone:
				reportSawScanDone = true
			default:
			}
			order = append(order, "report")
			return errors.New("smtp down")
		}},
	}}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	go s.RunNow(ctx, "scan")
	time.Sleep(50 * time.Millisecond)
	s.RunNow(ctx, "report")
	if !reportSawScanDone || len(order) != 2 {
		t.Fatalf("report ran beside the scan: order %v", order)
	}
	// The health endpoint says the report failed, and when each job runs next.
	rec := httptest.NewRecorder()
	s.ServeHealth(rec, httptest.NewRequest("GET", "/healthz", nil))
	var h schedule.Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 503 || h.Status != "failing" || h.Jobs["report"].LastError != "smtp down" || h.Jobs["scan"].LastSuccess.IsZero() ||
		h.Jobs["scan"].Next.IsZero() {
		t.Fatalf("health %d %+v", rec.Code, h)
	}
}

// A lock names its holder and expiry; one left by a process on this host that is gone is
// taken over at once, one held by a live process is not.
func TestAcquireTakesOverOnlyADeadHoldersLock(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	live := fmt.Sprintf("affwatch serve (pid %d on %s, since 2026-01-02T03:04:05Z)", os.Getppid(), host)
	if err := st.Lock(ctx, "job:scan", live, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, _, err := schedule.Acquire(ctx, st, "job:scan", schedule.Owner("affwatch scan"), time.Minute)
	var held *store.LockedError
	if !errors.As(err, &held) || held.Owner != live || held.Expires.Before(time.Now()) || !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a live holder's lock: %v", err)
	}

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	st.Unlock(ctx, "job:scan", live)
	gone := fmt.Sprintf("affwatch scan (pid %d on %s, since 2026-01-02T03:04:05Z)", dead.Process.Pid, host)
	if err := st.Lock(ctx, "job:scan", gone, time.Minute); err != nil {
		t.Fatal(err)
	}
	workCtx, release, err := schedule.Acquire(ctx, st, "job:scan", schedule.Owner("affwatch scan"), time.Minute)
	if err != nil {
		t.Fatalf("a dead holder's lock was not taken over: %v", err)
	}
	if workCtx.Err() != nil {
		t.Fatal("the work's context is done")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(ctx, "job:scan", "next", time.Minute); err != nil {
		t.Fatalf("release left the lock held: %v", err)
	}
}
