package schedule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// Owner names a process in the store's locks: what it is, its pid and host, and since
// when. Whoever finds the lock taken can say who holds it, and a process on the same host
// can tell that the holder is gone (see Acquire).
func Owner(what string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s (pid %d on %s, since %s)", what, os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
}

var ownerProcess = regexp.MustCompile(`\(pid (\d+) on (\S+), since `)

// ownerGone reports whether owner names a process on this host that no longer runs.
func ownerGone(owner string) bool {
	m := ownerProcess.FindStringSubmatch(owner)
	if m == nil {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(m[1])
	if err != nil || m[2] != host || pid <= 0 || pid == os.Getpid() {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	// Signal 0 asks whether the process exists without touching it; a process of another
	// user answers EPERM, and runs.
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// lockHolder is an error of Locker.Lock that names who holds the lock.
type lockHolder interface{ LockHolder() string }

// Acquire takes the named lock for owner and renews it every ttl/3 until release is
// called, which unlocks it. The returned context ends when ctx does or when the lock
// is lost (another owner took it after a renewal failed), so the work stops rather than
// run beside another holder. A lock left by a process on this host that is gone (killed)
// is taken over at once; any other holder's lock is an error of the Locker (the store's
// names the holder and the expiry).
func Acquire(ctx context.Context, l Locker, name, owner string, ttl time.Duration) (context.Context, func() error, error) {
	err := l.Lock(ctx, name, owner, ttl)
	var h lockHolder
	if err != nil && errors.As(err, &h) && ownerGone(h.LockHolder()) {
		if uerr := l.Unlock(ctx, name, h.LockHolder()); uerr != nil {
			return nil, nil, uerr
		}
		err = l.Lock(ctx, name, owner, ttl)
	}
	if err != nil {
		return nil, nil, err
	}
	workCtx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() { // renew the lock while the work runs; a crash lets it expire
		defer close(renewed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-workCtx.Done():
				return
			case <-t.C:
				if err := l.Lock(context.WithoutCancel(workCtx), name, owner, ttl); err != nil {
					cancel(fmt.Errorf("lock %s lost: %w", name, err))
					return
				}
			}
		}
	}()
	release := func() error {
		cancel(nil)
		<-renewed
		return l.Unlock(context.WithoutCancel(ctx), name, owner)
	}
	return workCtx, release, nil
}
