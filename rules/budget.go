package rules

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// DefaultEvalTimeout bounds the evaluation of one page (every rule together, and again
// each rule alone when the shared evaluation fails). The whole pack judges a real page in
// tens of milliseconds; a rule that needs seconds is broken, not thorough.
const DefaultEvalTimeout = 5 * time.Second

// DefaultEvalMemory is how large the process's heap may grow while pages are being
// evaluated before the evaluations in flight are stopped.
const DefaultEvalMemory = 2 << 30

// ErrEvalTimeout and ErrEvalMemory are why an evaluation was stopped by its budget: the
// rule that was stopped judged nothing on that page.
var (
	ErrEvalTimeout = errors.New("evaluation ran past its time budget")
	ErrEvalMemory  = errors.New("evaluation ran past its memory budget")
)

// memWatch stops evaluations when the heap grows past a limit. OPA has no per-evaluation
// allocation cap, but it checks for cancellation inside its loops and in the built-ins
// that build large values (numbers.range), so cancelling the evaluations in flight stops
// the one that allocates. The heap is the process's: when it trips, every evaluation in
// flight is stopped, and the engine then evaluates the rules one at a time to find the
// one at fault.
type memWatch struct {
	limit uint64
	every time.Duration

	mu       sync.Mutex
	inflight map[int]context.CancelCauseFunc
	// dirty is true once the watch stopped evaluations, until their garbage is collected:
	// the next evaluation watched waits for that, or the heap would blame it.
	dirty   bool
	next    int
	running bool
}

func newMemWatch(limit uint64) *memWatch {
	return &memWatch{limit: limit, every: 20 * time.Millisecond, inflight: map[int]context.CancelCauseFunc{}}
}

// watch registers an evaluation's cancel function while it runs; the returned function
// unregisters it.
func (w *memWatch) watch(cancel context.CancelCauseFunc) (done func()) {
	if w == nil || w.limit == 0 {
		return func() {}
	}
	w.mu.Lock()
	if w.dirty {
		w.dirty = false
		w.mu.Unlock()
		runtime.GC()
		w.mu.Lock()
	}
	id := w.next
	w.next++
	w.inflight[id] = cancel
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.inflight, id)
		w.mu.Unlock()
	}
}

// loop samples the heap while evaluations are in flight, and ends when none is.
func (w *memWatch) loop() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(w.every)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.inflight) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 || sample[0].Value.Uint64() <= w.limit {
			continue
		}
		w.mu.Lock()
		stopped := make([]int, 0, len(w.inflight))
		for id, cancel := range w.inflight {
			cancel(fmt.Errorf("%w: the heap reached %d MiB (limit %d MiB)", ErrEvalMemory, sample[0].Value.Uint64()>>20, w.limit>>20))
			stopped = append(stopped, id)
		}
		w.dirty = true
		w.mu.Unlock()
		// Let the stopped evaluations return and their garbage be collected before the
		// heap is judged again, or the next evaluation would be blamed for it.
		for wait := 0; wait < 250 && w.anyOf(stopped); wait++ {
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
	}
}

func (w *memWatch) anyOf(ids []int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if _, ok := w.inflight[id]; ok {
			return true
		}
	}
	return false
}

// budget is the context one evaluation runs under: the caller's, with the time budget,
// stopped by the memory watch. stop releases it; overrun reports whether the budget (not
// the caller) stopped the evaluation, and why.
func (e *Engine) budget(ctx context.Context) (ectx context.Context, stop func(), overrun func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	tctx, tcancel := context.WithTimeoutCause(ctx, e.timeout, fmt.Errorf("%w (%s, policies.eval_timeout)", ErrEvalTimeout, e.timeout))
	unwatch := e.mem.watch(cancel)
	stop = func() {
		unwatch()
		tcancel()
		cancel(nil)
	}
	overrun = func() error {
		// the memory watch's cause reaches tctx from its parent
		if cause := context.Cause(tctx); tctx.Err() != nil && (errors.Is(cause, ErrEvalTimeout) || errors.Is(cause, ErrEvalMemory)) {
			return cause
		}
		return nil
	}
	return tctx, stop, overrun
}
