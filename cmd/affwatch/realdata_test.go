package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/testkit"
)

// TestTalkingDataThroughAColumnMapping loads 100,000 real mobile ad clicks (TalkingData,
// Kaggle 2018) through a column mapping in the config alone: the channel is the affiliate,
// the row is the click id, and the same file read as conversions keeps the rows with an
// attributed_time. Ingest and detection must complete, and every finding carries its
// numbers. The data has no fraud labels: what the detectors flag is reported, not scored.
func TestTalkingDataThroughAColumnMapping(t *testing.T) {
	file := filepath.Join(testkit.SharedData(t, "talkingdata_train_sample"), "train_sample.csv")
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
programs: [{id: talkingdata}]
ingest:
  clicks: {click_id: "@row", ts: click_time, affiliate_id: channel, ip: ip, sub_id: app}
  conversions: {conversion_id: "@row", click_id: "@row", ts: "attributed_time?", affiliate_id: channel}
`)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, attributed := 0, 0
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		rows++
		if strings.HasSuffix(sc.Text(), ",1") {
			attributed++
		}
	}
	f.Close()

	code, out, errOut := runCLI(t, "ingest", "clicks", "--config", cfg, file)
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("%d rows, %d loaded, 0 already loaded, 0 skipped, 0 rejected", rows, rows)) {
		t.Fatalf("ingest clicks: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "ingest", "conversions", "--config", cfg, file)
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("%d rows, %d loaded, 0 already loaded, %d skipped, 0 rejected", rows, attributed, rows-attributed)) {
		t.Fatalf("ingest conversions (%d attributed): exit %d\n%s%s", attributed, code, out, errOut)
	}
	// Loading it again changes nothing.
	if code, out, _ := runCLI(t, "ingest", "clicks", "--config", cfg, file); code != exitOK || !strings.Contains(out, fmt.Sprintf("0 loaded, %d already loaded", rows)) {
		t.Fatalf("second ingest: %s", out)
	}

	code, out, errOut = runCLI(t, "detect", "--config", cfg, "--end", "2017-11-10T00:00:00Z")
	if code != exitOK {
		t.Fatalf("detect: exit %d\n%s%s", code, out, errOut)
	}
	vs, err := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string][]string{}
	for _, v := range vs {
		n := v.Evidence.Numbers
		if _, ok := n["value"]; !ok || v.Message == "" {
			t.Errorf("%s on channel %s carries no numbers: %+v", v.RuleID, v.AffiliateID, v.Evidence)
		}
		if !strings.HasPrefix(v.RuleID, "FRAUD-INT") {
			if _, ok := n["q"]; !ok {
				t.Errorf("%s on channel %s has no q-value", v.RuleID, v.AffiliateID)
			}
		}
		byRule[v.RuleID] = append(byRule[v.RuleID], "channel "+v.AffiliateID+": "+v.Message)
	}
	rules := make([]string, 0, len(byRule))
	for r := range byRule {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	t.Logf("%d clicks, %d conversions (attributed installs): %d findings", rows, attributed, len(vs))
	for _, r := range rules {
		t.Logf("%s: %d channels", r, len(byRule[r]))
		for i, m := range byRule[r] {
			if i == 3 {
				break
			}
			t.Logf("  %s", m)
		}
	}
}
