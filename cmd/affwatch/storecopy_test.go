package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// copiedTables are the tables store copy moves, as the target's count query reads them.
var copiedTables = []string{"affiliates", "scans", "snapshots", "screenshots", "pages", "violations", "violation_events",
	"user_agents", "clicks", "conversions", "conversion_verdicts", "outbox", "vettings", "users", "sessions", "api_tokens"}

func tableCounts(t *testing.T, st *store.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tb := range copiedTables {
		var n int64
		if err := st.DB().QueryRow(`SELECT count(*) FROM ` + tb).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tb, err)
		}
		out[tb] = n
	}
	return out
}

// An installation on SQLite (the demo's scans, violations with their history, clicks,
// conversions and verdicts, plus a screenshot, an email in the outbox, a vetting, a user
// with a session and a token) moves to PostgreSQL with store copy: every table's count
// matches and is printed, what the store reads back is the same, and the target goes on
// working (new ids after the copied ones, new clicks into their day). A second copy is
// refused unless --replace; a copy that fails leaves the target empty and runs again.
func TestStoreCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "demo", "--dir", dir); code != exitOK {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	dbPath := filepath.Join(dir, "affwatch.db")
	src, err := store.OpenSQLite(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 20, 10)))
	sum := sha256.Sum256(buf.Bytes())
	shot := hex.EncodeToString(sum[:])
	scan, _ := src.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := src.SavePage(ctx, scan.ID, affwatch.Snapshot{Page: affwatch.Page{URL: "https://r.example/", FetchStatus: affwatch.FetchOK,
		Rendered: true, Screenshot: shot, Affiliate: affwatch.PageAffiliate{ID: "a"}}, Screenshot: buf.Bytes()}, nil); err != nil {
		t.Fatal(err)
	}
	src.FinishScan(ctx, scan.ID, affwatch.ScanSucceeded, "")
	if _, err := src.Enqueue(ctx, "k1", affwatch.Email{To: []string{"bob@acme.example"}, Subject: "report", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.SaveVetting(ctx, store.Vetting{Site: "https://new.example/", Program: "acme", Verdict: "approve", VettedAt: time.Now(), Report: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	u, err := src.AddUser(ctx, affwatch.User{Name: "alice", Role: affwatch.RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	src.CreateSession(ctx, "sess-hash", u.ID, time.Now().Add(time.Hour))
	if _, err := src.AddToken(ctx, affwatch.APIToken{UserID: u.ID, Name: "ci", Prefix: "aw_1", CreatedAt: time.Now()}, "token-hash"); err != nil {
		t.Fatal(err)
	}
	want := tableCounts(t, src)
	for _, tb := range []string{"scans", "pages", "violations", "violation_events", "clicks", "conversions", "conversion_verdicts", "snapshots"} {
		if want[tb] == 0 {
			t.Fatalf("the source holds no %s: the test would prove nothing", tb)
		}
	}
	vsWant, _ := src.Violations(ctx, affwatch.ViolationFilter{})
	histWant, _ := src.History(ctx, vsWant[0].Fingerprint)
	src.Close()

	dsn := testkit.Postgres(t)
	// a copy that fails half way (the target refuses the vettings) leaves nothing behind
	pg, err := store.OpenPostgres(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	pg.DB().Exec(`ALTER TABLE vettings ADD CONSTRAINT refuse_all CHECK (site = '')`)
	code, out, errOut := runCLI(t, "store", "copy", "--from", "sqlite:"+dbPath, "--to", dsn)
	if code != exitFailed || !strings.Contains(errOut, "nothing was copied") || !strings.Contains(errOut, "vettings") {
		t.Fatalf("failing copy: exit %d, want 4 naming the table\n%s%s", code, out, errOut)
	}
	for tb, n := range tableCounts(t, pg) {
		if n != 0 {
			t.Errorf("after the failed copy the target's %s holds %d rows", tb, n)
		}
	}
	pg.DB().Exec(`ALTER TABLE vettings DROP CONSTRAINT refuse_all`)
	pg.Close()

	code, out, errOut = runCLI(t, "store", "copy", "--from", "sqlite:"+dbPath, "--to", dsn)
	if code != exitOK || !strings.Contains(out, "every table's count matches") {
		t.Fatalf("copy: exit %d\n%s%s", code, out, errOut)
	}
	for _, tb := range copiedTables {
		if !strings.Contains(out, tb) {
			t.Errorf("the copy's output does not list %s:\n%s", tb, out)
		}
	}
	pg, err = store.OpenPostgres(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if got := tableCounts(t, pg); !reflect.DeepEqual(got, want) {
		t.Errorf("counts in PostgreSQL %v, in SQLite %v", got, want)
	}
	vsGot, _ := pg.Violations(ctx, affwatch.ViolationFilter{})
	if !reflect.DeepEqual(vsGot, vsWant) {
		t.Errorf("violations differ after the copy:\n%+v\n%+v", vsGot, vsWant)
	}
	if histGot, _ := pg.History(ctx, vsWant[0].Fingerprint); !reflect.DeepEqual(histGot, histWant) {
		t.Errorf("history differs after the copy:\n%+v\n%+v", histGot, histWant)
	}
	if got, err := pg.Screenshot(ctx, shot); err != nil || !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("screenshot after the copy: %d bytes, %v", len(got), err)
	}
	if got, err := pg.TokenUser(ctx, "token-hash", time.Now()); err != nil || got.Name != "alice" {
		t.Errorf("token after the copy: %+v %v", got, err)
	}
	// the target goes on: a new scan's id follows the copied ones; a known click is not new
	next, err := pg.StartScan(ctx, affwatch.ScanKindCrawl)
	if err != nil || next.ID != want["scans"]+1 {
		t.Errorf("new scan after the copy: id %d, %v; want %d", next.ID, err, want["scans"]+1)
	}
	var clickID string
	var ts int64
	pg.DB().QueryRow(`SELECT click_id, ts FROM clicks LIMIT 1`).Scan(&clickID, &ts)
	if n, err := pg.AddClicks(ctx, []affwatch.Click{{ClickID: clickID, TS: time.UnixMilli(ts), AffiliateID: "x"},
		{ClickID: "after-copy", TS: time.Now(), AffiliateID: "x"}}); err != nil || n != 1 {
		t.Errorf("clicks after the copy: %d new, %v; want 1", n, err)
	}

	code, out, errOut = runCLI(t, "store", "copy", "--from", dbPath, "--to", dsn)
	if code != exitError || !strings.Contains(errOut, "not empty") || !strings.Contains(errOut, "--replace") {
		t.Errorf("copy into a store with data: exit %d, want 2 saying so\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "store", "copy", "--from", dbPath, "--to", dsn, "--replace", "--format", "json")
	if code != exitOK || !strings.Contains(out, `"table": "violation_events"`) {
		t.Fatalf("copy --replace: exit %d\n%s%s", code, out, errOut)
	}
	if got := tableCounts(t, pg); !reflect.DeepEqual(got, want) {
		t.Errorf("counts after --replace %v, want %v", got, want)
	}
}

// store copy's bad input: each is one line, exit 2, naming what to do.
func TestStoreCopyBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "postgres://x@127.0.0.1/x"}, "needs --from and --to"},
		{[]string{"--from", filepath.Join(dir, "missing.db"), "--to", "postgres://x@127.0.0.1/x"}, "missing.db"},
		{[]string{"--from", "mysql://h/x", "--to", "postgres://x@127.0.0.1/x"}, "want a SQLite file (sqlite:PATH) or a postgres:// URL"},
		{[]string{"--from", "postgres://u:secret@127.0.0.1/x", "--to", filepath.Join(dir, "t.db")}, "--password-env"},
	} {
		code, out, errOut := runCLI(t, append([]string{"store", "copy"}, c.args...)...)
		if code != exitError || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "secret") {
			t.Errorf("%v: exit %d, want 2 saying %q\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
}
