package affwatch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source says what found a violation: a Rego policy run on a page, a statistical
// detector run on click and conversion logs, or a joined rule run on an affiliate's
// whole document (scorecard, violations, findings, pages, vetting).
type Source string

// The violation sources.
const (
	SourcePolicy   Source = "policy"
	SourceDetector Source = "detector"
	SourceJoined   Source = "joined"
)

// State is where a violation stands in its life across scans.
type State string

// The violation states. Nothing is deleted: a violation moves between states.
const (
	StateNew          State = "new"          // first seen in the latest scan
	StateOpen         State = "open"         // seen again
	StateResolved     State = "resolved"     // absent on a verified rescan
	StateReopened     State = "reopened"     // seen again after being resolved
	StateSuppressed   State = "suppressed"   // kept quiet on purpose, with reason and expiry
	StateAcknowledged State = "acknowledged" // the manager knows and is acting on it
)

// Active reports whether the violation still stands (is not resolved).
func (s State) Active() bool { return s != StateResolved }

// Evidence is what a manager needs to see a violation with their own eyes.
type Evidence struct {
	Snippet  string `json:"snippet,omitempty"`
	Selector string `json:"selector,omitempty"`
	Offset   int    `json:"offset,omitempty"`
	URL      string `json:"url,omitempty"`
	// Key distinguishes several findings of one rule on one page (for example the href of
	// each offending link); it is part of the fingerprint and should stay stable across
	// scans when the offence is the same.
	Key string `json:"key,omitempty"`
	// Numbers are the measurements behind a detector finding (value, baseline, p, ...).
	Numbers map[string]float64 `json:"numbers,omitempty"`
	// Box is where the element the evidence names (Selector) was on the rendered page, in
	// CSS pixels of the page's screenshot, whose SHA-256 Screenshot is; both empty on a
	// static page.
	Box        *Box   `json:"box,omitempty"`
	Screenshot string `json:"screenshot,omitempty"`
	// Tier is a detector finding's strength: "review" (worth a look) or "act" (hold the
	// commissions).
	Tier string `json:"tier,omitempty"`
	// Events are per-event verdicts behind a detector finding: the affiliate's
	// conversions that earned the reason codes the detector measures (the first few), each
	// with its codes and their numbers.
	Events []EventVerdict `json:"events,omitempty"`
}

// FingerprintKey is what tells findings of one rule on one page apart in their
// fingerprint: the evidence's key, else its snippet.
func (e Evidence) FingerprintKey() string {
	if e.Key != "" {
		return e.Key
	}
	return e.Snippet
}

// Finding is one result of a rule or detector, before it is tracked as a Violation.
type Finding struct {
	RuleID      string   `json:"rule_id"`
	Title       string   `json:"title"`
	Severity    Severity `json:"severity"`
	Message     string   `json:"message"`
	Remediation string   `json:"remediation,omitempty"`
	// Advisory is true for warn rules: reported, but never enough to fail a scan.
	Advisory bool     `json:"advisory,omitempty"`
	Evidence Evidence `json:"evidence"`
	// Suppressed carries the reason when a program exception covers the finding.
	Suppressed string `json:"suppressed,omitempty"`
}

// Violation is a finding tracked across scans under a stable fingerprint.
type Violation struct {
	Fingerprint    string    `json:"fingerprint"`
	RuleID         string    `json:"rule_id"`
	Source         Source    `json:"source"`
	Severity       Severity  `json:"severity"`
	Title          string    `json:"title"`
	Message        string    `json:"message"`
	Remediation    string    `json:"remediation,omitempty"`
	Advisory       bool      `json:"advisory,omitempty"`
	Evidence       Evidence  `json:"evidence"`
	AffiliateID    string    `json:"affiliate_id"`
	ProgramID      string    `json:"program_id"`
	URL            string    `json:"url,omitempty"`
	PolicyRevision string    `json:"policy_revision,omitempty"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	FirstScan      int64     `json:"first_scan"`
	LastScan       int64     `json:"last_scan"`
	State          State     `json:"state"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	// Suppression, when State is suppressed: why, by whom, and until when.
	SuppressReason string    `json:"suppress_reason,omitempty"`
	SuppressedBy   string    `json:"suppressed_by,omitempty"`
	SuppressUntil  time.Time `json:"suppress_until,omitzero"`
}

// Fingerprint identifies a violation across scans: the same rule, affiliate, page (or
// metric) and evidence key give the same fingerprint, whatever the wording of the message.
func Fingerprint(ruleID, affiliateID, where, key string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{ruleID, affiliateID, where, key}, "\x1f")))
	return hex.EncodeToString(h[:16])
}

// NewViolation turns a finding about an affiliate's page (or metric, for detectors) into
// a violation with its fingerprint; the store decides its state.
func NewViolation(f Finding, src Source, aff Affiliate, where string) Violation {
	v := Violation{
		Fingerprint: Fingerprint(f.RuleID, aff.ID, where, f.Evidence.FingerprintKey()),
		RuleID:      f.RuleID,
		Source:      src,
		Severity:    f.Severity,
		Title:       f.Title,
		Message:     f.Message,
		Remediation: f.Remediation,
		Advisory:    f.Advisory,
		Evidence:    f.Evidence,
		AffiliateID: aff.ID,
		ProgramID:   aff.Program,
		URL:         where,
		State:       StateNew,
	}
	if f.Suppressed != "" {
		v.State = StateSuppressed
		v.SuppressReason = f.Suppressed
		v.SuppressedBy = "program exception"
	}
	return v
}

// ExceptionSuppressor is the SuppressedBy of violations that a program exception covers,
// as opposed to ones a person suppressed by hand.
const ExceptionSuppressor = "program exception"

// Sighted moves a stored violation to its state after it was found again in scan scanID
// at time now; found carries the fresh finding's own suppression (from a program
// exception). It returns the updated violation.
func (cur Violation) Sighted(found Violation, scanID int64, now time.Time) Violation {
	next := cur
	next.Severity, next.Title, next.Message = found.Severity, found.Title, found.Message
	next.Remediation, next.Advisory, next.Evidence = found.Remediation, found.Advisory, found.Evidence
	next.PolicyRevision = found.PolicyRevision
	next.LastSeen, next.LastScan = now, scanID
	if cur.LastScan == scanID {
		return next // seen twice in one scan: nothing moves
	}
	manual := cur.State == StateSuppressed && cur.SuppressedBy != ExceptionSuppressor
	switch {
	case found.State == StateSuppressed && !manual:
		next.State = StateSuppressed
		next.SuppressReason, next.SuppressedBy = found.SuppressReason, found.SuppressedBy
	case manual && (cur.SuppressUntil.IsZero() || now.Before(cur.SuppressUntil)):
		// still suppressed by hand
	case cur.State == StateResolved:
		next.State, next.ResolvedAt = StateReopened, time.Time{}
	case cur.State == StateAcknowledged:
	default: // new, open, reopened, an expired suppression, or an exception that ended
		next.State = StateOpen
	}
	if next.State != StateSuppressed {
		next.SuppressReason, next.SuppressedBy, next.SuppressUntil = "", "", time.Time{}
	}
	return next
}

// Resolvable reports whether a violation that was not found again on a verified rescan
// should be marked resolved. A suppression by hand holds until it expires.
func (cur Violation) Resolvable(now time.Time) bool {
	switch cur.State {
	case StateResolved:
		return false
	case StateSuppressed:
		return cur.SuppressedBy == ExceptionSuppressor || (!cur.SuppressUntil.IsZero() && now.After(cur.SuppressUntil))
	}
	return true
}

// ErrInvalid and ErrConflict are why a change by hand is refused: the request itself is
// wrong (no reason, an expiry in the past), or the violation's state does not allow it
// (suppressing a resolved violation). An HTTP layer maps them, with ErrNotFound, to 400,
// 409 and 404.
var (
	ErrInvalid  = errors.New("invalid")
	ErrConflict = errors.New("conflict")
)

// ViolationEvent is one change in a violation's life: by a scan (ScanID) or by hand.
type ViolationEvent struct {
	At     time.Time `json:"at"`
	ScanID int64     `json:"scan_id,omitempty"`
	From   State     `json:"from,omitempty"`
	To     State     `json:"to"`
	Note   string    `json:"note,omitempty"`
}

// Change is a change a person makes to a violation: suppress it (with a reason, until an
// expiry or for good), acknowledge it (they are acting on it), or reopen it (lift a
// suppression or an acknowledgement, or disagree that it was fixed).
type Change struct {
	To     State // StateSuppressed, StateAcknowledged or StateOpen
	By     string
	Reason string
	Until  time.Time // suppressions only; zero: until lifted
}

// Changed applies a change by hand at time now and returns the violation after it with the
// note its history records. It refuses (ErrInvalid) a change without who made it, a
// suppression without a reason or with an expiry not in the future, and (ErrConflict) a
// change the state does not allow: suppressing or acknowledging a resolved violation,
// acknowledging a suppressed one, reopening one that is open.
func (cur Violation) Changed(c Change, now time.Time) (Violation, string, error) {
	short := cur.Fingerprint[:min(12, len(cur.Fingerprint))]
	if c.To == StateSuppressed && strings.TrimSpace(c.Reason) == "" {
		return cur, "", fmt.Errorf("violation %s: %w: a suppression needs a reason", short, ErrInvalid)
	}
	if strings.TrimSpace(c.By) == "" {
		return cur, "", fmt.Errorf("violation %s: %w: a change needs who made it", short, ErrInvalid)
	}
	next := cur
	var note string
	switch c.To {
	case StateSuppressed:
		switch {
		case !c.Until.IsZero() && !c.Until.After(now):
			return cur, "", fmt.Errorf("violation %s: %w: the suppression would end %s, which is not in the future", short, ErrInvalid,
				c.Until.UTC().Format(time.RFC3339))
		case cur.State == StateResolved:
			return cur, "", fmt.Errorf("violation %s: %w: it is resolved, there is nothing to suppress", short, ErrConflict)
		}
		next.SuppressReason, next.SuppressedBy, next.SuppressUntil = c.Reason, c.By, c.Until
		note = fmt.Sprintf("suppressed by %s: %s", c.By, c.Reason)
	case StateAcknowledged:
		switch cur.State {
		case StateResolved:
			return cur, "", fmt.Errorf("violation %s: %w: it is resolved, there is nothing to acknowledge", short, ErrConflict)
		case StateSuppressed:
			return cur, "", fmt.Errorf("violation %s: %w: it is suppressed; reopen it first", short, ErrConflict)
		}
		note = fmt.Sprintf("acknowledged by %s: %s", c.By, c.Reason)
	case StateOpen:
		switch cur.State {
		case StateNew, StateOpen, StateReopened:
			return cur, "", fmt.Errorf("violation %s: %w: it is already %s", short, ErrConflict, cur.State)
		}
		next.SuppressReason, next.SuppressedBy, next.SuppressUntil = "", "", time.Time{}
		next.ResolvedAt = time.Time{}
		note = "reopened by " + c.By
		if c.Reason != "" {
			note += ": " + c.Reason
		}
	default:
		return cur, "", fmt.Errorf("violation %s: %w: %q is not a state a person sets", short, ErrInvalid, c.To)
	}
	next.State = c.To
	return next, note, nil
}
