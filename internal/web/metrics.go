package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/affwatch/affwatch"
)

// metrics is what /metrics serves: the store's numbers, read when Prometheus scrapes, and
// the latency of the dashboard's own requests by route.
type metrics struct {
	reg      *prometheus.Registry
	latency  *prometheus.HistogramVec
	s        *Server
	scans    *prometheus.Desc
	pages    *prometheus.Desc
	viols    *prometheus.Desc
	outbox   *prometheus.Desc
	scrapeOK *prometheus.Desc
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		s:   s,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "affwatch_http_request_duration_seconds",
			Help:    "Time to answer a dashboard or API request, by route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		scans:    prometheus.NewDesc("affwatch_scans", "Scans recorded, by kind and status.", []string{"kind", "status"}, nil),
		pages:    prometheus.NewDesc("affwatch_last_scan_pages", "Pages of the last crawl scan, by fetch status.", []string{"fetch_status"}, nil),
		viols:    prometheus.NewDesc("affwatch_violations", "Violations, by state and severity.", []string{"state", "severity"}, nil),
		outbox:   prometheus.NewDesc("affwatch_outbox_pending", "Emails in the outbox not delivered yet.", nil, nil),
		scrapeOK: prometheus.NewDesc("affwatch_store_scrape_ok", "1 when the store's numbers could be read at this scrape.", nil, nil),
	}
	m.reg.MustRegister(m.latency, m)
	return m
}

// Describe and Collect make the store's numbers a prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.scans, m.pages, m.viols, m.outbox, m.scrapeOK} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok := 1.0
	if err := m.collect(ctx, ch); err != nil {
		m.s.log().Error("metrics", "err", err)
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(m.scrapeOK, prometheus.GaugeValue, ok)
}

func (m *metrics) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	st := m.s.Store
	totals, err := st.ScanTotals(ctx)
	if err != nil {
		return err
	}
	for _, t := range totals {
		ch <- prometheus.MustNewConstMetric(m.scans, prometheus.GaugeValue, float64(t.Count), t.Kind, string(t.Status))
	}
	scans, err := st.Scans(ctx, 20)
	if err != nil {
		return err
	}
	for _, sc := range scans {
		if sc.Kind != affwatch.ScanKindCrawl {
			continue
		}
		pages, err := st.PagesOf(ctx, sc.ID, "", false, 1_000_000)
		if err != nil {
			return err
		}
		by := map[affwatch.FetchStatus]int{}
		for _, p := range pages {
			by[p.FetchStatus]++
		}
		for fs, n := range by {
			ch <- prometheus.MustNewConstMetric(m.pages, prometheus.GaugeValue, float64(n), string(fs))
		}
		break
	}
	counts, err := st.ViolationCounts(ctx, false, nil)
	if err != nil {
		return err
	}
	for _, c := range counts {
		ch <- prometheus.MustNewConstMetric(m.viols, prometheus.GaugeValue, float64(c.Count), string(c.State), c.Severity.String())
	}
	pending, err := st.Mail(ctx, true, 1_000_000)
	if err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(m.outbox, prometheus.GaugeValue, float64(len(pending)))
	return nil
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument times every request under its route pattern (never its raw path, which
// would make a series per fingerprint).
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.latency.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// serveMetrics serves /metrics to admins and viewers (a manager would learn of other
// managers' affiliates).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	if u.Role == affwatch.RoleManager {
		return errForbidden
	}
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
