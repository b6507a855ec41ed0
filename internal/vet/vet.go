// Package vet judges a prospective partner's site before it joins a program: it crawls a
// few pages politely with the scan's own crawler and address guard, runs the program's
// policies on them, and reports which affiliate networks and programs the site already
// promotes, how it discloses, what it claims, whether it looks like a coupon site, what
// could not be verified, and a verdict with every reason behind it.
package vet

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/affwatch/affwatch"
)

// Verdict is what vetting recommends.
type Verdict string

// The verdicts, from best to worst.
const (
	Approve Verdict = "approve" // nothing found that a manager must look at
	Review  Verdict = "review"  // something could not be verified, or needs a person's judgement
	Decline Verdict = "decline" // a high or critical finding: the site breaks the guidelines already
)

func (v Verdict) worse(than Verdict) bool {
	rank := map[Verdict]int{Approve: 0, Review: 1, Decline: 2}
	return rank[v] > rank[than]
}

// Reason is one reason behind the verdict, and the verdict it alone would give.
type Reason struct {
	Verdict Verdict `json:"verdict"`
	Text    string  `json:"text"`
}

// Page is what vetting saw on one page.
type Page struct {
	URL         string               `json:"url"`
	FetchStatus affwatch.FetchStatus `json:"fetch_status"`
	FetchError  string               `json:"fetch_error,omitempty"`
	Title       string               `json:"title,omitempty"`
	Links       int                  `json:"affiliate_links"`
	Disclosures int                  `json:"disclosures"`
	Coupons     int                  `json:"coupons"`
	Findings    []affwatch.Finding   `json:"findings,omitempty"`
	RulesFailed []string             `json:"rules_failed,omitempty"`
}

// Promotion is an affiliate program the site links to: a network, the advertiser's ID in
// it when the link carries one, and the affiliate IDs the links credit.
type Promotion struct {
	Network      string   `json:"network"`
	Merchant     string   `json:"merchant,omitempty"`
	AffiliateIDs []string `json:"affiliate_ids"`
	Links        int      `json:"links"`
	// Ours is true for links to the program being vetted for.
	Ours bool `json:"ours"`
}

// Report is the whole result of vetting a site.
type Report struct {
	Sites      []string    `json:"sites"`
	Program    string      `json:"program"`
	VettedAt   time.Time   `json:"vetted_at"`
	Verdict    Verdict     `json:"verdict"`
	Reasons    []Reason    `json:"reasons"`
	Promotions []Promotion `json:"promotions"`
	Pages      []Page      `json:"pages"`
	// CouponSignals say why the site looks like a coupon or deal site, if it does.
	CouponSignals []string `json:"coupon_signals,omitempty"`
	Redirects     []string `json:"redirects,omitempty"`
}

// Vetter vets sites for one program.
type Vetter struct {
	Crawler   affwatch.Crawler
	Evaluator affwatch.Evaluator
	Program   affwatch.Program
	Now       func() time.Time
}

// Vet crawls the sites and judges them. An error means the vetting itself could not run;
// pages that could not be fetched are part of the report (and make it a review).
func (v *Vetter) Vet(ctx context.Context, sites []string) (Report, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	rep := Report{Sites: sites, Program: v.Program.ID, VettedAt: now().UTC(), Verdict: Approve, Reasons: []Reason{}, Promotions: []Promotion{}}
	var mu sync.Mutex
	promos := map[string]*Promotion{}
	for _, site := range sites {
		host := site
		if u, err := url.Parse(site); err == nil && u.Host != "" {
			host = u.Host
		}
		aff := affwatch.Affiliate{ID: "vet:" + host, Name: host, Program: v.Program.ID, Sites: []string{site}}
		err := v.Crawler.Crawl(ctx, aff, func(snap affwatch.Snapshot) error {
			p := &snap.Page
			pg := Page{URL: p.URL, FetchStatus: p.FetchStatus, FetchError: p.FetchError, Title: p.Title,
				Disclosures: len(p.Disclosures), Coupons: len(p.Coupons)}
			if p.FetchStatus.Verified() {
				findings, err := v.Evaluator.Evaluate(ctx, p)
				var rf affwatch.RulesFailed
				if errors.As(err, &rf) {
					pg.RulesFailed = rf.Failed()
				} else if err != nil {
					pg.FetchStatus, pg.FetchError = affwatch.FetchError, "evaluate policies: "+err.Error()
				}
				pg.Findings = findings
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range p.Links {
				if l.Affiliate == nil {
					continue
				}
				pg.Links++
				a := l.Affiliate
				key := a.Network + "\x00" + a.Merchant
				pr := promos[key]
				if pr == nil {
					pr = &Promotion{Network: a.Network, Merchant: a.Merchant, AffiliateIDs: []string{}}
					promos[key] = pr
				}
				pr.Links++
				if a.AffiliateID != "" && !slices.Contains(pr.AffiliateIDs, a.AffiliateID) {
					pr.AffiliateIDs = append(pr.AffiliateIDs, a.AffiliateID)
				}
				pr.Ours = pr.Ours || v.Program.Owns(*a)
			}
			for _, r := range p.Redirects {
				rep.Redirects = append(rep.Redirects, fmt.Sprintf("%s -> %s (%s %d)", r.From, r.To, r.Kind, r.Status))
			}
			rep.Pages = append(rep.Pages, pg)
			return nil
		})
		if err != nil && ctx.Err() != nil {
			return rep, err
		}
		if err != nil {
			rep.Reasons = append(rep.Reasons, Reason{Review, fmt.Sprintf("the crawl of %s did not complete: %v", site, err)})
		}
	}
	sort.Slice(rep.Pages, func(i, j int) bool { return rep.Pages[i].URL < rep.Pages[j].URL })
	for _, p := range promos {
		sort.Strings(p.AffiliateIDs)
		rep.Promotions = append(rep.Promotions, *p)
	}
	sort.Slice(rep.Promotions, func(i, j int) bool {
		a, b := rep.Promotions[i], rep.Promotions[j]
		if a.Links != b.Links {
			return a.Links > b.Links
		}
		return a.Network+a.Merchant < b.Network+b.Merchant
	})
	rep.CouponSignals = couponSignals(rep.Pages)
	rep.judge()
	return rep, nil
}

// couponSignals tells a coupon or deal site: codes on most pages, or coupon words in the
// pages' titles.
func couponSignals(pages []Page) []string {
	var sig []string
	withCodes, codes, titled := 0, 0, 0
	for _, p := range pages {
		if p.Coupons > 0 {
			withCodes++
			codes += p.Coupons
		}
		t := strings.ToLower(p.Title)
		if strings.Contains(t, "coupon") || strings.Contains(t, "promo code") || strings.Contains(t, "voucher") || strings.Contains(t, "discount code") {
			titled++
		}
	}
	if codes >= 3 || (withCodes > 0 && withCodes*2 >= len(pages)) {
		sig = append(sig, fmt.Sprintf("%d coupon code(s) on %d of %d page(s)", codes, withCodes, len(pages)))
	}
	if titled > 0 {
		sig = append(sig, fmt.Sprintf("%d page title(s) name coupons, promo or discount codes", titled))
	}
	return sig
}

// judge sets the verdict from what was seen: decline on any high or critical finding;
// review when a page could not be verified (a site seen through a bot wall is never
// approved), a rule failed, a medium finding, another program promoted, or coupon signals;
// approve otherwise. Every reason is kept.
func (r *Report) judge() {
	add := func(v Verdict, format string, a ...any) {
		r.Reasons = append(r.Reasons, Reason{v, fmt.Sprintf(format, a...)})
	}
	verified := 0
	for _, p := range r.Pages {
		if !p.FetchStatus.Verified() {
			add(Review, "could not verify %s: %s %s", p.URL, p.FetchStatus, p.FetchError)
			continue
		}
		verified++
		if len(p.RulesFailed) > 0 {
			add(Review, "rules %s could not judge %s", strings.Join(p.RulesFailed, ", "), p.URL)
		}
		for _, f := range p.Findings {
			switch {
			case f.Advisory:
			case f.Severity >= affwatch.SeverityHigh:
				add(Decline, "%s (%s) on %s: %s", f.RuleID, f.Severity, p.URL, f.Message)
			case f.Severity >= affwatch.SeverityMedium:
				add(Review, "%s (%s) on %s: %s", f.RuleID, f.Severity, p.URL, f.Message)
			}
		}
	}
	if verified == 0 {
		add(Review, "no page of the site could be verified: nothing is known about its content")
	}
	var others []string
	for _, p := range r.Promotions {
		if p.Ours {
			continue
		}
		name := p.Network
		if p.Merchant != "" {
			name += " merchant " + p.Merchant
		}
		others = append(others, fmt.Sprintf("%s (%d link(s), affiliate %s)", name, p.Links, strings.Join(p.AffiliateIDs, ", ")))
	}
	if len(others) > 0 {
		add(Review, "promotes %d other program(s): %s", len(others), strings.Join(others, "; "))
	}
	for _, s := range r.CouponSignals {
		add(Review, "looks like a coupon or deal site: %s", s)
	}
	for _, reason := range r.Reasons {
		if reason.Verdict.worse(r.Verdict) {
			r.Verdict = reason.Verdict
		}
	}
	if r.Verdict == Approve {
		r.Reasons = append(r.Reasons, Reason{Approve, fmt.Sprintf("%d page(s) verified; no finding at medium severity or above, no other program promoted", verified)})
	}
}
