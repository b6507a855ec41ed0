package app

import (
	"context"
	"errors"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/scorecard"
	"github.com/affwatch/affwatch/rules"
)

// DetectStore is what a detector run needs of the store: every role it reads or writes
// (events, verdicts, scans, violations) and the vettings the scorecards read.
type DetectStore interface {
	affwatch.Store
	scorecard.Vettings
}

// DetectOptions describe one detector run.
type DetectOptions struct {
	// Detectors are the detectors' window (ending at End), history and thresholds.
	Detectors  detectors.Options
	Affiliates []affwatch.Affiliate
	// Programs' disabled_rules, severity_overrides and exceptions apply to the findings.
	Programs []affwatch.Program
	// Judge makes the per-event judge that judges the window's conversions again.
	Judge func(ctx context.Context) (*detectors.Judge, error)
	// Joined loads the joined rules (nil engine: there are none).
	Joined func(ctx context.Context) (*rules.Engine, error)
	// Scorecard are the scorecard settings the joined rules' documents are built with;
	// their End is the detectors' End.
	Scorecard scorecard.Options
	// Prune, when set, removes what the store no longer keeps (detect.retention's old
	// days of clicks) before anything is judged, as part of the scan.
	Prune func(ctx context.Context) error
	// Now is the clock exceptions expire by (default time.Now).
	Now func() time.Time
}

// Detect judges the window's conversions again (late clicks, orders claimed out of order,
// stuffing found since they loaded), runs the detectors over the window, then the joined
// rules over every affiliate's document, as one scan (kind detect); the detectors'
// findings show the events behind them. A failure is recorded on the scan.
func Detect(ctx context.Context, st DetectStore, opt DetectOptions) (affwatch.Scan, *detectors.JudgeSummary, error) {
	scan, err := st.StartScan(ctx, affwatch.ScanKindDetect)
	if err != nil {
		return scan, nil, err
	}
	d := opt.Detectors
	var judged *detectors.JudgeSummary
	var judge *detectors.Judge
	if opt.Prune != nil {
		err = opt.Prune(ctx)
	}
	if err == nil {
		judge, err = opt.Judge(ctx)
	}
	if err == nil {
		judged, err = judge.JudgeStored(ctx, st, d.End.Add(-d.Window), d.End, d.History)
	}
	var vs []affwatch.Violation
	if err == nil {
		vs, err = detectors.Run(ctx, st, d, opt.Affiliates)
	}
	if err == nil {
		judged.Attach(vs)
		_, err = st.SaveDetections(ctx, scan.ID, ApplyPrograms(opt.Programs, vs, now(opt.Now)))
	}
	if err == nil {
		// The joined rules see the detectors' findings just stored.
		_, err = judgeAffiliates(ctx, st, opt, scan.ID)
	}
	status, msg := affwatch.ScanSucceeded, ""
	if err != nil {
		status, msg = affwatch.ScanFailed, err.Error()
	}
	done, ferr := st.FinishScan(context.WithoutCancel(ctx), scan.ID, status, msg)
	return done, judged, errors.Join(err, ferr)
}

// judgeAffiliates runs the joined rules over every affiliate's document as part of a
// detect scan and stores their findings (source joined, the normal lifecycle).
func judgeAffiliates(ctx context.Context, st DetectStore, opt DetectOptions, scanID int64) (affwatch.PageOutcome, error) {
	eng, err := opt.Joined(ctx)
	if eng == nil {
		return affwatch.PageOutcome{}, err
	}
	sc := opt.Scorecard
	sc.End = opt.Detectors.End
	sc.Vettings, sc.Verdicts = st, st
	cards, err := scorecard.Build(ctx, st, sc)
	if err != nil {
		return affwatch.PageOutcome{}, err
	}
	vs, err := scorecard.Judge(ctx, eng, cards)
	if err != nil {
		return affwatch.PageOutcome{}, err
	}
	return st.SaveJoined(ctx, scanID, vs)
}

// ApplyPrograms applies each program's disabled_rules, severity_overrides and exceptions
// to detector findings, as the policy engine does to page findings: a disabled rule's
// findings are dropped, an override sets the severity, an exception keeps the finding as
// suppressed with its reason.
func ApplyPrograms(programs []affwatch.Program, vs []affwatch.Violation, now time.Time) []affwatch.Violation {
	byID := map[string]affwatch.Program{}
	for _, p := range programs {
		byID[p.ID] = p
	}
	out := vs[:0]
	for _, v := range vs {
		f := affwatch.Finding{RuleID: v.RuleID, Severity: v.Severity}
		if !rules.ApplyProgram(&f, byID[v.ProgramID], v.AffiliateID, v.URL, now) {
			continue
		}
		v.Severity = f.Severity
		if f.Suppressed != "" {
			v.State, v.SuppressedBy, v.SuppressReason = affwatch.StateSuppressed, affwatch.ExceptionSuppressor, f.Suppressed
		}
		out = append(out, v)
	}
	return out
}
