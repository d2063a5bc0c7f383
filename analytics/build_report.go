package analytics

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
)

// Limits of the report's lists.
const (
	reportClasses = 20
	reportStale   = 100
	reportJobs    = 100
)

func buildReport(s *state.State, cfg Config, now time.Time, rs report.RunStats, p *Plan, stale []report.Stale, deleted int, freed int64) *report.Report {
	r := &report.Report{
		Generated: now.UTC(), Shard: cfg.Shard.String(), Window: fmt.Sprintf("%dd", cfg.windowDays()), DryRun: cfg.DryRun, Run: rs,
		JobsCapped: p.Capped, Heads: p.Heads, TagChecks: p.TagChecks, Originals: p.Originals, MissingOriginals: p.MissingOriginals,
		Refreshes: p.Refreshes, RefusedRequests: p.RefusedRequests, RefusedMisses: p.RefusedMisses, Impossible: p.Impossible,
		Outcomes: p.Outcomes, MaxUnread: cfg.MaxUnread, PlannedUnread: p.PlannedUnread, OverBudget: p.OverBudget, Deleted: deleted, BytesFreed: freed, Totals: s.Totals,
	}
	if !cfg.DryRun {
		r.JobsQueued = len(p.Jobs)
	}
	r.Jobs = p.Jobs
	if !cfg.DryRun && len(r.Jobs) > reportJobs {
		r.Jobs = r.Jobs[:reportJobs]
	}
	r.Stale = stale
	if len(r.Stale) > reportStale && !cfg.DryRun {
		r.Stale = r.Stale[:reportStale]
	}
	r.Stored, r.StoredBytes = s.StoredCount()
	first := state.DayOf(now.Unix()) - cfg.windowDays() + 1
	for d, x := range s.Days {
		dr := report.DayReport{Date: time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly), Day: *x}
		if x.Requests > 0 {
			dr.HitRatio = float64(x.Hits) / float64(x.Requests)
		}
		r.Days = append(r.Days, dr)
		if d >= first {
			r.Counts.Add(report.CountsOf(*x))
		}
	}
	slices.SortFunc(r.Days, func(a, b report.DayReport) int { return cmp.Compare(a.Date, b.Date) })
	if r.Requests > 0 {
		r.HitRatio = float64(r.Hits) / float64(r.Requests)
	}
	if all := r.Requests + r.Crawler; all > 0 {
		r.CrawlerShare = float64(r.Crawler) / float64(all)
	}
	for i, c := range p.Classes {
		if i == reportClasses {
			break
		}
		r.Classes = append(r.Classes, c)
	}
	for stem, o := range s.Originals {
		if n := o.Since(first); n > 0 {
			name := o.Key
			if name == "" {
				name = stem + ".*"
			}
			r.TopOriginals = append(r.TopOriginals, report.OriginalReport{Original: name, Requests: n, Misses: o.Misses, Direct: o.Direct})
		}
	}
	slices.SortFunc(r.TopOriginals, func(a, b report.OriginalReport) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Original, b.Original))
	})
	if len(r.TopOriginals) > report.TopOriginals {
		r.TopOriginals = r.TopOriginals[:report.TopOriginals]
	}
	return r
}
