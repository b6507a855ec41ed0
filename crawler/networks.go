package crawler

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/affwatch/affwatch"
)

// Network describes how one affiliate network's click URLs look and where in them the
// affiliate's ID and the destination are. The table below is the whole of affwatch's
// knowledge of networks: to support another, add a row.
type Network struct {
	// Name is the network's key in Page documents and in program data ("amazon", "cj").
	Name string
	// Hosts are exact host names, or "*.example.com" for any subdomain of example.com.
	Hosts []string
	// Paths, when set, are path prefixes at least one of which the URL must have.
	Paths []string
	// PathID extracts the affiliate ID (group "id") and optionally the destination
	// (group "dest") from the path.
	PathID *regexp.Regexp
	// HostID extracts the affiliate ID (group "id") from the host name.
	HostID *regexp.Regexp
	// IDParams are query parameters carrying the affiliate ID, first present wins.
	IDParams []string
	// DestParams are query parameters carrying the destination URL.
	DestParams []string
	// MerchantParams are query parameters carrying the advertiser's ID in the network;
	// PathID and HostID may also capture it (group "merchant").
	MerchantParams []string
	// Require are query parameters that must all be present for the URL to be a click URL.
	Require []string
	// NeedID means a URL on these hosts is an affiliate link only when it carries an ID
	// (an Amazon product page without tag= is just a product page).
	NeedID bool
	// Short marks link shorteners of the network (amzn.to): always affiliate links, with
	// the ID known only after following the redirect.
	Short bool
}

var amazonHosts = func() []string {
	var hs []string
	for _, tld := range []string{"com", "co.uk", "de", "fr", "it", "es", "ca", "co.jp", "jp", "com.au", "in", "com.br",
		"com.mx", "nl", "se", "pl", "com.tr", "ae", "sa", "sg", "eg", "com.be", "cn"} {
		hs = append(hs, "amazon."+tld, "www.amazon."+tld, "smile.amazon."+tld)
	}
	return hs
}()

// Networks is the table of known affiliate networks and their link forms.
var Networks = []Network{
	{Name: "amazon", Hosts: amazonHosts, IDParams: []string{"tag"}, NeedID: true},
	// the old associate form carries the tag in the path: /exec/obidos/ASIN/<asin>/<tag>
	{Name: "amazon", Hosts: amazonHosts, Paths: []string{"/exec/obidos/"},
		PathID: regexp.MustCompile(`^/exec/obidos/(?:ASIN|tg/detail/-)/[^/]+/(?P<id>[A-Za-z0-9_.-]+-2\d)(?:[/?]|$)`), NeedID: true},
	{Name: "amazon", Hosts: []string{"amzn.to", "amzn.eu", "amzn.asia", "a.co"}, Short: true},
	{Name: "cj", Hosts: []string{"*.anrdoezrs.net", "anrdoezrs.net", "*.jdoqocy.com", "jdoqocy.com", "*.tkqlhce.com", "tkqlhce.com",
		"*.dpbolvw.net", "dpbolvw.net", "*.kqzyfj.com", "kqzyfj.com", "*.emjcd.com", "*.qksrv.net", "*.ftjcfx.com", "*.lduhtrp.net",
		"*.awltovhc.com", "*.tqlkg.com", "*.apmebf.com", "*.afcyhf.com"},
		PathID: regexp.MustCompile(`^/(?:click-(?P<id>\d+)-\d+|links/(?P<id2>\d+)/)`), DestParams: []string{"url"}},
	{Name: "awin", Hosts: []string{"www.awin1.com", "awin1.com"}, IDParams: []string{"awinaffid", "id"},
		DestParams: []string{"ued", "p"}, MerchantParams: []string{"awinmid", "mid"}, NeedID: true},
	{Name: "rakuten", Hosts: []string{"click.linksynergy.com", "linksynergy.walmart.com"}, IDParams: []string{"id"},
		DestParams: []string{"murl", "RD_PARM1"}, MerchantParams: []string{"mid", "offerid"}},
	{Name: "rakuten_jp", Hosts: []string{"hb.afl.rakuten.co.jp"}, Paths: []string{"/ichiba/", "/hgc/"},
		PathID: regexp.MustCompile(`^/[a-z]+/(?P<id>[^/.]+)`), DestParams: []string{"pc"}},
	{Name: "shareasale", Hosts: []string{"shareasale.com", "www.shareasale.com"}, Paths: []string{"/r.cfm", "/m-pr.cfm", "/u.cfm"},
		IDParams: []string{"u", "afftrack"}, DestParams: []string{"urllink"}, MerchantParams: []string{"m"}, NeedID: true},
	{Name: "shareasale", Hosts: []string{"shrsl.com", "www.shrsl.com"}, Short: true},
	{Name: "impact", Hosts: []string{"*.sjv.io", "*.evyy.net", "*.7eer.net", "*.pxf.io", "*.ojrq.net", "*.r3h.net", "*.iljmp.com",
		"*.vzew.net", "*.zlbu.net", "*.ztk5.net", "*.mtko.net", "*.uzfr.net"},
		PathID: regexp.MustCompile(`^/c/(?P<id>\d+)/\d+/(?P<merchant>\d+)`), DestParams: []string{"u"}},
	{Name: "partnerize", Hosts: []string{"prf.hn", "www.prf.hn"}, Paths: []string{"/click/"},
		PathID: regexp.MustCompile(`camref:(?P<id>[A-Za-z0-9]+)(?:/.*destination:(?P<dest>.+))?`)},
	{Name: "clickbank", Hosts: []string{"ssl.clickbank.net"}, Paths: []string{"/hop"}, Short: true},
	{Name: "clickbank", Hosts: []string{"*.hop.clickbank.net", "hop.clickbank.net"},
		HostID:   regexp.MustCompile(`^(?P<id>[a-z0-9]+)\.(?P<merchant>[a-z0-9]+)\.hop\.clickbank\.net$`),
		IDParams: []string{"affiliate"}, MerchantParams: []string{"vendor"}},
	{Name: "ebay", Hosts: []string{"rover.ebay.com"}, IDParams: []string{"campid"}, DestParams: []string{"mpre"}},
	{Name: "ebay", Hosts: []string{"www.ebay.com", "ebay.com", "www.ebay.co.uk", "www.ebay.de", "www.ebay.fr", "www.ebay.it",
		"www.ebay.es", "www.ebay.ca", "www.ebay.com.au"}, IDParams: []string{"campid"}, Require: []string{"mkrid"}, NeedID: true},
	{Name: "ebay", Hosts: []string{"ebay.us"}, Short: true},
	{Name: "skimlinks", Hosts: []string{"go.redirectingat.com", "go.skimresources.com"}, IDParams: []string{"id"}, DestParams: []string{"url"}},
	{Name: "sovrn", Hosts: []string{"redirect.viglink.com", "api.viglink.com", "sovrn.co"}, IDParams: []string{"key"}, DestParams: []string{"u", "out"}},
	{Name: "pepperjam", Hosts: []string{"www.pjtra.com", "pjtra.com", "www.pjatr.com", "pjatr.com", "www.gopjn.com", "gopjn.com",
		"www.pntra.com", "pntra.com", "www.pntrs.com", "pntrs.com", "www.pntrac.com", "pntrac.com"},
		PathID: regexp.MustCompile(`^/t/(?P<id>[A-Za-z0-9-]+)`), DestParams: []string{"url"}},
	{Name: "flexoffers", Hosts: []string{"track.flexlinks.com", "track.flexlinkspro.com"}, IDParams: []string{"foid"}, DestParams: []string{"url"}},
	{Name: "tradedoubler", Hosts: []string{"clk.tradedoubler.com", "tracker.tradedoubler.com", "pdt.tradedoubler.com"},
		IDParams: []string{"a"}, DestParams: []string{"url"}, MerchantParams: []string{"p"}},
	{Name: "tradedoubler", Hosts: []string{"td.oo34.net"}, IDParams: []string{"aaid"}, DestParams: []string{"url"}},
	{Name: "webgains", Hosts: []string{"track.webgains.com"}, IDParams: []string{"wgcampaignid", "wgcampaignID"}, DestParams: []string{"wgtarget"},
		MerchantParams: []string{"wgprogramid", "wgprogramID"}},
	{Name: "admitad", Hosts: []string{"ad.admitad.com", "alitems.com", "alitems.site", "*.lenkmio.com", "ad.admitad.cool"},
		PathID: regexp.MustCompile(`^/[a-z]/(?P<id>[a-z0-9]+)/`), DestParams: []string{"ulp"}},
	{Name: "a8", Hosts: []string{"px.a8.net", "rpx.a8.net"}, Paths: []string{"/svt/ejp"}, IDParams: []string{"a8mat"}, NeedID: true},
	{Name: "valuecommerce", Hosts: []string{"ck.jp.ap.valuecommerce.com"}, Paths: []string{"/servlet/referral"},
		IDParams: []string{"sid"}, DestParams: []string{"vc_url"}, Require: []string{"pid"}, NeedID: true},
	{Name: "zucks", Hosts: []string{"get.mobu.jp"}, Paths: []string{"/redirect/"}, PathID: regexp.MustCompile(`^/redirect/(?P<id>[^/?]+)`)},
	{Name: "moshimo", Hosts: []string{"af.moshimo.com"}, Paths: []string{"/af/c/click"}, IDParams: []string{"a_id"},
		DestParams: []string{"url"}, Require: []string{"url"}, NeedID: true},
	{Name: "accesstrade", Hosts: []string{"h.accesstrade.net"}, Paths: []string{"/sp/cc"}, IDParams: []string{"rk"}, NeedID: true},
	{Name: "linka", Hosts: []string{"cl.link-ag.net", "link-a.net", "link-ag.net"}, PathID: regexp.MustCompile(`^/(?P<id>[^/?]+)`)},
	// German shops' and comparison sites' partner programs
	{Name: "billiger", Hosts: []string{"billiger.de", "*.billiger.de"}, IDParams: []string{"mc"}, NeedID: true},
	{Name: "idealo", Hosts: []string{"ipn.idealo.de"}, Paths: []string{"/ts/"}, Short: true},
	{Name: "eclick", Hosts: []string{"partner.cyberport.de", "pvn.mediamarkt.de", "pvn.saturn.de"}, Paths: []string{"/trck/eclick"},
		IDParams: []string{"uid", "pid"}},
	{Name: "notebooksbilliger", Hosts: []string{"notebooksbilliger.de", "*.notebooksbilliger.de"}, IDParams: []string{"nbbct"}, NeedID: true},
	// CJ also tracks through advertisers' own vanity domains: /click-<publisher>-<ad> on any
	// host (numeric IDs, or the upper-case placeholders of documentation).
	{Name: "cj", Hosts: []string{"*"}, Paths: []string{"/click-"},
		PathID: regexp.MustCompile(`^/click-(?P<id>[0-9]+|[A-Z]{2,})-(?P<merchant>[0-9]+|[A-Z]{2,})(?:[/?&]|$)`), NeedID: true},
}

// hostMatch reports whether host matches a Hosts entry.
func hostMatch(host, pattern string) bool {
	if pattern == "*" {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		// host ends in "."+suffix, compared without building that string for every link
		return len(host) > len(suffix) && host[len(host)-len(suffix)-1] == '.' && strings.HasSuffix(host, suffix)
	}
	return host == pattern
}

// Classify says whether rawURL is an affiliate click URL, and if so, of which network,
// carrying whose ID and leading where. It returns nil for ordinary links.
func Classify(rawURL string) *affwatch.AffiliateLink {
	if strings.HasPrefix(rawURL, "//") {
		rawURL = "https:" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	return classifyURL(u)
}

// classifyURL is Classify of a parsed URL.
func classifyURL(u *url.URL) *affwatch.AffiliateLink {
	if u.Host == "" {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	var q url.Values // parsed only for a link on a network's host: most links are not
	for i := range Networks {
		if !Networks[i].onHost(host) || !Networks[i].onPath(u.Path) {
			continue
		}
		if q == nil {
			q = u.Query()
		}
		if l := Networks[i].match(host, u, q); l != nil {
			return l
		}
	}
	return nil
}

// onPath reports whether the path is one of the network's link paths (any, when it names
// none).
func (n *Network) onPath(p string) bool {
	if len(n.Paths) == 0 {
		return true
	}
	for _, np := range n.Paths {
		if strings.HasPrefix(p, np) {
			return true
		}
	}
	return false
}

// onHost reports whether host is one of the network's.
func (n *Network) onHost(host string) bool {
	for _, h := range n.Hosts {
		if hostMatch(host, h) {
			return true
		}
	}
	return false
}

// ClassifyForProgram is Classify, plus the generic referral parameters (?ref=, ?aff=,
// ?affiliate_id=...) on the program's own landing domains.
func ClassifyForProgram(rawURL string, prog *affwatch.Program) *affwatch.AffiliateLink {
	if strings.HasPrefix(rawURL, "//") {
		rawURL = "https:" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	return classifyForProgram(u, rawURL, prog)
}

// classifyForProgram is ClassifyForProgram of a parsed URL (raw is its text).
func classifyForProgram(u *url.URL, rawURL string, prog *affwatch.Program) *affwatch.AffiliateLink {
	if l := classifyURL(u); l != nil {
		return l
	}
	if prog == nil || len(prog.LandingDomains) == 0 || u.Host == "" {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range prog.LandingDomains {
		d = strings.ToLower(d)
		if host != d && !strings.HasSuffix(host, "."+d) {
			continue
		}
		q := u.Query()
		for _, p := range genericParams {
			if id := q.Get(p); id != "" {
				return &affwatch.AffiliateLink{Network: "direct", AffiliateID: id, Program: prog.ID, Destination: rawURL}
			}
		}
	}
	return nil
}

// genericParams are the query parameters in-house affiliate programs commonly use.
var genericParams = []string{"ref", "aff", "aff_id", "affid", "affiliate", "affiliate_id", "partner", "partner_id", "pid", "via", "rfsn"}

// match reads the affiliate record of a URL on one of the network's hosts and paths (nil
// when the URL is not one of its affiliate links).
func (n *Network) match(host string, u *url.URL, q url.Values) *affwatch.AffiliateLink {
	for _, r := range n.Require {
		if q.Get(r) == "" {
			return nil
		}
	}
	l := &affwatch.AffiliateLink{Network: n.Name}
	if n.Short {
		return l
	}
	if n.PathID != nil {
		m := n.PathID.FindStringSubmatch(u.EscapedPath())
		if m == nil {
			return nil
		}
		for i, name := range n.PathID.SubexpNames() {
			switch {
			case strings.HasPrefix(name, "id") && m[i] != "" && l.AffiliateID == "":
				l.AffiliateID = m[i]
			case name == "dest" && m[i] != "":
				if d, err := url.PathUnescape(m[i]); err == nil {
					l.Destination = d
				}
			case name == "merchant":
				l.Merchant = m[i]
			}
		}
	}
	if n.HostID != nil {
		if m := n.HostID.FindStringSubmatch(host); m != nil {
			l.AffiliateID = m[n.HostID.SubexpIndex("id")]
			if i := n.HostID.SubexpIndex("merchant"); i > 0 {
				l.Merchant = m[i]
			}
		}
	}
	for _, p := range n.MerchantParams {
		if v := q.Get(p); v != "" && l.Merchant == "" {
			l.Merchant = v
		}
	}
	for _, p := range n.IDParams {
		if v := q.Get(p); v != "" && l.AffiliateID == "" {
			l.AffiliateID = v
		}
	}
	for _, p := range n.DestParams {
		if v := q.Get(p); v != "" && l.Destination == "" {
			l.Destination = v
		}
	}
	if n.NeedID && l.AffiliateID == "" {
		return nil
	}
	return l
}
