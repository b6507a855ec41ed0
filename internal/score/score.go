// Package score serves POST /api/v1/events/score: one conversion judged at postback time,
// against its stored click, the orders already credited and the recent conversions from
// the same address, answered with its verdict and reason codes. It is served on loopback
// only until the dashboard's API tokens exist.
package score

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
)

// Path is where the endpoint is mounted.
const Path = "/api/v1/events/score"

// maxBody is the largest request accepted: one conversion is a few hundred bytes.
const maxBody = 16 << 10

// Store is what scoring reads.
type Store interface {
	ClicksByID(ctx context.Context, ids []string) ([]affwatch.Click, error)
	ConversionsByOrder(ctx context.Context, orderIDs []string) ([]affwatch.Conversion, error)
	VerdictsByClickIP(ctx context.Context, ips []string, from, to time.Time) ([]affwatch.EventVerdict, error)
}

// Server scores conversions. Beside the store it remembers the conversions it scored
// within the repeat window (their orders and click addresses), so a burst of postbacks
// from one address is seen before the export that carries them is ingested; that memory
// is bounded by MaxRecent.
type Server struct {
	Store  Store
	Judge  *detectors.Judge
	Logger *slog.Logger
	// MaxRecent bounds the conversions remembered (default 200,000).
	MaxRecent int
	// MaxInFlight bounds the requests reading the store at once (default 16): past it
	// requests queue, so a burst costs waiting, not a database connection each.
	MaxInFlight int

	slotsOnce sync.Once
	slots     chan struct{}

	mu      sync.Mutex // guards the judge (its caches) and the recent state
	orders  map[string]detectors.OrderClaim
	byIP    map[string][]recent
	latest  time.Time
	entries int
}

type recent struct {
	id string
	ts time.Time
}

// Request is a postback's conversion.
type Request struct {
	ConversionID string  `json:"conversion_id"`
	ClickID      string  `json:"click_id"`
	TS           string  `json:"ts"` // RFC 3339, a common export form or Unix time; empty: now
	AffiliateID  string  `json:"affiliate_id"`
	OrderID      string  `json:"order_id"`
	Amount       float64 `json:"amount"`
	Currency     string  `json:"currency"`
	Commission   float64 `json:"commission"`
	Status       string  `json:"status"`
}

// Response is the verdict.
type Response struct {
	ConversionID string            `json:"conversion_id"`
	Verdict      affwatch.Verdict  `json:"verdict"`
	Codes        []string          `json:"codes"`
	Reasons      []affwatch.Reason `json:"reasons"`
}

// Handler returns the endpoint, refusing clients that are not on loopback.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, s.serveScore)
	return loopbackOnly(mux)
}

// loopbackOnly answers 403 to a client that is not on this machine.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "the score endpoint answers loopback clients only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// errBadRequest marks a request that cannot be scored as sent.
var errBadRequest = errors.New("bad request")

func (s *Server) serveScore(w http.ResponseWriter, r *http.Request) {
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the body is not a conversion in JSON: %v", err))
		return
	}
	res, err := s.Score(r.Context(), req)
	if errors.Is(err, errBadRequest) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.logger().Error("score a conversion", "conversion_id", req.ConversionID, "err", err)
		writeError(w, http.StatusInternalServerError, "the conversion could not be scored")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default().With("component", "score")
}

// Score judges one conversion.
func (s *Server) Score(ctx context.Context, req Request) (Response, error) {
	c := affwatch.Conversion{ConversionID: strings.TrimSpace(req.ConversionID), ClickID: strings.TrimSpace(req.ClickID),
		AffiliateID: strings.TrimSpace(req.AffiliateID), OrderID: strings.TrimSpace(req.OrderID), Amount: req.Amount,
		Currency: req.Currency, Commission: req.Commission, Status: req.Status, TS: time.Now().UTC()}
	if c.ConversionID == "" || c.AffiliateID == "" {
		return Response{}, fmt.Errorf("%w: conversion_id and affiliate_id are required", errBadRequest)
	}
	if req.TS != "" {
		ts, err := detectors.ParseTime(req.TS)
		if err != nil {
			return Response{}, fmt.Errorf("%w: ts: %v", errBadRequest, err)
		}
		c.TS = ts
	}
	s.slotsOnce.Do(func() { s.slots = make(chan struct{}, cmp.Or(s.MaxInFlight, 16)) })
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return Response{}, ctx.Err()
	}
	var f detectors.ConversionFacts
	if c.ClickID != "" {
		clicks, err := s.Store.ClicksByID(ctx, []string{c.ClickID})
		if err != nil {
			return Response{}, err
		}
		if len(clicks) > 0 {
			f.Click = &clicks[0]
		}
	}
	var claims []affwatch.Conversion
	if c.OrderID != "" {
		var err error
		if claims, err = s.Store.ConversionsByOrder(ctx, []string{c.OrderID}); err != nil {
			return Response{}, err
		}
	}
	var stored []affwatch.EventVerdict
	window := s.Judge.Rules.RepeatWindow
	if f.Click != nil && f.Click.IP != "" {
		var err error
		if stored, err = s.Store.VerdictsByClickIP(ctx, []string{f.Click.IP}, c.TS.Add(-window), c.TS); err != nil {
			return Response{}, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	self := detectors.OrderClaim{OrderID: c.OrderID, ConversionID: c.ConversionID, AffiliateID: c.AffiliateID, TS: c.TS}
	first := self
	for _, o := range claims {
		cl := detectors.OrderClaim{OrderID: o.OrderID, ConversionID: o.ConversionID, AffiliateID: o.AffiliateID, TS: o.TS}
		if cl.ConversionID != c.ConversionID && earlier(cl, first) {
			first = cl
		}
	}
	if o, ok := s.orders[c.OrderID]; ok && c.OrderID != "" && o.ConversionID != c.ConversionID && earlier(o, first) {
		first = o
	}
	if first.ConversionID != c.ConversionID {
		f.FirstOrder = &first
	}
	if f.Click != nil && f.Click.IP != "" {
		seen := map[string]bool{c.ConversionID: true}
		f.RepeatCount = 1
		count := func(id string, ts time.Time) {
			if !seen[id] && !ts.Before(c.TS.Add(-window)) && !ts.After(c.TS) {
				seen[id] = true
				f.RepeatCount++
			}
		}
		for _, v := range stored {
			count(v.ConversionID, v.TS)
		}
		for _, x := range s.byIP[f.Click.IP] {
			count(x.id, x.ts)
		}
	}
	v := s.Judge.Conversion(c, f)
	s.remember(c, f.Click)
	res := Response{ConversionID: c.ConversionID, Verdict: v.Verdict, Codes: []string{}, Reasons: v.Reasons}
	if res.Reasons == nil {
		res.Reasons = []affwatch.Reason{}
	}
	for _, r := range v.Reasons {
		res.Codes = append(res.Codes, r.Code)
	}
	return res, nil
}

func earlier(a, b detectors.OrderClaim) bool {
	if !a.TS.Equal(b.TS) {
		return a.TS.Before(b.TS)
	}
	return a.ConversionID < b.ConversionID
}

func (s *Server) init() {
	if s.orders == nil {
		s.orders, s.byIP = map[string]detectors.OrderClaim{}, map[string][]recent{}
	}
	if s.MaxRecent == 0 {
		s.MaxRecent = 200_000
	}
}

// remember keeps a scored conversion's order and click address for the repeat window,
// dropping what has left the window, and everything when over MaxRecent.
func (s *Server) remember(c affwatch.Conversion, click *affwatch.Click) {
	if c.TS.After(s.latest) {
		s.latest = c.TS
	}
	if s.entries >= s.MaxRecent {
		from := s.latest.Add(-s.Judge.Rules.RepeatWindow)
		s.entries = 0
		for ip, xs := range s.byIP {
			i := 0
			for i < len(xs) && xs[i].ts.Before(from) {
				i++
			}
			if i == len(xs) {
				delete(s.byIP, ip)
				continue
			}
			s.byIP[ip] = xs[i:]
			s.entries += len(xs) - i
		}
		for k, o := range s.orders {
			if o.TS.Before(from) {
				delete(s.orders, k)
			}
		}
		if s.entries+len(s.orders) >= s.MaxRecent {
			clear(s.byIP)
			clear(s.orders)
			s.entries = 0
		}
	}
	if c.OrderID != "" {
		if o, ok := s.orders[c.OrderID]; !ok || earlier(detectors.OrderClaim{ConversionID: c.ConversionID, TS: c.TS}, o) {
			s.orders[c.OrderID] = detectors.OrderClaim{OrderID: c.OrderID, ConversionID: c.ConversionID, AffiliateID: c.AffiliateID, TS: c.TS}
		}
	}
	if click != nil && click.IP != "" {
		s.byIP[click.IP] = append(s.byIP[click.IP], recent{c.ConversionID, c.TS})
		s.entries++
	}
}
