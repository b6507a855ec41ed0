// Package app holds affwatch's workflows: building, writing and sending the managers'
// reports, and the other flows the CLI, the daemon, the demo, the dashboard and the
// workers run. A command parses its flags and the config, calls one of them, and prints;
// the workflows take plain options and the store roles they need.
package app

import (
	"log/slog"
	"time"
)

// logger is l, or the default logger of the component.
func logger(l *slog.Logger, component string) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default().With("component", component)
}

// now is the clock's time, or the wall clock's.
func now(clock func() time.Time) time.Time {
	if clock != nil {
		return clock()
	}
	return time.Now()
}
