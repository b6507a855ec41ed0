package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
)

// Config is the content of affwatch.yaml: everything an operator sets. Secrets are never
// in it, only the names of the environment variables that hold them.
type Config struct {
	Store      StoreConfig          `yaml:"store"`
	Policies   PolicyConfig         `yaml:"policies"`
	Crawl      CrawlConfig          `yaml:"crawl"`
	Detect     DetectConfig         `yaml:"detect"`
	Ingest     IngestConfig         `yaml:"ingest"`
	Schedule   ScheduleConfig       `yaml:"schedule"`
	SMTP       SMTPConfig           `yaml:"smtp"`
	Report     ReportConfig         `yaml:"report"`
	FailOn     string               `yaml:"fail_on"`
	Programs   []affwatch.Program   `yaml:"programs"`
	Affiliates []affwatch.Affiliate `yaml:"affiliates"`

	// dir is the directory of the config file: relative paths in it are relative to it.
	dir string
}

// StoreConfig says where violations and events are kept.
type StoreConfig struct {
	// DSN is a SQLite file path (sqlite:path or a plain path).
	DSN string `yaml:"dsn"`
}

// PolicyConfig says which Rego policies apply.
type PolicyConfig struct {
	// Builtin includes affwatch's default pack (default true).
	Builtin *bool `yaml:"builtin"`
	// Dirs are extra policy directories, each laid out like policies/.
	Dirs []string `yaml:"dirs"`
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
	// Retries of a page that answered 429/5xx or timed out (-1: none), the first wait
	// (doubling; a longer Retry-After is honoured up to max_retry_wait).
	Retries      int      `yaml:"retries"`
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
}

// DetectConfig sets the fraud detectors' window, the affiliate's own history they compare
// with, and their thresholds.
type DetectConfig struct {
	Window     Duration             `yaml:"window"`
	History    Duration             `yaml:"history"`
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

// Duration is a time.Duration written as "1s", "500ms", "7d" (days allowed).
type Duration time.Duration

// UnmarshalYAML reads a duration, naming the line when it cannot.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
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
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg, err := ParseConfig(raw, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	return cfg, nil
}

// ParseConfig reads a config from bytes; dir resolves relative paths.
func ParseConfig(raw []byte, dir string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, yamlError(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	cfg := &Config{dir: dir}
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	if err := cfg.validate(&root); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlError rewords yaml's messages for people: secrets are named as such.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	if strings.Contains(msg, "field password not found") {
		msg += " (secrets are not kept in the config file: set password_env to the name of an environment variable)"
	}
	msg = strings.ReplaceAll(msg, "field ", "unknown key ")
	msg = strings.ReplaceAll(msg, " not found in type main.", " in ")
	msg = strings.ReplaceAll(msg, " not found in type affwatch.", " in ")
	return errors.New(msg)
}

// lineOf finds the line of a key path (strings for mapping keys, ints for list items).
func lineOf(root *yaml.Node, path ...any) int {
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
	progs := map[string]bool{}
	for i, p := range c.Programs {
		switch {
		case p.ID == "":
			bad("a program needs an id", "programs", i)
		case progs[p.ID]:
			bad(fmt.Sprintf("program id %q is used twice", p.ID), "programs", i, "id")
		}
		progs[p.ID] = true
		for rule, s := range p.SeverityOverrides {
			if s == affwatch.SeverityUnknown {
				bad(fmt.Sprintf("rule %s: severity must be one of info, low, medium, high, critical", rule), "programs", i, "severity_overrides")
			}
		}
		for j, ex := range p.Exceptions {
			if ex.Rule == "" {
				bad("an exception needs a rule id (or *)", "programs", i, "exceptions", j)
			}
			if ex.Expires != "" {
				if _, err := time.Parse("2006-01-02", ex.Expires); err != nil {
					if _, err := time.Parse(time.RFC3339, ex.Expires); err != nil {
						bad(fmt.Sprintf("%q is not a date (2006-01-02)", ex.Expires), "programs", i, "exceptions", j, "expires")
					}
				}
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
	if c.Crawl.MaxDepth == nil {
		one := 1
		c.Crawl.MaxDepth = &one
	}
	if c.Crawl.Parallelism < 0 || c.Crawl.Workers < 0 || *c.Crawl.MaxDepth < 0 || c.Crawl.MaxPages < 0 || c.Crawl.MaxConcurrent < 0 ||
		c.Crawl.Retries < -1 {
		bad("counts cannot be negative", "crawl")
	}
	if c.Store.DSN == "" {
		c.Store.DSN = "affwatch.db"
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
	if err := c.Detect.Thresholds.Validate(); err != nil {
		bad(err.Error(), "detect", "thresholds")
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
	return errors.Join(errs...)
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
