package report

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ErrMerge is wrapped by Merge's refusals.
var ErrMerge = errors.New("cannot merge reports")

// Merge combines the reports of the shards of one analysis (analyze
// --shard I --shards N, over the same logs) into one: what each shard
// counts of its own originals is summed, what every shard reads or ranks
// alike (log objects read, size classes, refused sizes) is taken once, and
// the lists are joined. K is the mean of the shards' Ks, weighted by the
// jobs each measured. The reports must be of distinct shards of the same
// count and window.
func Merge(reps []*Report) (*Report, error) {
	if len(reps) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrMerge)
	}
	count, seen := 0, map[int]bool{}
	for i, r := range reps {
		idx, n, err := parseShard(r.Shard)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: report %d: %w", ErrMerge, i+1, err)
		case r.Window != reps[0].Window:
			return nil, fmt.Errorf("%w: report %d is of a %s window, report 1 of %s", ErrMerge, i+1, r.Window, reps[0].Window)
		case i > 0 && n != count:
			return nil, fmt.Errorf("%w: report %d is a shard of %d, report 1 of %d", ErrMerge, i+1, n, count)
		case seen[idx]:
			return nil, fmt.Errorf("%w: shard %d twice", ErrMerge, idx)
		case r.DryRun != reps[0].DryRun:
			return nil, fmt.Errorf("%w: report %d is of a dry run and report 1 not, or the other way round", ErrMerge, i+1)
		case r.Unchanged:
			return nil, fmt.Errorf("%w: report %d (shard %s) found no new log objects and decided nothing: merge the reports of runs that read logs (or run with --decide-every 0)", ErrMerge, i+1, r.Shard)
		}
		count, seen[idx] = n, true
	}
	first := reps[0]
	m := &Report{
		Generated: first.Generated, Window: first.Window, DryRun: first.DryRun,
		Classes: first.Classes, RefusedRequests: first.RefusedRequests, RefusedMisses: first.RefusedMisses,
		MaxUnread: first.MaxUnread, Run: first.Run,
	}
	if len(seen) < count {
		var have []string
		for _, i := range slices.Sorted(maps.Keys(seen)) {
			have = append(have, strconv.Itoa(i))
		}
		m.Shard = strings.Join(have, ",") + "/" + strconv.Itoa(count)
	}
	m.Run.Counted, m.Run.Foreign = 0, 0
	days := map[string]*DayReport{}
	outcomes := map[string]*Outcome{}
	weights := map[string]int{} // of each kind's K: the jobs each shard measured
	var plannedJobs int
	for _, r := range reps {
		if r.Generated.After(m.Generated) {
			m.Generated = r.Generated
		}
		m.Run.Counted += r.Run.Counted
		m.Run.Elapsed = max(m.Run.Elapsed, r.Run.Elapsed)
		for _, f := range r.Run.Failed {
			if !slices.Contains(m.Run.Failed, f) {
				m.Run.Failed = append(m.Run.Failed, f)
			}
		}
		m.Counts.Add(r.Counts)
		m.TopOriginals = append(m.TopOriginals, r.TopOriginals...)
		m.Jobs = append(m.Jobs, r.Jobs...)
		m.JobsQueued += r.JobsQueued
		m.JobsCapped += r.JobsCapped
		m.Heads += r.Heads
		m.TagChecks += r.TagChecks
		m.Originals += r.Originals
		m.MissingOriginals += r.MissingOriginals
		m.Impossible += r.Impossible
		m.Refreshes += r.Refreshes
		m.OverBudget += r.OverBudget
		jobs := r.JobsQueued
		if r.DryRun {
			jobs = len(r.Jobs)
		}
		m.PlannedUnread += r.PlannedUnread * float64(jobs)
		plannedJobs += jobs
		for _, o := range r.Outcomes {
			x := outcomes[o.Why]
			if x == nil {
				x = &Outcome{Why: o.Why}
				outcomes[o.Why] = x
			}
			x.Matured += o.Matured
			x.Unread += o.Unread
			x.K += o.K * float64(max(o.Matured, 1))
			weights[o.Why] += max(o.Matured, 1)
		}
		m.Stale = append(m.Stale, r.Stale...)
		m.Deleted += r.Deleted
		m.BytesFreed += r.BytesFreed
		m.Stored += r.Stored
		m.StoredBytes += r.StoredBytes
		for _, d := range r.Days {
			x := days[d.Date]
			if x == nil {
				x = &DayReport{Date: d.Date}
				days[d.Date] = x
			}
			x.Day.Add(d.Day)
		}
		t := r.Totals
		m.Totals.Runs = max(m.Totals.Runs, t.Runs)
		m.Totals.LogObjects = max(m.Totals.LogObjects, t.LogObjects)
		m.Totals.Lines = max(m.Totals.Lines, t.Lines)
		m.Totals.Records = max(m.Totals.Records, t.Records)
		m.Totals.Malformed = max(m.Totals.Malformed, t.Malformed)
		m.Totals.Duplicates = max(m.Totals.Duplicates, t.Duplicates)
		m.Totals.JobsQueued += t.JobsQueued
		m.Totals.Deleted += t.Deleted
		m.Totals.BytesFreed += t.BytesFreed
	}
	if m.Requests > 0 {
		m.HitRatio = float64(m.Hits) / float64(m.Requests)
	}
	if all := m.Requests + m.Crawler; all > 0 {
		m.CrawlerShare = float64(m.Crawler) / float64(all)
	}
	if plannedJobs > 0 {
		m.PlannedUnread /= float64(plannedJobs)
	}
	for _, why := range []string{WhyHot, WhyNew, WhyRefresh} {
		if x := outcomes[why]; x != nil {
			x.K /= float64(weights[why])
			if x.Matured > 0 {
				x.UnreadShare = float64(x.Unread) / float64(x.Matured)
			}
			m.Outcomes = append(m.Outcomes, *x)
		}
	}
	slices.SortFunc(m.TopOriginals, func(a, b OriginalReport) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Original, b.Original))
	})
	m.TopOriginals = m.TopOriginals[:min(len(m.TopOriginals), TopOriginals)]
	if len(m.TopOriginals) == 0 {
		m.TopOriginals = nil
	}
	slices.SortStableFunc(m.Jobs, func(a, b Job) int { return cmp.Or(cmp.Compare(a.Unread, b.Unread), cmp.Compare(a.Key, b.Key)) })
	slices.SortFunc(m.Stale, func(a, b Stale) int { return cmp.Or(a.LastRead.Compare(b.LastRead), cmp.Compare(a.Key, b.Key)) })
	for _, date := range slices.Sorted(maps.Keys(days)) {
		d := days[date]
		if d.Requests > 0 {
			d.HitRatio = float64(d.Hits) / float64(d.Requests)
		}
		m.Days = append(m.Days, *d)
	}
	return m, nil
}

// parseShard reads a report's Shard: "I/N".
func parseShard(s string) (index, count int, err error) {
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 2 || index < 0 || index >= count {
		return 0, 0, fmt.Errorf("not a shard's report (shard %q)", s)
	}
	return index, count, nil
}
