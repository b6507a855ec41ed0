package main

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
)

// cmdEvents is `affwatch events generate`: synthetic click and conversion logs with known
// fraud, for measuring the detectors.
func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "list" {
		return eventsList(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "generate" {
		return groupUsage("events", args, stdout)
	}
	fs := newFlags("events generate", stderr)
	seed := fs.Int64("seed", 1, "random seed `N`: the same seed writes the same data")
	out := fs.String("out", "events", "`DIR` to write clicks.csv.gz, conversions.csv.gz and labels.csv to")
	affiliates := fs.Int("affiliates", 300, "`N` affiliates in the program")
	fraud := fs.Int("fraud-per-pattern", 10, "`N` fraudulent affiliates per pattern")
	days := fs.Int("days", 35, "`N` days of traffic")
	perDay := fs.Float64("clicks-per-day", 120, "`N`, the median affiliate's daily clicks")
	end := fs.String("end", "", "end of the traffic, a `TIME` (RFC 3339; default the start of today, UTC)")
	scenario := fs.String("scenario", "standard", "the program to write, a `NAME`: standard, spread, mixed, ramp or odd_clean (README, \"Per-event verdicts\")")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	opt := detectors.GenOptions{Seed: *seed, Affiliates: *affiliates, FraudPerPattern: *fraud, Days: *days, ClicksPerDay: *perDay,
		End: time.Now().UTC().Truncate(24 * time.Hour), Scenario: strings.TrimPrefix(*scenario, "standard")}
	if !slices.Contains(detectors.Scenarios, opt.Scenario) {
		return usageErrorf("--scenario %q: want standard, spread, mixed, ramp or odd_clean", *scenario)
	}
	if *end != "" {
		t, err := detectors.ParseTime(*end)
		if err != nil {
			return fmt.Errorf("--end: %w", err)
		}
		opt.End = t
	}
	perPattern := *fraud
	if opt.Scenario == detectors.ScenarioSpread {
		perPattern *= 2
	}
	if *affiliates < perPattern*len(detectors.Patterns) {
		return fmt.Errorf("--affiliates %d cannot hold %d fraudulent affiliates for each of %d patterns", *affiliates, perPattern, len(detectors.Patterns))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	clicks, err := newGzipFile(filepath.Join(*out, "clicks.csv.gz"))
	if err != nil {
		return err
	}
	convs, err := newGzipFile(filepath.Join(*out, "conversions.csv.gz"))
	if err != nil {
		clicks.Close()
		return err
	}
	ef, err := os.Create(filepath.Join(*out, "event-labels.csv"))
	if err != nil {
		clicks.Close()
		convs.Close()
		return err
	}
	ew := csv.NewWriter(ef)
	ew.Write([]string{"kind", "id", "affiliate_id", "pattern"})
	opt.Event = func(l detectors.EventLabel) error { return ew.Write([]string{l.Kind, l.ID, l.AffiliateID, l.Pattern}) }
	cw, vw := detectors.NewClickCSV(clicks), detectors.NewConversionCSV(convs)
	nc, nv := 0, 0
	labels, err := detectors.Generate(opt, func(c affwatch.Click) error {
		nc++
		if nc%100_000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return cw.Click(c)
	}, func(v affwatch.Conversion) error { nv++; return vw.Conversion(v) })
	ew.Flush()
	err = errors.Join(err, cw.Flush(), vw.Flush(), clicks.Close(), convs.Close(), ew.Error(), ef.Close())
	if err != nil {
		return err
	}
	lf, err := os.Create(filepath.Join(*out, "labels.csv"))
	if err != nil {
		return err
	}
	lw := csv.NewWriter(lf)
	lw.Write([]string{"affiliate_id", "program", "pattern", "audience"})
	fraudCount := 0
	for _, l := range labels {
		p := l.Pattern
		if p == "" {
			p = "clean"
		} else {
			fraudCount++
		}
		lw.Write([]string{l.AffiliateID, "synthetic", p, l.Audience})
	}
	lw.Flush()
	if err := errors.Join(lw.Error(), lf.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d clicks, %d conversions and %d labels (%d fraudulent affiliates) to %s, traffic from %s to %s\n",
		nc, nv, len(labels), fraudCount, *out, opt.End.AddDate(0, 0, -opt.Days).Format(time.DateOnly), opt.End.Format(time.DateOnly))
	return nil
}

// eventsList is `affwatch events list`: the stored conversion verdicts, as a table, JSON,
// or the CSV a network's bulk-reversal upload takes (conversion_id, order_id, reason).
func eventsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("events list", stderr)
	cfgPath := configFlag(fs)
	verdicts := fs.String("verdict", "review,reject", "only conversions with these `VERDICTS`, comma-separated (ok, review, reject)")
	aff := fs.String("affiliate", "", "only the conversions of these affiliate `IDS`, comma-separated")
	since := fs.String("since", "", "only conversions within this `DURATION` (24h, 30d; default all)")
	limit := fs.Int("limit", 0, "at most `N` conversions (0: all)")
	format := fs.String("format", "table", "output `table|json|csv`; csv is the bulk-reversal upload: conversion_id, order_id, reason")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f := affwatch.VerdictFilter{Affiliates: splitList(*aff), Limit: *limit}
	for _, s := range splitList(*verdicts) {
		v, err := affwatch.ParseVerdict(s)
		if err != nil {
			return usageErrorf("--verdict: %w", err)
		}
		f.Verdicts = append(f.Verdicts, v)
	}
	if *since != "" {
		d, err := parseDuration(*since)
		if err != nil {
			return usageErrorf("--since: %w", err)
		}
		f.Since = time.Now().Add(-d)
	}
	if *limit < 0 {
		return usageErrorf("--limit cannot be negative")
	}
	var write func(affwatch.EventVerdict) error
	done := func() error { return nil }
	switch *format {
	case "csv":
		cw := csv.NewWriter(stdout)
		cw.Write([]string{"conversion_id", "order_id", "reason"})
		write = func(v affwatch.EventVerdict) error {
			return cw.Write([]string{v.ConversionID, v.OrderID, v.ReasonText()})
		}
		done = func() error { cw.Flush(); return cw.Error() }
	case "json":
		// One JSON document per line, streamed: a month of verdicts need not fit in memory.
		enc := json.NewEncoder(stdout)
		write = func(v affwatch.EventVerdict) error { return enc.Encode(v) }
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONVERSION	ORDER	AFFILIATE	TIME	COMMISSION	VERDICT	REASONS")
		write = func(v affwatch.EventVerdict) error {
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\n", v.ConversionID, v.OrderID, v.AffiliateID,
				v.TS.UTC().Format("2006-01-02 15:04:05"), v.Commission, v.Verdict, oneLine(v.ReasonText(), 120))
			return err
		}
		done = tw.Flush
	default:
		return usageErrorf("--format %q: want table, json or csv", *format)
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.EachVerdict(ctx, f, write); err != nil {
		return err
	}
	return done()
}

// gzipFile is a gzip stream that closes its file.
type gzipFile struct {
	*gzip.Writer
	f *os.File
}

func newGzipFile(path string) (*gzipFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	return &gzipFile{Writer: zw, f: f}, nil
}

func (g *gzipFile) Close() error { return errors.Join(g.Writer.Close(), g.f.Close()) }
