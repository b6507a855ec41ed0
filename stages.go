package affwatch

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a looked-up scan, violation or page does not exist.
var ErrNotFound = errors.New("not found")

// Snapshot is a fetched page: the Page document extracted from it and the HTML it was
// extracted from (decoded to UTF-8), which the store keeps compressed as evidence.
type Snapshot struct {
	Page Page
	HTML []byte
	// Screenshot is the rendered page's screenshot (PNG; nil on a static page), stored
	// content-addressed by Page.Screenshot, its SHA-256.
	Screenshot []byte
	// ETag and LastModified let the next scan ask for the page only if it changed.
	ETag         string
	LastModified string
	// Judged, when not nil, are the rules that were evaluated on this page: only their
	// violations here can be resolved (a rule that failed, or could not be loaded, judged
	// nothing). EvalErrors says what failed.
	Judged     []string
	EvalErrors string
	// PolicyRevision is the revision of the policies that judged the page, kept with the
	// page as its decision record.
	PolicyRevision string
}

// Crawler fetches an affiliate's sites and hands over each page as soon as it is seen.
// A page that cannot be fetched is still handed over, with a FetchStatus that says why;
// Crawl returns an error only when the crawl itself could not run.
type Crawler interface {
	Crawl(ctx context.Context, aff Affiliate, visit func(Snapshot) error) error
}

// RulesFailed is the error an Evaluator returns beside its findings when some rules
// failed at run time: the findings of the other rules stand.
type RulesFailed interface {
	error
	Failed() []string
}

// Evaluator checks a page against the program's policies.
type Evaluator interface {
	Evaluate(ctx context.Context, page *Page) ([]Finding, error)
	// Revision identifies the policies in force, recorded on every violation.
	Revision() string
	// RuleIDs are the rules in force.
	RuleIDs() []string
}

// PageOutcome is what saving one page changed.
type PageOutcome struct {
	New, Reopened, Resolved, Suppressed, Seen int
}

// ViolationFilter selects violations; zero fields select everything.
type ViolationFilter struct {
	AffiliateIDs []string
	RuleID       string
	MinSeverity  Severity
	States       []State
	Source       Source
	Since        time.Time // last seen at or after
}

// The store's contract is split by role: each consumer names the roles it needs (a
// scan the scans and pages it writes, the report the violations it reads, the daemon
// the locks and the outbox), and Store composes them all. Every implementation runs
// the contract suite internal/store/storetest.

// AffiliateSync records the configured affiliates.
type AffiliateSync interface {
	SyncAffiliates(ctx context.Context, affs []Affiliate) error
}

// Scans are the runs: crawl scans and detector runs, each with its counts and status.
type Scans interface {
	// StartScan records a new scan. Scans of the same kind still marked running (a crash
	// interrupted them) are marked failed first.
	StartScan(ctx context.Context, kind string) (Scan, error)
	FinishScan(ctx context.Context, scanID int64, status ScanStatus, errText string) (Scan, error)
	Scan(ctx context.Context, id int64) (Scan, error)
	Scans(ctx context.Context, limit int) ([]Scan, error)
}

// PageSaver is what a crawl scan writes: each page with its violations.
type PageSaver interface {
	// SavePage stores one page and its violations in one transaction. On a verified page,
	// active policy violations of the same affiliate and URL that were not found again
	// are resolved; an unverified page changes no violation.
	SavePage(ctx context.Context, scanID int64, snap Snapshot, vs []Violation) (PageOutcome, error)
}

// ScanStore is what a crawl scan needs of the store (the Scanner's role).
type ScanStore interface {
	AffiliateSync
	Scans
	PageSaver
}

// Pages are the stored looks at pages: what each scan saw, the snapshots kept as
// evidence, and what the next fetch of a page asks the server ("has it changed?").
type Pages interface {
	PageSaver
	// Pages are the pages a scan saw, as judged.
	Pages(ctx context.Context, scanID int64) ([]Page, error)
	// PageRecords are every stored look at one affiliate's page, oldest first.
	PageRecords(ctx context.Context, affiliateID, url string) ([]PageRecord, error)
	// LastFetch is what the previous fetch of a page left for the next one.
	LastFetch(ctx context.Context, affiliateID, url string) (Validators, error)
	// Snapshot is a stored HTML snapshot by its SHA-256.
	Snapshot(ctx context.Context, sha string) ([]byte, error)
	Screenshots
	PageDecisions
}

// Violations are the violations with their life across scans, and the changes made by
// hand (suppress, ack, reopen), each applied in one transaction with the read.
type Violations interface {
	Violations(ctx context.Context, f ViolationFilter) ([]Violation, error)
	// Violation is one violation by its fingerprint or a unique prefix of it.
	Violation(ctx context.Context, fp string) (Violation, error)
	// History is a violation's events, oldest first.
	History(ctx context.Context, fp string) ([]ViolationEvent, error)
	// Change applies a change made by hand (Violation.Apply) with ErrInvalid,
	// ErrConflict or ErrNotFound when it cannot.
	Change(ctx context.Context, fp string, c Change) (Violation, error)
	// SaveDetections stores one detector run's violations and resolves the active
	// detector violations it did not find again.
	SaveDetections(ctx context.Context, scanID int64, vs []Violation) (PageOutcome, error)
	// SaveJoined stores the joined rules' violations of one run and resolves the active
	// joined violations it did not find again.
	SaveJoined(ctx context.Context, scanID int64, vs []Violation) (PageOutcome, error)
}

// Events are the click and conversion logs.
type Events interface {
	// AddClicks and AddConversions insert events, ignoring ids already present, and
	// return how many were new.
	AddClicks(ctx context.Context, cs []Click) (int, error)
	AddConversions(ctx context.Context, cs []Conversion) (int, error)
	// ClicksByID and ConversionsByID return the stored events with these ids (those not
	// stored are left out): a row that reuses a stored id with other values is a conflict.
	ClicksByID(ctx context.Context, ids []string) ([]Click, error)
	ConversionsByID(ctx context.Context, ids []string) ([]Conversion, error)
	// EachClick and EachConversion stream the events at or after since (clicks in storage
	// order, conversions oldest first).
	EachClick(ctx context.Context, since time.Time, fn func(Click) error) error
	// EachClickSignal streams clicks with only TS, AffiliateID, IP and UserAgent set (what
	// the fraud detectors read).
	EachClickSignal(ctx context.Context, since time.Time, fn func(Click) error) error
	EachConversion(ctx context.Context, since time.Time, fn func(Conversion) error) error
}

// Locks stop two processes running the same job on one database: a lock is held by its
// owner until it expires (the owner renews it while it works).
type Locks interface {
	Lock(ctx context.Context, name, owner string, ttl time.Duration) error
	Unlock(ctx context.Context, name, owner string) error
}

// ReportLog remembers when each report was last written, so that the next one lists as
// new and as fixed what changed since then (report.Build's since).
type ReportLog interface {
	// LastReport is when the report of this name ("all", or a manager's) was last
	// written; the zero time when never.
	LastReport(ctx context.Context, name string) (time.Time, error)
	// RecordReport records that the report of this name was written at at.
	RecordReport(ctx context.Context, name string, at time.Time) error
}

// Store keeps affiliates, scans, page snapshots, violations with their life across scans,
// the click and conversion logs with their verdicts, the outbox, the locks, the
// dashboard's users and what its pages count: every role.
type Store interface {
	AffiliateSync
	Scans
	Pages
	Violations
	Events
	VerdictStore
	Outbox
	Locks
	ReportLog
	Users
	Dashboard
	Close() error
}

// Screenshots gives back the screenshots of rendered pages by their SHA-256 (a page's
// Screenshot, a violation's Evidence.Screenshot), for the crops in the manager's email.
type Screenshots interface {
	Screenshot(ctx context.Context, sha string) ([]byte, error)
}

// Validators are what a previous fetch of a page left for the next one to ask "has it
// changed?" (a conditional request), and the hash of the content it saw.
type Validators struct {
	ETag, LastModified string
	ContentSHA256      string
}

// PageRecord is one stored look at a page: by which scan, the Page document as judged,
// and what the store kept beside it (the validators the server sent, and the rules that
// failed on it).
type PageRecord struct {
	ScanID       int64  `json:"scan_id"`
	Page         Page   `json:"page"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	EvalErrors   string `json:"eval_errors,omitempty"`
}
