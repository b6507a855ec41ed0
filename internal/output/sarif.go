package output

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// SARIF 2.1.0 (OASIS), the format code scanning dashboards read.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

// The rule ids of policy check's own results.
const (
	CheckRuleCompile = "AFFWATCH-POLICY-CHECK"
	CheckRuleFormat  = "AFFWATCH-OPA-FMT"
)

// sarifOutput writes one SARIF log with one run: the rule catalogue as the driver's rules,
// a finding (eval), a violation (scan) or a problem (check) as each result.
type sarifOutput struct{}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     *sarifText     `json:"shortDescription,omitempty"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration *sarifConfig   `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           *int               `json:"ruleIndex,omitempty"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
	BaselineState       string             `json:"baselineState,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// SARIFLevel is the SARIF level of a severity: critical and high are errors, medium a
// warning, low and info notes.
func SARIFLevel(severity string) string {
	switch severity {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

func (sarifOutput) Output(w io.Writer, r *Report) error {
	run := sarifRun{
		Tool:       sarifTool{Driver: sarifDriver{Name: r.Tool.Name, Version: r.Tool.Version, InformationURI: r.Tool.URI, Rules: []sarifRule{}}},
		Results:    []sarifResult{},
		Properties: map[string]any{"command": r.Command},
	}
	if r.PolicyRevision != "" {
		run.Properties["policy_revision"] = r.PolicyRevision
	}
	index := map[string]int{}
	addRule := func(sr sarifRule) {
		index[sr.ID] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sr)
	}
	for _, rule := range r.Rules {
		sr := sarifRule{ID: rule.ID, Name: ruleName(rule), ShortDescription: &sarifText{rule.Title},
			DefaultConfiguration: &sarifConfig{Level: SARIFLevel(rule.Severity)},
			Properties:           map[string]any{"severity": rule.Severity, "kind": rule.Kind}}
		if rule.Description != "" {
			sr.FullDescription = &sarifText{rule.Description}
		}
		if rule.Remediation != "" {
			sr.Help = &sarifText{rule.Remediation}
		}
		if rule.Package != "" {
			sr.Properties["package"] = rule.Package
		}
		addRule(sr)
	}
	ref := func(id string) *int {
		if i, ok := index[id]; ok {
			return &i
		}
		return nil
	}
	switch r.Command {
	case CommandEval:
		for _, p := range r.Pages {
			for _, f := range p.Findings {
				res := sarifResult{RuleID: f.RuleID, RuleIndex: ref(f.RuleID), Level: SARIFLevel(f.Severity),
					Message: sarifText{f.Message}, Locations: pageLocation(p.URL, f.Evidence),
					Properties: evidenceProperties(f.Evidence, map[string]any{"severity": f.Severity, "kind": f.Kind})}
				if f.Suppressed != "" {
					res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.Suppressed}}
				}
				run.Results = append(run.Results, res)
			}
		}
	case CommandScan:
		if r.Scan != nil {
			run.Properties["scan_id"] = r.Scan.ID
			run.Properties["scan_status"] = r.Scan.Status
		}
		for _, v := range r.Violations {
			res := sarifResult{RuleID: v.RuleID, RuleIndex: ref(v.RuleID), Level: SARIFLevel(v.Severity),
				Message: sarifText{v.Message}, Locations: pageLocation(v.URL, v.Evidence),
				PartialFingerprints: map[string]string{"affwatch/v1": v.Fingerprint},
				BaselineState:       baselineState(v.State),
				Properties: evidenceProperties(v.Evidence, map[string]any{"severity": v.Severity, "state": v.State,
					"affiliate_id": v.AffiliateID, "advisory": v.Advisory})}
			if v.PolicyRevision != "" {
				res.Properties["policy_revision"] = v.PolicyRevision
			}
			if v.State == "suppressed" {
				res.Suppressions = []sarifSuppression{{Kind: "external"}}
			}
			run.Results = append(run.Results, res)
		}
	case CommandCheck:
		addRule(sarifRule{ID: CheckRuleCompile, Name: "PolicyCompiles", ShortDescription: &sarifText{"The policy compiles with the Page schema and follows the METADATA conventions"},
			DefaultConfiguration: &sarifConfig{Level: "error"}})
		addRule(sarifRule{ID: CheckRuleFormat, Name: "PolicyFormatted", ShortDescription: &sarifText{"The policy file is formatted as opa fmt formats it"},
			DefaultConfiguration: &sarifConfig{Level: "warning"}})
		if c := r.Check; c != nil {
			for _, p := range c.Problems {
				res := sarifResult{RuleID: CheckRuleCompile, RuleIndex: ref(CheckRuleCompile), Level: "error", Message: sarifText{p.Message},
					Locations: []sarifLocation{}}
				if p.File != "" {
					loc := sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: p.File}}}
					if p.Line > 0 {
						loc.PhysicalLocation.Region = &sarifRegion{StartLine: p.Line, StartColumn: p.Column}
					}
					res.Locations = append(res.Locations, loc)
				}
				run.Results = append(run.Results, res)
			}
			for _, f := range c.Unformatted {
				run.Results = append(run.Results, sarifResult{RuleID: CheckRuleFormat, RuleIndex: ref(CheckRuleFormat), Level: "warning",
					Message:   sarifText{"not formatted (run affwatch policy fmt --write)"},
					Locations: []sarifLocation{{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: f}}}}})
			}
		}
	default:
		return fmt.Errorf("sarif output: not offered for %q", r.Command)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

// pageLocation locates a finding: the page's URL is the artifact; the element's selector is
// a logical location of kind "element" (SARIF's kind for an HTML element). The offset is
// into the page's visible text, not into the HTML the URL serves, so it is not a SARIF
// region: it is in the result's properties (text_offset) with the snippet.
func pageLocation(pageURL string, e Evidence) []sarifLocation {
	loc := sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: pageURL}}}
	if e.Selector != "" {
		loc.LogicalLocations = []sarifLogical{{Name: e.Selector, FullyQualifiedName: e.Selector, Kind: "element"}}
	}
	return []sarifLocation{loc}
}

func evidenceProperties(e Evidence, props map[string]any) map[string]any {
	props["text_offset"] = e.Offset
	if e.Selector != "" {
		props["selector"] = e.Selector
	}
	if e.Snippet != "" {
		props["snippet"] = e.Snippet
	}
	if e.Key != "" {
		props["evidence_key"] = e.Key
	}
	if e.URL != "" {
		props["evidence_url"] = e.URL
	}
	return props
}

// baselineState is SARIF's word for where a violation stands against the scans before.
func baselineState(state string) string {
	switch state {
	case "new", "reopened":
		return "new"
	case "resolved":
		return "absent"
	}
	return "unchanged"
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// ruleName is a rule's SARIF name: its title in UpperCamelCase.
func ruleName(r Rule) string {
	var b strings.Builder
	for _, w := range nonWord.Split(r.Title, -1) {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}
