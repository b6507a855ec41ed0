package schedule_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/affwatch/affwatch/internal/schedule"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// Two daemons on one PostgreSQL database, both scheduling a short scan "@every 2s", the
// second started a second after the first (so its ticks fall between the first's): each
// two-second tick is run by one of them, never by both, though the job is over long before
// the other daemon's tick fires (the job's lock alone let it run twice); and the two never
// run it at once.
func TestTwoDaemonsOnPostgresRunEachTickOnce(t *testing.T) {
	dsn := testkit.Postgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		runs    = map[string][]string{} // tick (2 s bucket) -> daemons that ran it
		running int
		overlap bool
	)
	var scheds []*schedule.Scheduler
	for i, name := range []string{"daemon-a", "daemon-b"} {
		if i > 0 {
			time.Sleep(time.Second)
		}
		st, err := store.OpenPostgres(ctx, dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s := &schedule.Scheduler{Locker: st, Owner: name, Jobs: []schedule.Job{{Name: "scan", Spec: "@every 2s", Run: func(ctx context.Context) error {
			mu.Lock()
			running++
			overlap = overlap || running > 1
			sec := time.Now().Truncate(2 * time.Second).Format(time.TimeOnly)
			runs[sec] = append(runs[sec], name)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}}}}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	time.Sleep(7 * time.Second)
	cancel()
	for _, s := range scheds {
		s.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runs) < 3 {
		t.Fatalf("only %d ticks ran in 8 s: %v", len(runs), runs)
	}
	for sec, by := range runs {
		if len(by) != 1 {
			t.Errorf("the tick of %s ran %d times: %v", sec, len(by), by)
		}
	}
	if overlap {
		t.Error("the two daemons ran the job at once")
	}
	skipped := 0
	for _, s := range scheds {
		skipped += s.Health().Jobs["scan"].Skipped
	}
	if skipped < 2 {
		t.Errorf("%d ticks skipped by the other daemon, want one a tick", skipped)
	}
	t.Logf("ticks: %v", runs)
}
