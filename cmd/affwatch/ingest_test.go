package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `affwatch ingest` maps the export's statuses through the config, counts conflicts apart
// from rows already loaded, prints each with its file, line, id and what differs, and
// writes them to the reject file beside the rejected rows.
func TestIngestPrintsConflictsAndMapsStatuses(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
programs: [{id: p}]
ingest:
  statuses: {approved: [ok, paid], reversed: [storno]}
`)
	first := filepath.Join(dir, "conv1.csv")
	again := filepath.Join(dir, "conv2.csv")
	const header = "conversion_id,ts,affiliate_id,amount,status\n"
	os.WriteFile(first, []byte(header+"v1,2026-11-01T10:00:00Z,a,50,paid\nv2,2026-11-01T10:00:00Z,a,20,Storno\n"), 0o644)
	os.WriteFile(again, []byte(header+
		"v1,2026-11-01T10:00:00Z,a,50,ok\n"+ // ok and paid are both approved: the same row
		"v2,2026-11-01T10:00:00Z,a,25,storno\n"+ // another amount: a conflict
		"v3,2026-11-01T10:00:00Z,a,5,weird\n"), 0o644) // not a status, not mapped

	code, out, errOut := runCLI(t, "ingest", "conversions", "--config", cfg, first, again)
	if code != exitPartial { // a rejected and a conflicting row: the load is partial
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		first + ": 2 rows, 2 loaded, 0 already loaded, 0 skipped, 0 rejected, 0 conflicting",
		again + ": 3 rows, 0 loaded, 1 already loaded, 0 skipped, 1 rejected, 1 conflicting",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not say %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"conflicting " + again + `:3: conflict: conversion_id "v2" is stored with other values: amount 25 (stored 20)`,
		"rejected " + again + `:4: status: "weird" is not approved, pending`,
		"2 rejected or conflicting row(s) written to " + filepath.Join(dir, "conversions-rejects.csv"),
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "conversions-rejects.csv"))
	if err != nil || !strings.Contains(string(rejects), again+",3,") || !strings.Contains(string(rejects), again+",4,") {
		t.Errorf("reject file: %q %v", rejects, err)
	}
	var statuses []string
	rows, err := openDB(t, dir).DB().Query(`SELECT status FROM conversions ORDER BY conversion_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		statuses = append(statuses, s)
	}
	rows.Close()
	if strings.Join(statuses, ",") != "approved,reversed" {
		t.Errorf("stored statuses %v, want approved,reversed", statuses)
	}
}

func TestBadStatusMappingNamesKeyAndLine(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown status", "ingest:\n  statuses: {aproved: [ok]}\n", []string{"line 2", "ingest.statuses", `"aproved" is not a status`}},
		{"word mapped twice", "ingest:\n  statuses:\n    approved: [ok]\n    reversed: [OK]\n", []string{"line 2", "ingest.statuses", `"ok" is mapped to both approved and reversed`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, t.TempDir(), tc.body)
			code, _, errOut := runCLI(t, "ingest", "conversions", "--config", p, "nothing.csv")
			if code != exitError {
				t.Fatalf("exit %d, want %d", code, exitError)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not mention %q", errOut, w)
				}
			}
		})
	}
}
