package rules_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

func loadWith(t *testing.T, extra fstest.MapFS, opt rules.Options) *rules.Engine {
	t.Helper()
	srcs := []rules.Source{{Name: "policies", FS: policies.FS}, {Name: "extra", FS: extra}}
	opt.Programs = []affwatch.Program{{ID: "acme"}}
	e, err := rules.Load(context.Background(), srcs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// undisclosedPage has one Amazon link and no disclosure: DISC-001 (and LINK-001).
func undisclosedPage() *affwatch.Page {
	return &affwatch.Page{SchemaVersion: 1, URL: "https://blog.example/p", Program: "acme", FetchStatus: affwatch.FetchOK,
		Links: []affwatch.Link{{Href: "https://www.amazon.com/dp/B0?tag=x-20", Text: "buy", Rel: []string{}, Offset: 5,
			Affiliate: &affwatch.AffiliateLink{Network: "amazon", AffiliateID: "x-20"}}}}
}

func ruleIDs(fs []affwatch.Finding) string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return strings.Join(ids, ",")
}

// Issue 11.2: a rule that runs past the page's time budget is named as failed on that
// page, the other rules' findings stand, and the next page does not wait for it twice.
func TestRulePastItsTimeBudgetIsNamedAndTheOthersStand(t *testing.T) {
	e := loadWith(t, fstest.MapFS{"expensive.rego": {Data: []byte(testkit.ExpensiveRule)}}, rules.Options{EvalTimeout: 300 * time.Millisecond})
	for i := range 2 {
		start := time.Now()
		fs, err := e.Evaluate(context.Background(), undisclosedPage())
		took := time.Since(start)
		var failed affwatch.RulesFailed
		if !errors.As(err, &failed) || strings.Join(failed.Failed(), ",") != "XX-901" || !errors.Is(err, rules.ErrEvalTimeout) {
			t.Fatalf("page %d: error %v, want XX-901 named as past its time budget", i, err)
		}
		if !strings.Contains(err.Error(), "policies.eval_timeout") {
			t.Errorf("the error does not name the setting: %v", err)
		}
		if got := ruleIDs(fs); got != "DISC-001,LINK-001" {
			t.Fatalf("page %d: the other rules' findings %s, want DISC-001,LINK-001", i, got)
		}
		// From the first page on, the rule is evaluated on its own, so the other rules
		// no longer wait for it (a hang would show here as a page far past its budget).
		if got := strings.Join(e.Isolated(), ","); got != "XX-901" {
			t.Errorf("page %d: rules evaluated on their own: %q, want XX-901", i, got)
		}
		if took > 30*time.Second {
			t.Errorf("page %d took %s with a 300ms budget", i, took)
		}
	}
}

// Issue 11.2: a stopped scan stops an evaluation in the middle: a signal is not held up
// by a rule however long its budget.
func TestEvaluationStopsWhenTheScanStops(t *testing.T) {
	e := loadWith(t, fstest.MapFS{"expensive.rego": {Data: []byte(testkit.ExpensiveRule)}}, rules.Options{EvalTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	fs, err := e.Evaluate(ctx, undisclosedPage())
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the evaluation took %s after its context ended at 200ms", took)
	}
	if err == nil || len(fs) != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("findings %v, error %v: want nothing judged and the context's error", fs, err)
	}
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Issue 11.2: an evaluation that allocates past the memory budget is stopped long before
// its time budget, and the rule at fault is named.
func TestRulePastTheMemoryBudgetIsStopped(t *testing.T) {
	limit := int64(heapObjects()) + 200<<20
	e := loadWith(t, fstest.MapFS{"expensive.rego": {Data: []byte(testkit.ExpensiveRule)}},
		rules.Options{EvalTimeout: time.Minute, EvalMemory: limit})
	start := time.Now()
	fs, err := e.Evaluate(context.Background(), undisclosedPage())
	// The time budget (a minute) is far away: the memory watch is what stops the rule.
	if took := time.Since(start); took > time.Minute {
		t.Fatalf("took %s", took)
	}
	var failed affwatch.RulesFailed
	if !errors.As(err, &failed) || strings.Join(failed.Failed(), ",") != "XX-901" || !errors.Is(err, rules.ErrEvalMemory) {
		t.Fatalf("error %v, want XX-901 named as past its memory budget", err)
	}
	if got := ruleIDs(fs); got != "DISC-001,LINK-001" {
		t.Fatalf("the other rules' findings %s", got)
	}
}

// Issue 11.3: one rule's findings on one page are capped: past the cap they are folded
// into one finding that counts them and quotes the first few.
func TestManyFindingsOfOneRuleAreFolded(t *testing.T) {
	e := loadWith(t, fstest.MapFS{}, rules.Options{MaxFindingsPerRule: 20})
	for _, n := range []int{20, 5000} {
		page := undisclosedPage()
		page.Links = nil
		for i := range n {
			page.Links = append(page.Links, affwatch.Link{Href: fmt.Sprintf("https://www.amazon.com/dp/B%d?tag=x-20", i), Text: "buy",
				Rel: []string{}, Offset: 10 * i, Affiliate: &affwatch.AffiliateLink{Network: "amazon", AffiliateID: "x-20"}})
		}
		fs, err := e.Evaluate(context.Background(), page)
		if err != nil {
			t.Fatal(err)
		}
		var link []affwatch.Finding
		for _, f := range fs {
			if f.RuleID == "LINK-001" {
				link = append(link, f)
			}
		}
		switch {
		case n == 20 && len(link) != 20:
			t.Errorf("%d links: %d LINK-001 findings, want one each", n, len(link))
		case n > 20 && (len(link) != 1 || link[0].Evidence.Key != rules.FoldedKey || link[0].Evidence.Numbers["findings"] != float64(n) ||
			!strings.HasPrefix(link[0].Message, fmt.Sprintf("%d findings of this rule", n))):
			t.Errorf("%d links: %d LINK-001 findings, want one that counts them: %+v", n, len(link), link[:min(len(link), 2)])
		}
	}
}

// twoListsRule reports one claim twice with one snippet, as two claim lists that both
// match "cures insomnia" would: both messages must survive in the one violation.
const twoListsRule = `# METADATA
# title: Two lists
# custom:
#   id: XX-902
#   severity: low
package affwatch.rules.x.twolists

deny contains {"msg": "health claim (built-in list): cures insomnia", "evidence": {"snippet": "cures insomnia"}}

deny contains {"msg": "prohibited by the program: cures insomnia", "evidence": {"snippet": "cures insomnia"}}
`

// Issue 11.11: two findings of one rule on one page that share a fingerprint are merged,
// and neither message is lost.
func TestFindingsSharingAFingerprintKeepBothMessages(t *testing.T) {
	e := loadWith(t, fstest.MapFS{"twolists.rego": {Data: []byte(twoListsRule)}}, rules.Options{})
	fs, err := e.Evaluate(context.Background(), undisclosedPage())
	if err != nil {
		t.Fatal(err)
	}
	var got []affwatch.Finding
	for _, f := range fs {
		if f.RuleID == "XX-902" {
			got = append(got, f)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0].Message, "built-in list") || !strings.Contains(got[0].Message, "prohibited by the program") {
		t.Fatalf("findings of XX-902: %+v, want one that keeps both messages", got)
	}
}
