package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/vet"
)

// cmdVet is `affwatch vet URL... --program ID`: judge a prospective partner's site. The exit
// code is the verdict: 0 approve, 1 decline, 3 review.
func cmdVet(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("vet", stderr)
	cfgPath := configFlag(fs)
	program := fs.String("program", "", "the program `ID` the site would join (its parameters are in the config)")
	maxPages := fs.Int("max-pages", 10, "at most `N` pages of each site (the seed and the pages it links to)")
	format := fs.String("format", "text", "output `text|json|html`")
	out := fs.String("o", "", "write the report to `FILE` (default: standard output)")
	sites, err := parseArgs(fs, args)
	if err != nil {
		return exitError, err
	}
	switch {
	case len(sites) == 0:
		return exitError, usageErrorf("name the site to vet (a URL)")
	case *program == "":
		return exitError, usageErrorf("--program is required: the guidelines a site is vetted against are the program's")
	case *format != "text" && *format != "json" && *format != "html":
		return exitError, usageErrorf("--format %q: want text, json or html", *format)
	case *maxPages < 1:
		return exitError, usageErrorf("--max-pages %d: want at least 1", *maxPages)
	}
	for _, s := range sites {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return exitError, usageErrorf("%q is not an http(s) URL", s)
		}
	}
	cfg, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return exitError, err
	}
	defer st.Close()
	var found bool
	for _, p := range cfg.Programs {
		if p.ID == *program {
			found = true
		}
	}
	if !found {
		return exitError, usageErrorf("--program %q is not in %s", *program, *cfgPath)
	}
	log := logger(stderr, false)
	eng, problems, err := loadPolicies(ctx, cfg, log)
	if eng == nil {
		return exitError, err
	}
	crawlCfg := *cfg
	crawlCfg.Crawl.MaxPages = *maxPages
	depth := 1
	crawlCfg.Crawl.MaxDepth = &depth
	c := newCrawler(&crawlCfg, cfg.Programs)
	c.Logger = log.With("component", "crawler")
	defer c.Close()
	v := &vet.Vetter{Crawler: c, Evaluator: eng}
	for _, p := range cfg.Programs {
		if p.ID == *program {
			v.Program = p
		}
	}
	rep, err := v.Vet(ctx, sites)
	if err != nil {
		return exitFailed, failed(err)
	}
	if problems != nil {
		rep.Reasons = append(rep.Reasons, vet.Reason{Verdict: vet.Review, Text: "some policy files were left out: " + problems.Error()})
		if rep.Verdict == vet.Approve {
			rep.Verdict = vet.Review
		}
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return exitError, err
	}
	for _, s := range sites {
		u, _ := url.Parse(s)
		if _, err := st.SaveVetting(ctx, store.Vetting{Site: u.Scheme + "://" + strings.ToLower(u.Host), Program: rep.Program,
			Verdict: string(rep.Verdict), VettedAt: rep.VettedAt, Report: raw}); err != nil {
			return exitError, err
		}
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return exitError, err
		}
		defer f.Close()
		w = f
	}
	switch *format {
	case "json":
		_, err = w.Write(append(raw, '\n'))
	case "html":
		err = rep.WriteHTML(w)
	default:
		err = writeVetText(w, rep)
	}
	if err != nil {
		return exitError, err
	}
	switch rep.Verdict {
	case vet.Decline:
		return exitViolations, nil
	case vet.Review:
		return exitPartial, nil
	}
	return exitOK, nil
}

// writeVetText is the vetting report for a terminal.
func writeVetText(w io.Writer, r vet.Report) error {
	fmt.Fprintf(w, "%s for program %s: %s\n", strings.Join(r.Sites, ", "), r.Program, strings.ToUpper(string(r.Verdict)))
	for _, reason := range r.Reasons {
		fmt.Fprintf(w, "  %-8s %s\n", reason.Verdict, oneLine(reason.Text, 300))
	}
	if len(r.Promotions) > 0 {
		fmt.Fprintln(w, "affiliate programs promoted:")
		for _, p := range r.Promotions {
			ours := ""
			if p.Ours {
				ours = "  (this program)"
			}
			merchant := ""
			if p.Merchant != "" {
				merchant = " merchant " + p.Merchant
			}
			fmt.Fprintf(w, "  %s%s: %d link(s), affiliate %s%s\n", p.Network, merchant, p.Links, strings.Join(p.AffiliateIDs, ", "), ours)
		}
	}
	fmt.Fprintf(w, "pages (%d):\n", len(r.Pages))
	for _, p := range r.Pages {
		fmt.Fprintf(w, "  %-12s %s  %d affiliate link(s), %d disclosure(s), %d finding(s)\n", p.FetchStatus, p.URL, p.Links, p.Disclosures, len(p.Findings))
	}
	return nil
}
