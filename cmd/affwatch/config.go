package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/scorecard"
)

// Config is the content of affwatch.yaml: everything an operator sets. Secrets are never
// in it, only the names of the environment variables that hold them.
type Config struct {
	Store      StoreConfig          `yaml:"store"`
	Policies   PolicyConfig         `yaml:"policies"`
	Crawl      CrawlConfig          `yaml:"crawl"`
	Detect     DetectConfig         `yaml:"detect"`
	Ingest     IngestConfig         `yaml:"ingest"`
	Verdicts   VerdictConfig        `yaml:"verdicts"`
	Schedule   ScheduleConfig       `yaml:"schedule"`
	SMTP       SMTPConfig           `yaml:"smtp"`
	Report     ReportConfig         `yaml:"report"`
	Evidence   EvidenceConfig       `yaml:"evidence"`
	Scorecard  ScorecardConfig      `yaml:"scorecard"`
	FailOn     string               `yaml:"fail_on"`
	Programs   []affwatch.Program   `yaml:"programs"`
	Affiliates []affwatch.Affiliate `yaml:"affiliates"`

	// dir is the directory of the config file: relative paths in it are relative to it.
	dir string
	// file is the config file's path and root its YAML tree, for errors found after
	// loading (rule ids are known once the policies are).
	file string
	root *yaml.Node
}

// ScorecardConfig sets the partner scorecards and the risk score (affwatch affiliates).
type ScorecardConfig struct {
	// Period is the scorecard's default period (default 7d; --period overrides it).
	Period Duration `yaml:"period"`
	// FastSeconds: a conversion this soon after its click counts as fast (default 30).
	FastSeconds float64 `yaml:"fast_seconds"`
	// Weights are what each reason adds to the risk score.
	Weights scorecard.Weights `yaml:"weights"`
}

// StoreConfig says where violations and events are kept.
type StoreConfig struct {
	// DSN is a SQLite file path (sqlite:path or a plain path), or a PostgreSQL URL
	// (postgres://user@host:5432/db?sslmode=...), without its password.
	DSN string `yaml:"dsn"`
	// PasswordEnv names the environment variable that holds the PostgreSQL password.
	PasswordEnv string `yaml:"password_env"`
}

// postgres reports whether the store is PostgreSQL.
func (s StoreConfig) postgres() bool {
	return strings.HasPrefix(s.DSN, "postgres://") || strings.HasPrefix(s.DSN, "postgresql://")
}

// PolicyConfig says which Rego policies apply.
type PolicyConfig struct {
	// Builtin includes affwatch's default pack (default true).
	Builtin *bool `yaml:"builtin"`
	// Dirs are extra policy directories, each laid out like policies/.
	Dirs []string `yaml:"dirs"`
	// EvalTimeout bounds the evaluation of one page (default 5s): a rule that runs past it
	// is named as failed on that page and judges nothing there.
	EvalTimeout Duration `yaml:"eval_timeout"`
	// EvalMemoryMB is how large the heap may grow while pages are evaluated before the
	// evaluations in flight are stopped (default 2048; -1: no limit).
	EvalMemoryMB int64 `yaml:"eval_memory_mb"`
	// MaxFindingsPerRule folds one rule's findings on one page into one past this many
	// (default 20).
	MaxFindingsPerRule int `yaml:"max_findings_per_rule"`
	// Bundles are OPA bundles of policies (files from opa build or affwatch policy bundle
	// build, or HTTP(S) URLs the daemon polls with their ETag), loaded after the
	// directories.
	Bundles []BundleConfig `yaml:"bundles"`
}

// BundleConfig is one policy bundle and the key its signature must verify with.
type BundleConfig struct {
	// Source is a .tar.gz file (relative to the config) or an http:// or https:// URL.
	Source string `yaml:"source"`
	// PublicKey is a PEM file with the key the bundle must be signed with (OPA's signing
	// format); none: the bundle is not checked for a signature.
	PublicKey string `yaml:"public_key"`
	// KeyID is the key's id in the signature (default "default"); Algorithm its algorithm
	// (default RS256).
	KeyID     string `yaml:"key_id"`
	Algorithm string `yaml:"algorithm"`
}

// CrawlConfig is how the crawler behaves.
type CrawlConfig struct {
	UserAgent      string   `yaml:"user_agent"`
	Delay          Duration `yaml:"delay"`
	Parallelism    int      `yaml:"parallelism"`
	Workers        int      `yaml:"workers"`
	MaxDepth       *int     `yaml:"max_depth"` // default 1: the seeds and the pages they link to
	MaxPages       int      `yaml:"max_pages"`
	RequestTimeout Duration `yaml:"request_timeout"`
	MaxBodyBytes   int      `yaml:"max_body_bytes"`
	MaxRedirects   int      `yaml:"max_redirects"`
	AllowPrivate   bool     `yaml:"allow_private_addresses"`
	IgnoreRobots   bool     `yaml:"ignore_robots"`
	// Retries of a page that answered 429/5xx or timed out (default 2; 0 or -1: none),
	// the first wait (doubling; a longer Retry-After is honoured up to max_retry_wait).
	Retries      *int     `yaml:"retries"`
	RetryBackoff Duration `yaml:"retry_backoff"`
	MaxRetryWait Duration `yaml:"max_retry_wait"`
	// MaxConcurrent caps requests in flight across all hosts.
	MaxConcurrent int `yaml:"max_concurrent"`
	// SiteTimeout bounds one site's crawl; pages it did not get to are recorded as timeouts.
	SiteTimeout Duration `yaml:"site_timeout"`
	// Sitemaps reads each site's /sitemap.xml for more pages (default true).
	Sitemaps *bool `yaml:"sitemaps"`
	// ResolveClicks follows affiliate click URLs to where they land (off by default:
	// asking a click may count as a click); ResolveLimit caps them per page.
	ResolveClicks bool `yaml:"resolve_clicks"`
	ResolveLimit  int  `yaml:"resolve_limit"`
	// MaxLinks caps the links judged on one page (default 5000, in reading order).
	MaxLinks int `yaml:"max_links"`
	// Render is when pages are rendered in Chromium: never (default), auto or always;
	// programs and affiliates may override it with their own render key.
	Render affwatch.RenderMode `yaml:"render"`
	// ChromiumPath is the browser (default /usr/bin/chromium, Debian's chromium package).
	ChromiumPath string `yaml:"chromium_path"`
	// RenderTabs is how many pages are rendered at once (default 2); RenderTimeout one
	// page's budget (default 15s).
	RenderTabs    int      `yaml:"render_tabs"`
	RenderTimeout Duration `yaml:"render_timeout"`
	// RenderAllowHosts are loopback/private host:port a rendered page may reach besides
	// its own origin, when allow_private_addresses is set.
	RenderAllowHosts []string `yaml:"render_allow_hosts"`
	// Queue shares scans with `affwatch worker` processes through the PostgreSQL job
	// queue (scan and the daemon), instead of crawling in-process. PostgreSQL only.
	Queue bool `yaml:"queue"`
	// QueueRescueAfter is how long a site's job may run before it is taken for abandoned
	// (its worker died) and given to another worker (default site_timeout + 1m).
	QueueRescueAfter Duration `yaml:"queue_rescue_after"`
}

// rendering reports whether any page may be rendered: crawl.render or a program's or an
// affiliate's render says so.
func (c *Config) rendering() bool {
	on := func(m affwatch.RenderMode) bool { return m == affwatch.RenderAuto || m == affwatch.RenderAlways }
	if on(c.Crawl.Render) {
		return true
	}
	for _, p := range c.Programs {
		if on(p.Render) || len(p.CloakingPersonas) > 0 {
			return true
		}
	}
	for _, a := range c.Affiliates {
		if on(a.Render) {
			return true
		}
	}
	return false
}

// DetectConfig sets the fraud detectors' window, the affiliate's own history they compare
// with, and their thresholds.
type DetectConfig struct {
	Window  Duration `yaml:"window"`
	History Duration `yaml:"history"`
	// Retention is how long clicks are kept: each detector run first removes the UTC days
	// that ended longer ago (whole days; on PostgreSQL their partitions). 0 keeps every
	// click.
	Retention  Duration             `yaml:"retention"`
	Thresholds detectors.Thresholds `yaml:"thresholds"`
}

// IngestConfig maps the columns of a network's exports to affwatch's (canonical name:
// the export's column), and its conversion statuses to affwatch's, so they load without
// editing.
type IngestConfig struct {
	Clicks      detectors.Mapping `yaml:"clicks"`
	Conversions detectors.Mapping `yaml:"conversions"`
	// Statuses maps affwatch's conversion statuses to the export's words for them
	// ({approved: [ok, paid]}); other words are rejected.
	Statuses detectors.StatusMap `yaml:"statuses"`
}

// VerdictConfig sets the per-event verdicts: the thresholds of the reason codes, the
// verdict each code gives on its own, and how many review codes together reject.
type VerdictConfig struct {
	// InjectionSeconds is the click-to-conversion floor (default: detect.thresholds'
	// injection_seconds, 10).
	InjectionSeconds  float64  `yaml:"injection_seconds"`
	RepeatConversions int      `yaml:"repeat_conversions"`
	RepeatWindow      Duration `yaml:"repeat_window"`
	FloodClicks       int      `yaml:"flood_clicks"`
	FloodWindow       Duration `yaml:"flood_window"`
	ReviewsToReject   int      `yaml:"reviews_to_reject"`
	// Codes overrides the verdict a code gives alone: {DATACENTER_IP: ok}.
	Codes map[string]string `yaml:"codes"`
}

// rules are the verdict settings as the detectors take them, defaults filled in.
func (v VerdictConfig) rules(t detectors.Thresholds) detectors.VerdictRules {
	r := detectors.VerdictRules{InjectionSeconds: v.InjectionSeconds, RepeatConversions: v.RepeatConversions,
		RepeatWindow: time.Duration(v.RepeatWindow), FloodClicks: v.FloodClicks, FloodWindow: time.Duration(v.FloodWindow),
		ReviewsToReject: v.ReviewsToReject}
	if r.InjectionSeconds == 0 {
		r.InjectionSeconds = t.InjectionSeconds
	}
	if len(v.Codes) > 0 {
		r.Codes = map[string]affwatch.Verdict{}
		for c, verdict := range v.Codes {
			r.Codes[c] = affwatch.Verdict(strings.ToLower(strings.TrimSpace(verdict)))
		}
	}
	return r.WithDefaults()
}

// ScheduleConfig is when the daemon runs each job (cron expressions).
type ScheduleConfig struct {
	Timezone string `yaml:"timezone"`
	Scan     string `yaml:"scan"`
	Detect   string `yaml:"detect"`
	Report   string `yaml:"report"`
}

// SMTPConfig is how reports are delivered. The password is read from the environment
// variable named by PasswordEnv.
type SMTPConfig struct {
	Host        string `yaml:"host"`
	Port        int    `yaml:"port"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	From        string `yaml:"from"`
	// TLS is starttls (default), tls (implicit) or none.
	TLS string `yaml:"tls"`
	// CAFile is a PEM file of the certificates to trust for the server (a private CA).
	CAFile string `yaml:"ca_file"`
}

// ReportConfig shapes the manager's report.
type ReportConfig struct {
	OutDir       string `yaml:"out_dir"`
	Subject      string `yaml:"subject"`
	DashboardURL string `yaml:"dashboard_url"`
}

// EvidenceConfig is how evidence bundles for legal are signed.
type EvidenceConfig struct {
	// SigningKeyFile is an Ed25519 private key (PEM, PKCS #8) kept outside the repository;
	// when set, exported bundles are signed with it.
	SigningKeyFile string `yaml:"signing_key_file"`
}

// Duration is a time.Duration written as "1s", "500ms", "7d" (days allowed).
type Duration time.Duration

// UnmarshalYAML reads a duration, naming the line when it cannot.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		// A TypeError lets the decoder go on and report the other problems too.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// parseDuration reads "1s", "500ms", "36h" or a number of days "7d".
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if k, err := strconv.Atoi(days); err == nil {
			return time.Duration(k) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 1s, 500ms, 7d)", s)
	}
	return v, nil
}

// ErrConfig marks configuration errors (exit code 2).
var ErrConfig = errors.New("config")

// LoadConfig reads and checks a config file. Every problem is reported with the file,
// the line and the key.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (affwatch init %s writes a commented starter file, or name one with --config)", ErrConfig, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg, err := ParseConfig(raw, filepath.Dir(path))
	if err != nil {
		return nil, configError(path, err)
	}
	cfg.file = path
	return cfg, nil
}

// configError is a config file's problems: one on the line, several one per line below.
func configError(path string, err error) error {
	msg := err.Error()
	if n := strings.Count(msg, "\n") + 1; n > 1 {
		msg = fmt.Sprintf("%d problems:\n  %s", n, strings.ReplaceAll(msg, "\n", "\n  "))
	}
	return fmt.Errorf("%w: %s: %s", ErrConfig, path, msg)
}

// ParseConfig reads a config from bytes; dir resolves relative paths.
func ParseConfig(raw []byte, dir string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	cfg := &Config{dir: dir, root: &root}
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err, &root)
	}
	if err := cfg.validate(&root); err != nil {
		return nil, err
	}
	return cfg, nil
}

var (
	yamlLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknown   = regexp.MustCompile(`^(?:field|unknown key) (\S+) not found in type \S+$`)
	yamlWrongType = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	quoted        = regexp.MustCompile(`"([^"]+)"`)
)

// yamlError rewords yaml's messages for people: each names the line and the key, says
// what was wanted in words rather than Go types, and secrets are named as such.
func yamlError(err error, root *yaml.Node) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var errs []error
	for _, msg := range msgs {
		errs = append(errs, errors.New(yamlMessage(msg, root)))
	}
	return errors.Join(errs...)
}

func yamlMessage(msg string, root *yaml.Node) string {
	nodes := walk(root)
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		// An error of a value's own parser (a severity, say) has no line: find the value.
		if q := quoted.FindStringSubmatch(msg); q != nil {
			for _, n := range nodes {
				if n.val.Kind == yaml.ScalarNode && n.val.Value == q[1] {
					return fmt.Sprintf("line %d: %s: %s", n.val.Line, keyName(n.path...), msg)
				}
			}
		}
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if u := yamlUnknown.FindStringSubmatch(text); u != nil {
		where := ""
		for _, n := range nodes {
			if n.key != nil && n.key.Line == line && n.key.Value == u[1] && len(n.path) > 1 {
				where = keyName(n.path[:len(n.path)-1]...) + ": "
				break
			}
		}
		text = where + "unknown key " + u[1]
		if u[1] == "password" {
			text += " (secrets are not kept in the config file: set password_env to the name of an environment variable)"
		}
		return fmt.Sprintf("line %d: %s", line, text)
	}
	if w := yamlWrongType.FindStringSubmatch(text); w != nil {
		tag, value, goType := w[1], strings.TrimSuffix(w[2], "..."), w[3]
		var at *node
		for i, n := range nodes {
			if n.val.Line != line || len(n.path) == 0 {
				continue
			}
			kindOK := (tag == "seq") == (n.val.Kind == yaml.SequenceNode) && (tag == "map") == (n.val.Kind == yaml.MappingNode)
			if kindOK && strings.HasPrefix(n.val.Value, value) {
				at = &nodes[i]
			}
		}
		want := wanted(goType)
		got := map[string]string{"seq": "a list", "map": "a mapping"}[tag]
		if got == "" {
			got = strconv.Quote(value)
			if at != nil {
				got = strconv.Quote(at.val.Value)
			}
		}
		text = fmt.Sprintf("%s is not %s", got, want)
		if strings.HasPrefix(want, "a list") || strings.HasPrefix(want, "a mapping") {
			text = fmt.Sprintf("want %s, not %s", want, got)
		}
		if at != nil {
			text = keyName(at.path...) + ": " + text
		}
		return fmt.Sprintf("line %d: %s", line, text)
	}
	// A value's own parser (a duration) named the line: add the key, preferring the value
	// the message quotes when the line holds several.
	var at *node
	for i, n := range nodes {
		if n.val.Line != line || n.val.Kind != yaml.ScalarNode || len(n.path) == 0 {
			continue
		}
		if at == nil || strings.Contains(text, strconv.Quote(n.val.Value)) {
			at = &nodes[i]
		}
	}
	if at != nil {
		return fmt.Sprintf("line %d: %s: %s", line, keyName(at.path...), text)
	}
	return msg
}

// wanted says in words what a Go type holds.
func wanted(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping (key: value)"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	}
	return "text"
}

// node is one value in the config's YAML tree with its key path (strings for mapping keys,
// ints for list items).
type node struct {
	path     []any
	key, val *yaml.Node
}

// walk lists every value of the tree, parents before children.
func walk(root *yaml.Node) []node {
	var out []node
	var visit func(path []any, key, n *yaml.Node)
	visit = func(path []any, key, n *yaml.Node) {
		out = append(out, node{path: path, key: key, val: n})
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				visit(path, nil, c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				visit(append(slices.Clip(path), n.Content[i].Value), n.Content[i], n.Content[i+1])
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				visit(append(slices.Clip(path), i), nil, c)
			}
		}
	}
	if root != nil {
		visit(nil, nil, root)
	}
	return out
}

// lineOf finds the line of a key path (strings for mapping keys, ints for list items).
func lineOf(root *yaml.Node, path ...any) int {
	if root == nil {
		return 0
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return line
			}
			n = n.Content[k]
			line = n.Line
		}
	}
	return line
}

func keyName(path ...any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

// validate checks what the types alone cannot, and fills in defaults.
func (c *Config) validate(root *yaml.Node) error {
	var errs []error
	bad := func(msg string, path ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s: %s", lineOf(root, path...), keyName(path...), msg))
	}
	if c.FailOn == "" {
		c.FailOn = "high"
	} else if _, err := affwatch.ParseSeverity(c.FailOn); err != nil {
		bad(err.Error(), "fail_on")
	}
	for i, b := range c.Policies.Bundles {
		if b.Source == "" {
			bad("a bundle needs a source (a .tar.gz file or an http(s) URL)", "policies", "bundles", i)
		}
		if b.PublicKey != "" {
			if _, err := os.Stat(c.path(b.PublicKey)); err != nil {
				bad(err.Error(), "policies", "bundles", i, "public_key")
			}
		}
	}
	affIDs := map[string]bool{}
	for _, a := range c.Affiliates {
		affIDs[a.ID] = true
	}
	progs := map[string]bool{}
	for i, p := range c.Programs {
		switch {
		case p.ID == "":
			bad("a program needs an id", "programs", i)
		case progs[p.ID]:
			bad(fmt.Sprintf("program id %q is used twice", p.ID), "programs", i, "id")
		}
		progs[p.ID] = true
		if p.Render != "" && !p.Render.Valid() {
			bad(fmt.Sprintf("%q: want never, auto or always", p.Render), "programs", i, "render")
		}
		for j, pe := range p.CloakingPersonas {
			if pe.Name == "" {
				bad("a persona needs a name", "programs", i, "cloaking_personas", j)
			}
			if u, err := url.Parse(pe.Referrer); pe.Referrer != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https")) {
				bad(fmt.Sprintf("%q: want an http(s) URL", pe.Referrer), "programs", i, "cloaking_personas", j, "referrer")
			}
		}
		for _, f := range []struct {
			key    string
			v, max float64
		}{{"disclosure_min_font_px", p.DisclosureMinFontPx, 200}, {"disclosure_min_contrast", p.DisclosureMinContrast, 21},
			{"disclosure_max_screens", p.DisclosureMaxScreens, 1000}} {
			if f.v < 0 || f.v > f.max {
				bad(fmt.Sprintf("%g: want a number from 0 (the default) to %g", f.v, f.max), "programs", i, f.key)
			}
		}
		for rule, s := range p.SeverityOverrides {
			if s == affwatch.SeverityUnknown {
				bad(fmt.Sprintf("rule %s: severity must be one of info, low, medium, high, critical", rule), "programs", i, "severity_overrides")
			}
		}
		for j, ex := range p.Exceptions {
			if ex.Rule == "" {
				bad("an exception needs a rule id (or *)", "programs", i, "exceptions", j)
			}
			if ex.Affiliate != "" && !affIDs[ex.Affiliate] {
				bad(fmt.Sprintf("unknown affiliate %q", ex.Affiliate), "programs", i, "exceptions", j, "affiliate")
			}
			if g := ex.URLGlob; g != "" && (strings.ContainsAny(g, " \t\n") ||
				!(strings.HasPrefix(g, "http://") || strings.HasPrefix(g, "https://") || strings.HasPrefix(g, "*"))) {
				bad(fmt.Sprintf("%q would never match: a url_glob is matched against the whole page URL, so it starts with http://, https:// or * (and * is any run of characters)", g),
					"programs", i, "exceptions", j, "url_glob")
			}
			if ex.Expires != "" {
				if _, err := time.Parse("2006-01-02", ex.Expires); err != nil {
					if _, err := time.Parse(time.RFC3339, ex.Expires); err != nil {
						bad(fmt.Sprintf("%q is not a date (2006-01-02)", ex.Expires), "programs", i, "exceptions", j, "expires")
					}
				}
			}
		}
		// A coupon date that does not parse would turn COUPON-002 off for the code.
		for j, cp := range p.Coupons {
			var from, until time.Time
			for _, d := range []struct {
				key, v string
				t      *time.Time
			}{{"valid_from", cp.ValidFrom, &from}, {"valid_until", cp.ValidUntil, &until}} {
				if d.v == "" {
					continue
				}
				t, err := time.Parse("2006-01-02", d.v)
				if err != nil {
					if t, err = time.Parse(time.RFC3339, d.v); err != nil {
						bad(fmt.Sprintf("%q is not a date (2006-01-02)", d.v), "programs", i, "coupons", j, d.key)
						continue
					}
				}
				*d.t = t
			}
			if !from.IsZero() && !until.IsZero() && until.Before(from) {
				bad(fmt.Sprintf("%s comes before valid_from %s", cp.ValidUntil, cp.ValidFrom), "programs", i, "coupons", j, "valid_until")
			}
		}
	}
	affs := map[string]bool{}
	for i, a := range c.Affiliates {
		switch {
		case a.ID == "":
			bad("an affiliate needs an id", "affiliates", i)
		case affs[a.ID]:
			bad(fmt.Sprintf("affiliate id %q is used twice", a.ID), "affiliates", i, "id")
		}
		affs[a.ID] = true
		if a.Program == "" {
			bad("an affiliate needs a program", "affiliates", i)
		} else if !progs[a.Program] {
			bad(fmt.Sprintf("unknown program %q", a.Program), "affiliates", i, "program")
		}
		if a.Render != "" && !a.Render.Valid() {
			bad(fmt.Sprintf("%q: want never, auto or always", a.Render), "affiliates", i, "render")
		}
		if a.ManagerEmail != "" {
			if _, err := mail.ParseAddress(a.ManagerEmail); err != nil {
				bad(fmt.Sprintf("%q is not an email address", a.ManagerEmail), "affiliates", i, "manager")
			}
		}
		for j, s := range a.Sites {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(fmt.Sprintf("%q is not an http(s) URL", s), "affiliates", i, "sites", j)
			}
		}
	}
	if c.Schedule.Timezone != "" {
		if _, err := time.LoadLocation(c.Schedule.Timezone); err != nil {
			bad(err.Error(), "schedule", "timezone")
		}
	}
	for _, job := range []struct{ key, spec string }{{"scan", c.Schedule.Scan}, {"detect", c.Schedule.Detect}, {"report", c.Schedule.Report}} {
		if job.spec == "" {
			continue
		}
		if _, err := cron.ParseStandard(job.spec); err != nil {
			bad(err.Error(), "schedule", job.key)
		}
	}
	switch c.SMTP.TLS {
	case "", "starttls", "tls", "none":
	default:
		bad(fmt.Sprintf("%q: want starttls, tls or none", c.SMTP.TLS), "smtp", "tls")
	}
	if c.SMTP.From != "" {
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			bad(fmt.Sprintf("%q is not an email address", c.SMTP.From), "smtp", "from")
		}
	}
	if c.Crawl.Render == "" {
		c.Crawl.Render = affwatch.RenderNever
	} else if !c.Crawl.Render.Valid() {
		bad(fmt.Sprintf("%q: want never, auto or always", c.Crawl.Render), "crawl", "render")
	}
	if c.Crawl.RenderTabs < 0 || c.Crawl.RenderTimeout < 0 {
		bad("cannot be negative", "crawl", "render_tabs")
	}
	for j, h := range c.Crawl.RenderAllowHosts {
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			bad(fmt.Sprintf("%q: want host:port", h), "crawl", "render_allow_hosts", j)
		}
	}
	if c.Crawl.ChromiumPath != "" {
		c.Crawl.ChromiumPath = c.path(c.Crawl.ChromiumPath)
	}
	if c.Crawl.MaxDepth == nil {
		one := 1
		c.Crawl.MaxDepth = &one
	}
	for _, kv := range []struct {
		key string
		n   int
	}{{"parallelism", c.Crawl.Parallelism}, {"workers", c.Crawl.Workers}, {"max_depth", *c.Crawl.MaxDepth},
		{"max_pages", c.Crawl.MaxPages}, {"max_concurrent", c.Crawl.MaxConcurrent}, {"max_body_bytes", c.Crawl.MaxBodyBytes},
		{"max_redirects", c.Crawl.MaxRedirects}, {"max_links", c.Crawl.MaxLinks}, {"resolve_limit", c.Crawl.ResolveLimit}} {
		if kv.n < 0 {
			bad(fmt.Sprintf("%d: cannot be negative (0 keeps the default)", kv.n), "crawl", kv.key)
		}
	}
	if c.Crawl.Retries != nil && *c.Crawl.Retries < -1 {
		bad(fmt.Sprintf("%d: want 0 (no retries) or more", *c.Crawl.Retries), "crawl", "retries")
	}
	if c.Store.DSN == "" {
		c.Store.DSN = "affwatch.db"
	}
	switch {
	case c.Store.postgres():
		if u, err := url.Parse(c.Store.DSN); err != nil || u.Host == "" {
			bad("not a PostgreSQL URL: want postgres://user@host:5432/database", "store", "dsn")
		} else if _, has := u.User.Password(); has {
			bad("the URL holds a password: secrets are not kept in the config file; set store.password_env to the name of an environment variable", "store", "dsn")
		}
	case strings.Contains(c.Store.DSN, "://") && !strings.HasPrefix(c.Store.DSN, "sqlite://"):
		bad(fmt.Sprintf("%q: want a SQLite file (affwatch.db, sqlite:PATH) or a postgres:// URL", c.Store.DSN), "store", "dsn")
	}
	if c.Store.PasswordEnv != "" && !c.Store.postgres() {
		bad("only a PostgreSQL store takes a password", "store", "password_env")
	}
	if c.Detect.Window == 0 {
		c.Detect.Window = Duration(7 * 24 * time.Hour)
	}
	if c.Detect.History == 0 {
		c.Detect.History = Duration(28 * 24 * time.Hour)
	}
	if c.Detect.Window < 0 || c.Detect.History < 0 {
		bad("durations cannot be negative", "detect")
	}
	if r := c.Detect.Retention; r < 0 {
		bad("cannot be negative (0 keeps every click)", "detect", "retention")
	} else if read := c.Detect.Window + c.Detect.History; r > 0 && r < read {
		bad(fmt.Sprintf("%s is shorter than what a detector run reads (detect.window + detect.history = %s): the detectors would lose their history",
			fmtDays(time.Duration(r)), fmtDays(time.Duration(read))), "detect", "retention")
	}
	if err := c.Detect.Thresholds.Validate(); err != nil {
		bad(err.Error(), "detect", "thresholds")
	}
	if c.Scorecard.Period < 0 || c.Scorecard.FastSeconds < 0 {
		bad("cannot be negative", "scorecard")
	}
	if err := c.Scorecard.Weights.Validate(); err != nil {
		var joined interface{ Unwrap() []error }
		errs1 := []error{err}
		if errors.As(err, &joined) {
			errs1 = joined.Unwrap()
		}
		for _, e := range errs1 {
			var we scorecard.WeightError
			if errors.As(e, &we) {
				path := []any{"scorecard", "weights"}
				for _, k := range strings.Split(we.Key, ".") {
					path = append(path, k)
				}
				bad(we.Msg, path...)
			}
		}
	}
	for _, m := range []struct {
		key  string
		cols []string
		m    detectors.Mapping
	}{{"clicks", detectors.ClickColumns, c.Ingest.Clicks}, {"conversions", detectors.ConversionColumns, c.Ingest.Conversions}} {
		for canon := range m.m {
			if !slices.Contains(m.cols, canon) {
				bad(fmt.Sprintf("%q is not a %s column (one of %s)", canon, m.key, strings.Join(m.cols, ", ")), "ingest", m.key)
			}
		}
	}
	if err := c.Ingest.Statuses.Validate(); err != nil {
		bad(err.Error(), "ingest", "statuses")
	}
	vc := c.Verdicts
	for _, n := range []struct {
		key string
		neg bool
	}{{"injection_seconds", vc.InjectionSeconds < 0}, {"repeat_conversions", vc.RepeatConversions < 0}, {"repeat_window", vc.RepeatWindow < 0},
		{"flood_clicks", vc.FloodClicks < 0}, {"flood_window", vc.FloodWindow < 0}} {
		if n.neg {
			bad("cannot be negative", "verdicts", n.key)
		}
	}
	if vc.ReviewsToReject < -1 {
		bad("want -1 (never), 0 (the default, 2) or more", "verdicts", "reviews_to_reject")
	}
	for _, code := range slices.Sorted(maps.Keys(vc.Codes)) {
		if !slices.ContainsFunc(detectors.Codes, func(ci detectors.CodeInfo) bool { return ci.Code == code }) {
			var names []string
			for _, ci := range detectors.Codes {
				names = append(names, ci.Code)
			}
			bad(fmt.Sprintf("%q is not a reason code (one of %s)", code, strings.Join(names, ", ")), "verdicts", "codes", code)
		} else if _, err := affwatch.ParseVerdict(vc.Codes[code]); err != nil {
			bad(err.Error(), "verdicts", "codes", code)
		}
	}
	return errors.Join(errs...)
}

// checkRuleIDs reports program settings that name a rule no policy and no detector has
// (known says which ids exist): such a typo would silently disable, override or except
// nothing. It is a config error naming the file, the line and the key.
func (c *Config) checkRuleIDs(known func(id string) bool) error {
	var errs []error
	bad := func(id string, path ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s: unknown rule %q (no policy or detector has this id; affwatch policy docs lists the policy rules)",
			lineOf(c.root, path...), keyName(path...), id))
	}
	for i, p := range c.Programs {
		for j, id := range p.DisabledRules {
			if !known(id) {
				bad(id, "programs", i, "disabled_rules", j)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(p.SeverityOverrides)) {
			if !known(id) {
				bad(id, "programs", i, "severity_overrides", id)
			}
		}
		for j, ex := range p.Exceptions {
			if ex.Rule != "" && ex.Rule != "*" && !known(ex.Rule) {
				bad(ex.Rule, "programs", i, "exceptions", j, "rule")
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return configError(c.file, errors.Join(errs...))
}

// path resolves a path from the config against the config file's directory.
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// StorePath is the SQLite file the config names.
func (c *Config) StorePath() string {
	return c.path(strings.TrimPrefix(strings.TrimPrefix(c.Store.DSN, "sqlite://"), "sqlite:"))
}

// FailOnSeverity is the severity at or above which `affwatch scan` exits 1.
func (c *Config) FailOnSeverity() affwatch.Severity {
	s, _ := affwatch.ParseSeverity(c.FailOn)
	return s
}

// ManagerOf maps affiliate id to manager email.
func (c *Config) affiliate(id string) (affwatch.Affiliate, bool) {
	for _, a := range c.Affiliates {
		if a.ID == id {
			return a, true
		}
	}
	return affwatch.Affiliate{}, false
}
