package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// countClicks is how many clicks a database holds (0 while it cannot be read).
func countClicks(dbPath string) int {
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=2000")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM clicks`).Scan(&n); err != nil {
		return 0
	}
	return n
}

// An ingest killed (SIGKILL) after some batches were stored leaves a database that loading
// the same file again completes: every click once, the per-hour click counts equal to the
// clicks counted afresh, the rows stored before the kill reported as already loaded.
func TestKilledIngestIsCompletedByARerun(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "programs: [{id: synthetic}]\n")
	gen := filepath.Join(dir, "gen")
	if code, out, errOut := runCLI(t, "events", "generate", "--seed", "5", "--out", gen, "--affiliates", "100", "--fraud-per-pattern", "2",
		"--days", "28", "--clicks-per-day", "60", "--end", "2026-11-01T00:00:00Z"); code != exitOK {
		t.Fatalf("generate: exit %d\n%s%s", code, out, errOut)
	}
	file := filepath.Join(gen, "clicks.csv.gz")
	raw, err := exec.Command("sh", "-c", "zcat "+file+" | wc -l").Output()
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if _, err := fmt.Sscan(strings.TrimSpace(string(raw)), &rows); err != nil || rows < 100_000 {
		t.Fatalf("the generated file has %q lines: %v", raw, err)
	}
	rows-- // the header

	child := exec.Command(os.Args[0], "ingest", "clicks", "--config", cfg, file)
	child.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "affwatch.db")
	stored := 0
	for deadline := time.Now().Add(60 * time.Second); stored == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		stored = countClicks(dbPath)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	stored = countClicks(dbPath)
	if stored == 0 || stored >= rows {
		t.Fatalf("killed with %d of %d clicks stored; the test wants an ingest killed midway", stored, rows)
	}

	code, out, errOut := runCLI(t, "ingest", "clicks", "--config", cfg, file)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, " "+strconv.Itoa(rows-stored)+" loaded, "+strconv.Itoa(stored)+" already loaded") {
		t.Errorf("rerun after %d of %d: %s", stored, rows, out)
	}
	st := openDB(t, dir)
	var n, distinct int
	if err := st.DB().QueryRow(`SELECT count(*), count(DISTINCT click_id) FROM clicks`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != rows || distinct != rows {
		t.Fatalf("%d clicks (%d distinct ids) stored, the file has %d", n, distinct, rows)
	}
	var differ int
	if err := st.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM (
		SELECT affiliate_id, (ts - ((ts % 3600000) + 3600000) % 3600000) / 3600000 AS hour, count(*) AS clicks FROM clicks GROUP BY 1, 2
		EXCEPT SELECT affiliate_id, hour, clicks FROM click_hours)`).Scan(&differ); err != nil {
		t.Fatal(err)
	}
	var kept int
	if err := st.DB().QueryRow(`SELECT coalesce(sum(clicks), 0) FROM click_hours`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if differ != 0 || kept != rows {
		t.Fatalf("click_hours: %d affiliate-hours differ from the clicks, %d clicks counted of %d", differ, kept, rows)
	}
}
