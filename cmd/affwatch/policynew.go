package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/rules"
)

var (
	regoIdent     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	notIdentChars = regexp.MustCompile(`[^a-z0-9]+`)
)

// policyNew scaffolds a rule: the rule with its METADATA, its unit tests and a fixture page
// that says it must trigger the rule, which all pass as written. The author then makes the
// placeholder phrase into what the rule is really about.
func policyNew(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy new", stderr)
	cfgPath := fs.String("config", "", "configuration file (its policy directories are checked for the id)")
	title := fs.String("title", "", "the rule's title (required)")
	severity := fs.String("severity", "", "info, low, medium, high or critical (required)")
	dir := fs.String("dir", "", "the policy directory to write into (default: the config's first policies.dirs entry, else ./policies)")
	category := fs.String("category", "", "the package category, affwatch.rules.<category>.<name> (default: the id's prefix, lower-cased)")
	name := fs.String("name", "", "the package name (default: from the title)")
	fixtures := fs.String("fixtures", "", "where the fixture page goes (default: DIR/fixtures)")
	// The id comes first (policy new ID --title ...); flags after it are parsed too.
	pos, err := parseArgs(fs, args)
	if err != nil {
		return exitError, err
	}
	id, err := oneArg(pos, "the new rule's id: affwatch policy new ABC-001 --title T --severity S")
	if err != nil {
		return exitError, err
	}
	if !rules.ValidRuleID(id) {
		return exitError, fmt.Errorf("rule id %q: want capitals, a dash and at least three digits, like DISC-001", id)
	}
	if strings.TrimSpace(*title) == "" {
		return exitError, errors.New("--title is required")
	}
	if strings.ContainsAny(*title, "\n\r") {
		return exitError, errors.New("--title: one line")
	}
	sev, err := affwatch.ParseSeverity(*severity)
	if err != nil {
		return exitError, fmt.Errorf("--severity: %w", err)
	}
	cfg, err := optionalConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	if *dir == "" {
		*dir = "policies"
		if len(cfg.Policies.Dirs) > 0 {
			*dir = cfg.path(cfg.Policies.Dirs[0])
		}
	}
	if *category == "" {
		*category = strings.ToLower(id[:strings.IndexByte(id, '-')])
	}
	if !regoIdent.MatchString(*category) {
		return exitError, fmt.Errorf("--category %q: want lower-case letters, digits and _, starting with a letter", *category)
	}
	if *name == "" {
		*name = strings.Trim(notIdentChars.ReplaceAllString(strings.ToLower(*title), "_"), "_")
		if len(*name) > 40 {
			*name = strings.TrimRight((*name)[:40], "_")
		}
		if *name == "" || !regoIdent.MatchString(*name) {
			*name = "rule_" + strings.ToLower(strings.ReplaceAll(id, "-", "_"))
		}
	}
	if !regoIdent.MatchString(*name) {
		return exitError, fmt.Errorf("--name %q: want lower-case letters, digits and _, starting with a letter", *name)
	}
	if *fixtures == "" {
		*fixtures = filepath.Join(*dir, "fixtures")
	}

	// The id must be new among the rules in force and those of the directory written to.
	sources := policySources(cfg)
	if abs, _ := filepath.Abs(*dir); !containsDir(cfg, abs) {
		if _, err := os.Stat(*dir); err == nil {
			sources = append(sources, rules.Source{Name: *dir, FS: os.DirFS(*dir)})
		}
	}
	known, _ := rules.ReadCatalogue(sources) // broken files are policy check's business
	for _, r := range known {
		if r.ID == id {
			return exitError, fmt.Errorf("rule id %s is already used by %s:%d (%s)", id, r.File, r.Line, r.Package)
		}
	}
	pkg := rules.RulePrefix + *category + "." + *name
	for _, r := range known {
		if r.Package == pkg {
			return exitError, fmt.Errorf("package %s is already %s's (%s:%d): choose another --name", pkg, r.ID, r.File, r.Line)
		}
	}

	ruleFile := filepath.Join(*dir, *category, *name+".rego")
	testFile := filepath.Join(*dir, *category, *name+"_test.rego")
	fixtureFile := filepath.Join(*fixtures, strings.ToLower(id)+".html")
	phrase := "example forbidden phrase " + strings.ToLower(id)
	files := []struct {
		path string
		body string
		rego bool
	}{
		{ruleFile, fmt.Sprintf(ruleTemplate, strconv.Quote(strings.TrimSpace(*title)), id, sev, pkg, phrase), true},
		{testFile, fmt.Sprintf(testTemplate, pkg, *name, phrase), true},
		{fixtureFile, fmt.Sprintf(fixtureTemplate, id, html.EscapeString(*title), phrase), false},
	}
	for _, f := range files {
		if _, err := os.Stat(f.path); err == nil {
			return exitError, fmt.Errorf("%s already exists: choose another --name or --category", f.path)
		}
	}
	for _, f := range files {
		body := []byte(f.body)
		if f.rego {
			// What opa fmt writes, so that policy check finds nothing to format.
			if body, err = format.SourceWithOpts(f.path, body, format.Opts{RegoVersion: ast.RegoV1}); err != nil {
				return exitError, fmt.Errorf("%s: %w", f.path, err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return exitError, err
		}
		if err := os.WriteFile(f.path, body, 0o644); err != nil {
			return exitError, err
		}
		fmt.Fprintf(stdout, "wrote %s\n", f.path)
	}
	fmt.Fprintf(stdout, "\n%s (%s, %s) looks for the placeholder phrase %q. Make it look for what it is about,\n"+
		"then run affwatch policy test, affwatch policy check and affwatch policy eval --file %s.\n", id, pkg, sev, phrase, fixtureFile)
	if abs, _ := filepath.Abs(*dir); !containsDir(cfg, abs) {
		// Tried as a new user would: the rule was written where no command looked for it.
		fmt.Fprintf(stdout, "\nNote: %s is not in your config's policies.dirs, so those commands will not load the rule yet:\n"+
			"add it (policies: {dirs: [%s]}) to the config, or pass --dir with a directory that is.\n", *dir, *dir)
	}
	return exitOK, nil
}

// containsDir reports whether a config's policy directories include dir (absolute).
func containsDir(cfg *Config, dir string) bool {
	for _, d := range cfg.Policies.Dirs {
		if abs, _ := filepath.Abs(cfg.path(d)); abs == dir {
			return true
		}
	}
	return false
}

// ruleTemplate: 1 title (quoted), 2 id, 3 severity, 4 package, 5 phrase.
const ruleTemplate = `# METADATA
# title: %[1]s
# description: >-
#   TODO: say what the rule finds and why it matters to the advertiser.
# custom:
#   id: %[2]s
#   severity: %[3]s
#   remediation: TODO say what the partner should change.
package %[4]s

import data.affwatch.lib.page

# phrases are what the rule looks for in the text a reader sees (lower case). Replace the
# placeholder with what the rule is about, and its test and fixture page with it.
phrases := {%[5]q}

deny contains finding if {
	some block in page.visible_blocks
	some phrase in phrases
	contains(lower(block.text), phrase)
	finding := {
		"msg": sprintf("the page says %%q", [phrase]),
		"evidence": page.evidence(block.text, block.selector, block.offset, phrase),
	}
}
`

// testTemplate: 1 package, 2 name, 3 phrase.
const testTemplate = `package %[1]s_test

import data.%[1]s

block(text, hidden) := {"offset": 10, "tag": "p", "text": text, "selector": "body > p", "hidden": hidden}

test_phrase_denied if {
	findings := %[2]s.deny with input as {"url": "https://partner.example/", "blocks": [block("It has an %[3]s in it.", false)]}
	count(findings) == 1
	some f in findings
	f.evidence.offset == 10
}

test_clean_page_passes if {
	count(%[2]s.deny) == 0 with input as {"url": "https://partner.example/", "blocks": [block("Nothing to see.", false)]}
}

test_hidden_text_passes if {
	count(%[2]s.deny) == 0 with input as {"url": "https://partner.example/", "blocks": [block("An %[3]s, hidden.", true)]}
}
`

// fixtureTemplate: 1 id, 2 title (HTML-escaped), 3 phrase. A fixture page says what it
// must trigger, and the fixture tests check it both ways.
const fixtureTemplate = `<!doctype html>
<!-- expect: %[1]s -->
<html lang="en">
<head><title>%[1]s fixture</title></head>
<body>
<h1>%[2]s</h1>
<p>This page has an %[3]s in it, so the rule fires.</p>
</body>
</html>
`
