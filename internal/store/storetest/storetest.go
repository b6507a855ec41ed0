// Package storetest is the contract every affwatch store implementation passes: the life
// of violations across scans, resolving only what was judged, unverified pages changing
// nothing, idempotent ingest, the outbox's at-least-once delivery, locks, and changes by
// hand that are never lost when two people make them at once.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
)

// Store is what the contract exercises: the root package's whole contract, every role.
type Store = affwatch.Store

// Harness opens stores of one implementation.
type Harness struct {
	// New makes a fresh, empty database and returns how to reach it.
	New func(t *testing.T) (dsn string)
	// Open opens a store on dsn with now as its clock; the test closes it.
	Open func(t *testing.T, dsn string, now func() time.Time) Store
}

// clock is a test clock that several goroutines may read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Run runs the contract on the implementation h opens.
func Run(t *testing.T, h Harness) {
	open := func(t *testing.T) (Store, *clock) {
		c := &clock{t: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)}
		st := h.Open(t, h.New(t), c.now)
		t.Cleanup(func() { st.Close() })
		return st, c
	}
	t.Run("Lifecycle", func(t *testing.T) { st, c := open(t); lifecycle(t, st, c) })
	t.Run("ResolveOnlyWhatWasJudged", func(t *testing.T) { st, _ := open(t); onlyJudged(t, st) })
	t.Run("DecisionRecords", func(t *testing.T) { st, _ := open(t); decisions(t, st) })
	t.Run("Screenshots", func(t *testing.T) { st, _ := open(t); screenshots(t, st) })
	t.Run("IdempotentIngest", func(t *testing.T) { st, _ := open(t); ingest(t, st) })
	t.Run("Verdicts", func(t *testing.T) { st, _ := open(t); verdicts(t, st) })
	t.Run("OutboxAtLeastOnce", func(t *testing.T) { st, c := open(t); outbox(t, st, c) })
	t.Run("Locks", func(t *testing.T) { st, c := open(t); locks(t, st, c) })
	t.Run("ReportLog", func(t *testing.T) { st, c := open(t); reportLog(t, st, c) })
	t.Run("HandChanges", func(t *testing.T) { st, c := open(t); handChanges(t, st, c) })
	t.Run("ConcurrentHandChanges", func(t *testing.T) { concurrentChanges(t, h) })
}

var aff = affwatch.Affiliate{ID: "a", Program: "p"}

const pageURL = "https://a.example/"

func snapshot(status affwatch.FetchStatus) affwatch.Snapshot {
	return affwatch.Snapshot{Page: affwatch.Page{URL: pageURL, FetchStatus: status, ContentSHA256: "abc",
		Affiliate: affwatch.PageAffiliate{ID: "a"}}, HTML: []byte("<html>same bytes</html>"), ETag: `"e1"`}
}

func violation(rule string, sev affwatch.Severity, suppressed string) affwatch.Violation {
	return affwatch.NewViolation(affwatch.Finding{RuleID: rule, Severity: sev, Message: "m", Suppressed: suppressed,
		Evidence: affwatch.Evidence{Key: "page"}}, affwatch.SourcePolicy, aff, pageURL)
}

func state(t *testing.T, st Store, rule string) affwatch.State {
	t.Helper()
	got, err := st.Violations(context.Background(), affwatch.ViolationFilter{RuleID: rule})
	if err != nil || len(got) != 1 {
		t.Fatalf("%s: %d violations, err %v", rule, len(got), err)
	}
	return got[0].State
}

// lifecycle: new, open, unchanged by an unverified page, resolved when gone, reopened when
// back; a finding a program exception covers is kept as suppressed and resolves like any.
func lifecycle(t *testing.T, st Store, c *clock) {
	ctx := context.Background()
	v := violation("DISC-001", affwatch.SeverityHigh, "")
	sup := violation("DISC-002", affwatch.SeverityLow, "agreed by legal")
	steps := []struct {
		name   string
		status affwatch.FetchStatus
		vs     []affwatch.Violation
		want   affwatch.State
		out    affwatch.PageOutcome
	}{
		{"first sighting", affwatch.FetchOK, []affwatch.Violation{v, sup}, affwatch.StateNew, affwatch.PageOutcome{New: 1, Suppressed: 1, Seen: 2}},
		{"seen again", affwatch.FetchOK, []affwatch.Violation{v, sup}, affwatch.StateOpen, affwatch.PageOutcome{Seen: 2}},
		{"unverified page", affwatch.FetchBotWall, nil, affwatch.StateOpen, affwatch.PageOutcome{}},
		{"fixed", affwatch.FetchOK, nil, affwatch.StateResolved, affwatch.PageOutcome{Resolved: 2}},
		{"back", affwatch.FetchOK, []affwatch.Violation{v}, affwatch.StateReopened, affwatch.PageOutcome{Reopened: 1, Seen: 1}},
	}
	for _, s := range steps {
		scan, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
		if err != nil {
			t.Fatal(err)
		}
		c.add(24 * time.Hour)
		out, err := st.SavePage(ctx, scan.ID, snapshot(s.status), s.vs)
		if err != nil {
			t.Fatal(err)
		}
		if out != s.out {
			t.Errorf("%s: outcome %+v, want %+v", s.name, out, s.out)
		}
		if got := state(t, st, "DISC-001"); got != s.want {
			t.Errorf("%s: state %s, want %s", s.name, got, s.want)
		}
		if _, err := st.FinishScan(ctx, scan.ID, affwatch.ScanSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := state(t, st, "DISC-002"); got != affwatch.StateResolved {
		t.Errorf("the exception-suppressed violation: %s, want resolved", got)
	}
	html, err := st.Snapshot(ctx, "abc")
	if err != nil || string(html) != "<html>same bytes</html>" {
		t.Fatalf("snapshot: %q %v", html, err)
	}
	if val, err := st.LastFetch(ctx, "a", pageURL); err != nil || val.ETag != `"e1"` || val.ContentSHA256 != "abc" {
		t.Errorf("last fetch: %+v %v", val, err)
	}
	hist, err := st.History(ctx, v.Fingerprint)
	if err != nil || len(hist) != 4 || hist[0].To != affwatch.StateNew || hist[3].To != affwatch.StateReopened {
		t.Errorf("history: %+v %v", hist, err)
	}
	scans, err := st.Scans(ctx, 10)
	if err != nil || len(scans) != len(steps) || scans[0].Status != affwatch.ScanSucceeded {
		t.Errorf("scans: %+v %v", scans, err)
	}
}

// onlyJudged: a rule that failed on a page (not in Judged) resolves none of its violations.
func onlyJudged(t *testing.T, st Store) {
	ctx := context.Background()
	snap := snapshot(affwatch.FetchOK)
	s1, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s1.ID, snap, []affwatch.Violation{violation("DISC-001", affwatch.SeverityHigh, "")}); err != nil {
		t.Fatal(err)
	}
	s2, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	snap.Judged = []string{"DISC-002"} // DISC-001 failed on the page
	if out, err := st.SavePage(ctx, s2.ID, snap, nil); err != nil || out.Resolved != 0 {
		t.Fatalf("a rule that failed on the page resolved its violation: %+v %v", out, err)
	}
	snap.Judged = []string{}
	s3, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if out, err := st.SavePage(ctx, s3.ID, snap, nil); err != nil || out.Resolved != 0 {
		t.Fatalf("a page no rule judged resolved a violation: %+v %v", out, err)
	}
	snap.Judged = nil
	s4, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if out, err := st.SavePage(ctx, s4.ID, snap, nil); err != nil || out.Resolved != 1 {
		t.Fatalf("once judged again, the violation resolves: %+v %v", out, err)
	}
}

// ingest: events already stored are not stored again.
func ingest(t *testing.T, st Store) {
	ctx := context.Background()
	clicks := []affwatch.Click{{ClickID: "c1", TS: time.UnixMilli(1000), AffiliateID: "a", UserAgent: "Mozilla/5.0"},
		{ClickID: "c2", TS: time.UnixMilli(2000), AffiliateID: "a", IP: "192.0.2.1"}}
	convs := []affwatch.Conversion{{ConversionID: "v1", ClickID: "c1", TS: time.UnixMilli(3000), AffiliateID: "a", Amount: 10, Commission: 1}}
	for i, want := range []int{2, 0} {
		n, err := st.AddClicks(ctx, clicks)
		if err != nil || n != want {
			t.Fatalf("load %d: %d new clicks, want %d (%v)", i+1, n, want, err)
		}
		if n, err := st.AddConversions(ctx, convs); err != nil || n != 1-i {
			t.Fatalf("load %d: %d new conversions (%v)", i+1, n, err)
		}
	}
	var got []affwatch.Click
	if err := st.EachClick(ctx, time.UnixMilli(0), func(c affwatch.Click) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ClickID != "c1" || got[0].UserAgent != "Mozilla/5.0" || got[1].IP != "192.0.2.1" {
		t.Fatalf("clicks: %+v", got)
	}
	if byID, err := st.ClicksByID(ctx, []string{"c2", "unknown"}); err != nil || len(byID) != 1 || byID[0].IP != "192.0.2.1" {
		t.Fatalf("clicks by id: %+v %v", byID, err)
	}
	if byID, err := st.ConversionsByID(ctx, []string{"v1"}); err != nil || len(byID) != 1 || byID[0].Commission != 1 {
		t.Fatalf("conversions by id: %+v %v", byID, err)
	}
	var cs []affwatch.Conversion
	if err := st.EachConversion(ctx, time.UnixMilli(2500), func(c affwatch.Conversion) error { cs = append(cs, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Amount != 10 {
		t.Fatalf("conversions since 2.5 s: %+v", cs)
	}
	clickHours(t, st)
}

// clickHours: the clicks counted per affiliate and hour count every stored click once,
// whatever was loaded twice, and only the hours asked for.
func clickHours(t *testing.T, st Store) {
	ctx := context.Background()
	hs, ok := st.(interface {
		EachClickHour(ctx context.Context, from, to time.Time, fn func(string, time.Time, int) error) error
	})
	if !ok {
		t.Fatal("the store keeps no per-hour click counts")
	}
	h := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	more := []affwatch.Click{
		{ClickID: "h1", TS: h.Add(time.Minute), AffiliateID: "b"},
		{ClickID: "h2", TS: h.Add(59 * time.Minute), AffiliateID: "b"},
		{ClickID: "h3", TS: h.Add(time.Hour), AffiliateID: "b"},
		{ClickID: "h4", TS: h.Add(-time.Millisecond), AffiliateID: "b"},
	}
	if _, err := st.AddClicks(ctx, more[:2]); err != nil {
		t.Fatal(err)
	}
	if n, err := st.AddClicks(ctx, more); err != nil || n != 2 {
		t.Fatalf("%d new clicks of 4, 2 of them stored before (%v)", n, err)
	}
	got := map[string]int{}
	if err := hs.EachClickHour(ctx, h.Add(-time.Hour), h.Add(2*time.Hour), func(aff string, hour time.Time, n int) error {
		got[aff+" "+hour.Format("15:04")] = n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"b 09:00": 1, "b 10:00": 2, "b 11:00": 1}; !maps.Equal(got, want) {
		t.Fatalf("clicks per hour: %v, want %v", got, want)
	}
	if err := hs.EachClickHour(ctx, h.Add(time.Minute), h, func(string, time.Time, int) error { return nil }); err == nil {
		t.Fatal("hours asked from a time not on the hour: no error")
	}
}

// verdicts: a conversion's verdict is stored with its reasons and replaced when judged
// again; commission at risk sums review and reject, not ok and not what the network took
// back; the lookups judging reads (orders, click addresses, conversions with their click)
// answer from the stored rows.
func verdicts(t *testing.T, st Store) {
	ctx := context.Background()
	ms := time.UnixMilli
	if _, err := st.AddClicks(ctx, []affwatch.Click{{ClickID: "c1", TS: ms(1000), AffiliateID: "a", IP: "192.0.2.1", UserAgent: "curl/8",
		Referrer: "https://a.example/p", Verdict: affwatch.VerdictReject, Codes: []string{"BOT_UA", "DATACENTER_IP"}}}); err != nil {
		t.Fatal(err)
	}
	convs := []affwatch.Conversion{
		{ConversionID: "v1", ClickID: "c1", TS: ms(3000), AffiliateID: "a", OrderID: "o1", Commission: 5, Status: "approved"},
		{ConversionID: "v2", ClickID: "c1", TS: ms(4000), AffiliateID: "a", OrderID: "o1", Commission: 7, Status: "pending"},
		{ConversionID: "v3", ClickID: "", TS: ms(5000), AffiliateID: "b", OrderID: "o3", Commission: 11, Status: "reversed"},
		{ConversionID: "v4", ClickID: "c9", TS: ms(6000), AffiliateID: "b", OrderID: "o4", Commission: 13},
	}
	if _, err := st.AddConversions(ctx, convs); err != nil {
		t.Fatal(err)
	}
	judged := ms(10_000).UTC()
	reason := affwatch.Reason{Code: "CTIT_FAST", Detail: "converted 2 s after its click (floor 10 s)", Numbers: map[string]float64{"ctit_seconds": 2}}
	vs := []affwatch.EventVerdict{
		{ConversionID: "v1", TS: ms(3000), ClickIP: "192.0.2.1", Verdict: affwatch.VerdictOK, JudgedAt: judged},
		{ConversionID: "v2", TS: ms(4000), ClickIP: "192.0.2.1", Verdict: affwatch.VerdictReject, Reasons: []affwatch.Reason{reason}, JudgedAt: judged},
		{ConversionID: "v3", TS: ms(5000), Verdict: affwatch.VerdictReview, JudgedAt: judged},
		{ConversionID: "v4", TS: ms(6000), Verdict: affwatch.VerdictOK, JudgedAt: judged},
	}
	if err := st.SaveVerdicts(ctx, vs); err != nil {
		t.Fatal(err)
	}
	// judged again: v4 is now under review
	vs[3].Verdict, vs[3].Reasons = affwatch.VerdictReview, []affwatch.Reason{{Code: "UNKNOWN_CLICK", Detail: "click \"c9\" is not in the click log"}}
	if err := st.SaveVerdicts(ctx, vs[3:]); err != nil {
		t.Fatal(err)
	}
	var got []affwatch.EventVerdict
	err := st.EachVerdict(ctx, affwatch.VerdictFilter{Verdicts: []affwatch.Verdict{affwatch.VerdictReject, affwatch.VerdictReview}},
		func(v affwatch.EventVerdict) error { got = append(got, v); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ConversionID != "v2" || got[0].OrderID != "o1" || got[0].Commission != 7 || got[0].AffiliateID != "a" ||
		len(got[0].Reasons) != 1 || got[0].Reasons[0].Numbers["ctit_seconds"] != 2 || got[2].ConversionID != "v4" ||
		got[2].Reasons[0].Code != "UNKNOWN_CLICK" || !got[0].JudgedAt.Equal(judged) {
		t.Fatalf("review and reject verdicts: %+v", got)
	}
	risk, err := st.CommissionAtRisk(ctx, ms(0))
	if err != nil || len(risk) != 2 || risk["a"] != 7 || risk["b"] != 13 {
		t.Fatalf("commission at risk: %v %v (want a 7, b 13: v3 is reversed already)", risk, err)
	}
	if risk, _ := st.CommissionAtRisk(ctx, ms(5000)); len(risk) != 1 || risk["b"] != 13 {
		t.Fatalf("commission at risk since 5 s: %v", risk)
	}
	byOrder, err := st.ConversionsByOrder(ctx, []string{"o1", "o9"})
	if err != nil || len(byOrder) != 2 {
		t.Fatalf("conversions by order: %+v %v", byOrder, err)
	}
	byIP, err := st.VerdictsByClickIP(ctx, []string{"192.0.2.1"}, ms(3500), ms(9000))
	if err != nil || len(byIP) != 1 || byIP[0].ConversionID != "v2" {
		t.Fatalf("verdicts by click address: %+v %v", byIP, err)
	}
	var withClick []string
	err = st.EachConversionWithClick(ctx, ms(0), func(c affwatch.Conversion, ck *affwatch.Click) error {
		s := c.ConversionID + ":"
		if ck != nil {
			s += ck.UserAgent + "|" + ck.Referrer + "|" + strings.Join(ck.Codes, "+")
		}
		withClick = append(withClick, s)
		return nil
	})
	want := []string{"v1:curl/8|https://a.example/p|BOT_UA+DATACENTER_IP", "v2:curl/8|https://a.example/p|BOT_UA+DATACENTER_IP", "v3:", "v4:"}
	if err != nil || !slices.Equal(withClick, want) {
		t.Fatalf("conversions with their click: %q %v", withClick, err)
	}
	if cs, _ := st.ClicksByID(ctx, []string{"c1"}); len(cs) != 1 || cs[0].Verdict != affwatch.VerdictReject || len(cs[0].Codes) != 2 {
		t.Fatalf("a click's verdict: %+v", cs)
	}
}

// outbox: an email is queued once per key, due until sent, retried after a failure.
func outbox(t *testing.T, st Store, c *clock) {
	ctx := context.Background()
	e := affwatch.Email{To: []string{"m@acme.example"}, Subject: "s", Text: "t"}
	for i, want := range []bool{true, false} {
		if added, err := st.Enqueue(ctx, "report:1:m", e); err != nil || added != want {
			t.Fatalf("enqueue %d: added %v, want %v (%v)", i+1, added, want, err)
		}
	}
	due, err := st.DueMail(ctx, c.now(), 10)
	if err != nil || len(due) != 1 || due[0].Email.Subject != "s" {
		t.Fatalf("due: %+v %v", due, err)
	}
	if err := st.MarkFailed(ctx, due[0].ID, "connection refused", c.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueMail(ctx, c.now(), 10); len(due) != 0 {
		t.Fatalf("a failed email was due again before its retry: %+v", due)
	}
	again, _ := st.DueMail(ctx, c.now().Add(2*time.Minute), 10)
	if len(again) != 1 || again[0].Attempts != 1 || again[0].LastError != "connection refused" {
		t.Fatalf("after the backoff: %+v", again)
	}
	if err := st.MarkSent(ctx, again[0].ID, c.now()); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueMail(ctx, c.now().Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("a sent email was due: %+v", due)
	}
}

// locks: held by one owner, renewed by it, taken over once expired (to the millisecond).
func locks(t *testing.T, st Store, c *clock) {
	ctx := context.Background()
	c.add(59*time.Second + 500*time.Millisecond)
	if err := st.Lock(ctx, "job:scan", "a", 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(ctx, "job:scan", "b", time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a held lock was taken: %v", err)
	}
	if err := st.Lock(ctx, "job:scan", "a", 500*time.Millisecond); err != nil {
		t.Fatalf("the holder could not renew: %v", err)
	}
	c.add(time.Second) // the lock expired half a second ago
	if err := st.Lock(ctx, "job:scan", "b", time.Minute); err != nil {
		t.Fatalf("an expired lock was not taken over: %v", err)
	}
	if err := st.Unlock(ctx, "job:scan", "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(ctx, "job:scan", "a", time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("another owner's unlock released the lock: %v", err)
	}
}

// handChanges: the rules of Violation.Changed hold through the store, with the errors an
// HTTP layer maps.
func handChanges(t *testing.T, st Store, c *clock) {
	ctx := context.Background()
	v := violation("DISC-001", affwatch.SeverityHigh, "")
	scan, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, scan.ID, snapshot(affwatch.FetchOK), []affwatch.Violation{v}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		c    affwatch.Change
		want error
	}{
		{"no reason", affwatch.Change{To: affwatch.StateSuppressed, By: "alice"}, affwatch.ErrInvalid},
		{"expiry in the past", affwatch.Change{To: affwatch.StateSuppressed, By: "alice", Reason: "r", Until: c.now().Add(-time.Hour)}, affwatch.ErrInvalid},
		{"reopen an open one", affwatch.Change{To: affwatch.StateOpen, By: "alice"}, affwatch.ErrConflict},
		{"suppress", affwatch.Change{To: affwatch.StateSuppressed, By: "alice", Reason: "theme fix due", Until: c.now().Add(48 * time.Hour)}, nil},
		{"acknowledge a suppressed one", affwatch.Change{To: affwatch.StateAcknowledged, By: "bob"}, affwatch.ErrConflict},
		{"reopen", affwatch.Change{To: affwatch.StateOpen, By: "bob"}, nil},
		{"acknowledge", affwatch.Change{To: affwatch.StateAcknowledged, By: "bob", Reason: "emailed"}, nil},
	}
	for _, s := range steps {
		_, err := st.Change(ctx, v.Fingerprint[:10], s.c)
		if (s.want == nil && err != nil) || (s.want != nil && !errors.Is(err, s.want)) {
			t.Errorf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	if _, err := st.Change(ctx, "abcdef0123", affwatch.Change{To: affwatch.StateOpen, By: "x"}); !errors.Is(err, affwatch.ErrNotFound) {
		t.Errorf("an unknown fingerprint: %v, want ErrNotFound", err)
	}
	hist, _ := st.History(ctx, v.Fingerprint)
	if len(hist) != 4 || hist[1].To != affwatch.StateSuppressed || hist[3].To != affwatch.StateAcknowledged || hist[3].Note != "acknowledged by bob: emailed" {
		t.Errorf("history: %+v", hist)
	}
}

// concurrentChanges: two connections change one violation at once, many times; every change
// either lands in the history or is refused, never silently overwritten: the history holds
// exactly the changes that succeeded, and the violation's state is the last one's.
func concurrentChanges(t *testing.T, h Harness) {
	ctx := context.Background()
	dsn := h.New(t)
	c := &clock{t: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)}
	stores := []Store{h.Open(t, dsn, c.now), h.Open(t, dsn, c.now)}
	for _, st := range stores {
		t.Cleanup(func() { st.Close() })
	}
	v := violation("DISC-001", affwatch.SeverityHigh, "")
	scan, _ := stores[0].StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := stores[0].SavePage(ctx, scan.ID, snapshot(affwatch.FetchOK), []affwatch.Violation{v}); err != nil {
		t.Fatal(err)
	}
	const rounds = 25
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for w, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				change := affwatch.Change{To: affwatch.StateSuppressed, By: fmt.Sprintf("user%d", w), Reason: fmt.Sprintf("round %d", i)}
				if i%2 == 1 {
					change = affwatch.Change{To: affwatch.StateOpen, By: fmt.Sprintf("user%d", w)}
				}
				_, err := st.Change(ctx, v.Fingerprint, change)
				switch {
				case err == nil:
					mu.Lock()
					ok++
					mu.Unlock()
				case !errors.Is(err, affwatch.ErrConflict):
					t.Errorf("user%d round %d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	hist, err := stores[0].History(ctx, v.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	byHand := hist[1:] // the first event is the scan's
	if len(byHand) != ok {
		t.Fatalf("%d changes succeeded but the history holds %d: an update was lost", ok, len(byHand))
	}
	for i := 1; i < len(byHand); i++ {
		if byHand[i].From != byHand[i-1].To {
			t.Fatalf("event %d moved from %s, but the one before left it %s: a change was made on a stale read", i, byHand[i].From, byHand[i-1].To)
		}
	}
	cur, _ := stores[1].Violation(ctx, v.Fingerprint)
	if ok == 0 || cur.State != byHand[len(byHand)-1].To {
		t.Fatalf("%d changes; state %s, the history's last %+v", ok, cur.State, byHand[len(byHand)-1])
	}
}

// decisions: every stored page keeps its decision record (revision, rules judged, rules
// that found something), so "was this page checked under rule X as of scan N?" has an
// answer, also for a page that failed to fetch (judged by nothing).
func decisions(t *testing.T, st Store) {
	ctx := context.Background()
	const url = "https://a.example/"
	v := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-001", Severity: affwatch.SeverityHigh, Evidence: affwatch.Evidence{Key: "page"}},
		affwatch.SourcePolicy, aff, url)
	ok := affwatch.Snapshot{Page: affwatch.Page{URL: url, FetchStatus: affwatch.FetchOK, Affiliate: affwatch.PageAffiliate{ID: "a"}},
		Judged: []string{"LINK-001", "DISC-001"}, PolicyRevision: "rev1", EvalErrors: "rule CLAIM-001: timeout"}
	s1, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s1.ID, ok, []affwatch.Violation{v, v}); err != nil {
		t.Fatal(err)
	}
	down := affwatch.Snapshot{Page: affwatch.Page{URL: url, FetchStatus: affwatch.FetchTimeout, FetchError: "timeout", Affiliate: affwatch.PageAffiliate{ID: "a"}}}
	s2, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s2.ID, down, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := st.PageDecisions(ctx, url, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].ScanID != s2.ID || ds[1].ScanID != s1.ID {
		t.Fatalf("decisions %+v, want scans %d then %d", ds, s2.ID, s1.ID)
	}
	if d := ds[1]; d.PolicyRevision != "rev1" || !slices.Equal(d.Judged, []string{"DISC-001", "LINK-001"}) ||
		!slices.Equal(d.Violated, []string{"DISC-001"}) || d.EvalErrors == "" || d.FetchStatus != affwatch.FetchOK || d.ScanStarted.IsZero() {
		t.Errorf("the judged page's record: %+v", d)
	}
	if d := ds[0]; d.Judged != nil || len(d.Violated) != 0 || d.FetchStatus != affwatch.FetchTimeout || d.FetchError != "timeout" {
		t.Errorf("the page that timed out was judged by nothing: %+v", d)
	}
	if ds, err := st.PageDecisions(ctx, "https://other.example/", 10); err != nil || len(ds) != 0 {
		t.Errorf("another page: %v %v", ds, err)
	}
}

// screenshots: a rendered page's screenshot is stored once by its hash, however many scans
// see it, and read back byte for byte; a hash nothing stored is not found.
func screenshots(t *testing.T, st Store) {
	ctx := context.Background()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	sha := hex.EncodeToString(sum[:])
	for range 2 {
		s, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
		snap := affwatch.Snapshot{Page: affwatch.Page{URL: "https://r.example/", FetchStatus: affwatch.FetchOK, Rendered: true,
			Screenshot: sha, Affiliate: affwatch.PageAffiliate{ID: "a"}}, Screenshot: buf.Bytes()}
		if _, err := st.SavePage(ctx, s.ID, snap, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Screenshot(ctx, sha)
	if err != nil || !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("screenshot read back: %d bytes, %v", len(got), err)
	}
	if _, err := st.Screenshot(ctx, "00"); !errors.Is(err, affwatch.ErrNotFound) {
		t.Errorf("an unknown screenshot: %v", err)
	}
	bad := affwatch.Snapshot{Page: affwatch.Page{URL: "https://r.example/2", FetchStatus: affwatch.FetchOK, Screenshot: "ff",
		Affiliate: affwatch.PageAffiliate{ID: "a"}}, Screenshot: []byte("not a png")}
	s, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s.ID, bad, nil); err == nil {
		t.Error("a screenshot that is not a PNG was stored")
	}
}

// reportLog: the time each report was last written is kept per report, replaced by the
// next, and is the zero time for a report never written.
func reportLog(t *testing.T, st Store, c *clock) {
	ctx := context.Background()
	if at, err := st.LastReport(ctx, "all"); err != nil || !at.IsZero() {
		t.Fatalf("LastReport of a report never written = %v, %v; want the zero time", at, err)
	}
	first := c.now()
	if err := st.RecordReport(ctx, "all", first); err != nil {
		t.Fatal(err)
	}
	c.add(24 * time.Hour)
	if err := st.RecordReport(ctx, "bob@acme.example", c.now()); err != nil {
		t.Fatal(err)
	}
	if at, err := st.LastReport(ctx, "all"); err != nil || !at.Equal(first) {
		t.Errorf("LastReport(all) = %v, %v; want %v", at, err, first)
	}
	c.add(time.Hour)
	if err := st.RecordReport(ctx, "all", c.now()); err != nil {
		t.Fatal(err)
	}
	if at, err := st.LastReport(ctx, "all"); err != nil || !at.Equal(c.now()) {
		t.Errorf("LastReport(all) after a second report = %v, %v; want %v", at, err, c.now())
	}
	if at, err := st.LastReport(ctx, "bob@acme.example"); err != nil || !at.Equal(first.Add(24*time.Hour)) {
		t.Errorf("LastReport(bob) = %v, %v; want %v", at, err, first.Add(24*time.Hour))
	}
}
