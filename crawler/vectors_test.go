package crawler_test

import (
	"strings"
	"testing"

	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/testkit"
)

// goodbyeNetworks maps goodbye-affiliate-link's spec functions to affwatch's networks.
var goodbyeNetworks = map[string]string{
	"is_a8net_affiliate_url": "a8", "is_accesstrade_affiliate_url": "accesstrade", "is_amazon_affiliate_url": "amazon",
	"is_linka_affiliate_url": "linka", "is_linkshare_affiliate_url": "rakuten", "is_moshimo_affiliate_url": "moshimo",
	"is_rakuten_affiliate_url": "rakuten_jp", "is_valuecommerce_affiliate_url": "valuecommerce", "is_zucks_affiliate_url": "zucks",
}

// cookieFunctions are AffTracker's functions over cookies and Set-Cookie headers (and
// recorded request sequences): affwatch classifies URLs, so these vectors do not apply.
var cookieFunctions = map[string]bool{"getMerchant": true, "getMerchantFromCookieParams": true, "getCookieParameter": true,
	"isUsefulCookie": true, "findCJUrlInReqSeq": true}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), `"`) }

// TestLinkClassifierOnPeerTestVectors runs every URL case of
// affiliate_url_patterns/test_vectors_extracted.csv (the specs of goodbye-affiliate-link
// and AffTracker) through crawler.Classify: the network, whether it is an affiliate link,
// and the affiliate ID or merchant where the case names one.
func TestLinkClassifierOnPeerTestVectors(t *testing.T) {
	rows := testkit.ReadCSV(t, testkit.SharedData(t, "affiliate_url_patterns", "test_vectors_extracted.csv"))
	passed, notApplicable := 0, 0
	for i, r := range rows {
		fn, input, expected := r["function_under_test"], r["input"], r["expected"]
		if cookieFunctions[fn] {
			notApplicable++
			continue
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("row %d %s(%s): "+format, append([]any{i + 2, fn, input}, args...)...)
		}
		switch {
		case goodbyeNetworks[fn] != "":
			want := goodbyeNetworks[fn]
			l := crawler.Classify(input)
			got := l != nil && l.Network == want
			if got != (expected == "true") {
				fail("classified as %+v, want %s affiliate %s", l, want, expected)
				continue
			}
		case fn == "getMerchantFromUrl":
			u := unquote(input)
			if !strings.Contains(u, "://") {
				u = "http://" + u
			}
			l := crawler.Classify(u)
			want := unquote(expected)
			switch {
			case want == "null" || want == "amazon.com":
				// a merchant's own page with no affiliate parameter: not an affiliate link
				if l != nil {
					fail("classified as %+v, want no affiliate link", l)
					continue
				}
			case strings.HasPrefix(want, "commission junction"):
				if l == nil || l.Network != "cj" || !strings.Contains(want, l.Merchant) {
					fail("%+v, want cj with %s", l, want)
					continue
				}
			case strings.HasPrefix(want, "clickbank"):
				if l == nil || l.Network != "clickbank" {
					fail("%+v, want clickbank", l)
					continue
				}
			}
		case fn == "parseAffiliateId", fn == "parseAffiliateIdFromClickbankUrl", fn == "parseAffiliateIdFromAmazonURL", fn == "parseAffiliateIdFromCJ":
			args := strings.Split(input, ",")
			var u string
			for _, a := range args {
				if a = unquote(a); strings.Contains(a, "/") {
					u = a
				}
			}
			if u == "" {
				notApplicable++ // a cookie value, not a URL
				continue
			}
			if !strings.Contains(u, "://") {
				u = "http://" + u
			}
			want := unquote(expected)
			if want == "null" {
				want = ""
			}
			l := crawler.Classify(u)
			got := ""
			if l != nil {
				got = l.AffiliateID
			}
			if got != want {
				fail("affiliate ID %q (%+v), want %q", got, l, want)
				continue
			}
		default:
			fail("no mapping for this function")
			continue
		}
		passed++
	}
	t.Logf("%d URL vectors passed; %d cookie/header vectors not applicable to a URL classifier", passed, notApplicable)
	if passed+notApplicable != len(rows) {
		t.Errorf("%d + %d of %d vectors accounted for", passed, notApplicable, len(rows))
	}
}
