package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// detect.retention shorter than what the detectors read, or negative, is a config error
// naming its line.
func TestRetentionConfigErrors(t *testing.T) {
	for _, c := range []struct{ retention, want string }{
		{"10d", "line 7: detect.retention: 10d is shorter than what a detector run reads (detect.window + detect.history = 35d)"},
		{"-1d", "line 7: detect.retention: cannot be negative"},
		{"soon", `line 7: detect.retention: "soon" is not a duration`},
	} {
		cfg := writeConfig(t, t.TempDir(), onePage("http://127.0.0.1:9/", "detect:\n  window: 7d\n  history: 28d\n  retention: "+c.retention))
		code, out, errOut := runCLI(t, "detect", "--config", cfg)
		if code != exitError || !strings.Contains(errOut, c.want) {
			t.Errorf("retention %s: exit %d, want 2 saying %q\n%s%s", c.retention, code, c.want, out, errOut)
		}
	}
}

// A detector run with detect.retention removes the clicks of the days that ended longer
// ago than it, on SQLite and on PostgreSQL alike, and keeps the rest.
func TestDetectAppliesRetention(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			dir := t.TempDir()
			dsn := filepath.Join(dir, "affwatch.db")
			var (
				st  *store.DB
				err error
			)
			if dialect == "postgres" {
				dsn = testkit.Postgres(t)
				st, err = store.OpenPostgres(ctx, dsn, "")
			} else {
				st, err = store.OpenSQLite(ctx, dsn)
			}
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			var cs []affwatch.Click
			for i, age := range []int{100, 60, 41, 39, 3, 0} { // days ago
				cs = append(cs, affwatch.Click{ClickID: fmt.Sprint("c", i), TS: now.Add(-time.Duration(age) * 24 * time.Hour), AffiliateID: "deals"})
			}
			if _, err := st.AddClicks(ctx, cs); err != nil {
				t.Fatal(err)
			}
			st.Close()
			cfg := writeConfig(t, dir, onePage("http://127.0.0.1:9/", fmt.Sprintf("store: {dsn: %q}\ndetect: {retention: 40d}", dsn)))
			if code, out, errOut := runCLI(t, "detect", "--config", cfg); code != exitOK {
				t.Fatalf("detect: exit %d\n%s%s", code, out, errOut)
			}
			if dialect == "postgres" {
				st, err = store.OpenPostgres(ctx, dsn, "")
			} else {
				st, err = store.OpenSQLite(ctx, dsn)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var left []string
			st.EachClick(ctx, time.UnixMilli(0), func(c affwatch.Click) error { left = append(left, c.ClickID); return nil })
			if strings.Join(left, " ") != "c3 c4 c5" {
				t.Errorf("clicks left after detect with retention 40d: %v, want those of 39, 3 and 0 days ago", left)
			}
		})
	}
}
