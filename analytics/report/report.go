// Package report is what one analyzer run saw, decided and did (Report),
// and how it is shown: short text tables (WriteText) or one self-contained
// HTML page of charts (WriteHTML). Package analytics builds it.
package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/queue"
)

// RunStats are what one run read.
type RunStats struct {
	LogObjects int64         `json:"log_objects"`
	Bytes      int64         `json:"bytes"`
	Lines      int64         `json:"lines"`
	Records    int64         `json:"records"`
	Counted    int64         `json:"counted"`
	Malformed  int64         `json:"malformed"`
	Duplicates int64         `json:"duplicates"`
	Ignored    int64         `json:"ignored"`
	Foreign    int64         `json:"foreign,omitempty"` // records of other shards' originals
	Skipped    int64         `json:"skipped_objects"`   // objects that are not access logs
	Failed     []string      `json:"failed,omitempty"`
	Samples    []string      `json:"malformed_samples,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

// Job is a job the analyzer queues (a thumbnail to make, or with Refresh
// to write again before the lifecycle rule expires it), with the kind of
// its reason.
type Job struct {
	queue.Job
	// Why is the reason's kind: WhyHot, WhyNew, WhyGone or WhyRefresh.
	Why string `json:"why"`
	// Expected is how many reads it is expected to get in the next window;
	// Unread the chance, as calibrated, that nobody reads it within
	// OutcomeHorizon.
	Expected float64 `json:"expected"`
	Unread   float64 `json:"unread_chance"`
}

// The kinds of reason a job is queued for.
const (
	WhyHot     = "hot"     // a popular class of an original much requested
	WhyNew     = "new"     // a popular class of a new upload
	WhyGone    = "gone"    // a thumbnail still read that expired or was deleted
	WhyRefresh = "refresh" // written again before the lifecycle rule expires it
)

// OutcomeHorizon is how long a queued thumbnail has to be read for its
// job not to count as waste.
const OutcomeHorizon = 7 * 24 * time.Hour

// Outcome is what became of the jobs of one kind queued in the window
// before the last OutcomeHorizon: how many, how many nobody read within
// the horizon, and the calibration learned from them (see K).
type Outcome struct {
	Why         string  `json:"why"`
	Matured     int     `json:"matured"`
	Unread      int     `json:"unread"`
	UnreadShare float64 `json:"unread_share"`
	// K scales expected reads into the chance of a read: a job expecting
	// λ reads is read within the horizon with chance 1 - exp(-K·λ). 1
	// trusts the estimate (too few outcomes to learn from); less than 1
	// means the estimates run high on this site.
	K float64 `json:"k"`
}

// Stale is a thumbnail nobody has read for the stale period.
type Stale struct {
	Key      string    `json:"key"`
	LastRead time.Time `json:"last_read"` // or its last write or first record, when never read
	Size     int64     `json:"size,omitempty"`
	// Outcome is "deleted", "listed", "kept: not tagged thumbnail=yes",
	// "kept: replaced while checked" or "gone" (already deleted).
	Outcome string `json:"outcome"`
}

// Counts are the thumbnail requests of a window, as a report sums them
// from its days (and a merge from its shards' reports).
type Counts struct {
	Requests int64 `json:"requests"` // hits + misses, crawlers' aside
	Hits     int64 `json:"hits"`
	Misses   int64 `json:"misses"`
	// Crawler counts the requests of crawlers, not in Requests: they are
	// not demand.
	Crawler int64 `json:"crawler_requests"`
	// Avoided counts first reads of pre-generated thumbnails, AvoidedNew
	// those of new uploads'; Rescued the misses refreshes avoided (see
	// state.Day).
	Avoided    int64 `json:"avoided"`
	AvoidedNew int64 `json:"avoided_new"`
	Rescued    int64 `json:"rescued"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Requests += o.Requests
	c.Hits += o.Hits
	c.Misses += o.Misses
	c.Crawler += o.Crawler
	c.Avoided += o.Avoided
	c.AvoidedNew += o.AvoidedNew
	c.Rescued += o.Rescued
}

// CountsOf are a day's counts.
func CountsOf(d state.Day) Counts {
	return Counts{Requests: d.Requests, Hits: d.Hits, Misses: d.Misses, Crawler: d.Crawler,
		Avoided: d.Avoided, AvoidedNew: d.AvoidedNew, Rescued: d.Rescued}
}

// TopOriginals is how many originals a report lists, most requested first.
const TopOriginals = 10

// Report is what a run saw, decided and did.
type Report struct {
	Generated time.Time `json:"generated"`
	Window    string    `json:"window"`
	DryRun    bool      `json:"dry_run,omitempty"`
	// Shard is the share of originals this run covered ("1/4": the second
	// of four); empty for all of them.
	Shard string   `json:"shard,omitempty"`
	Run   RunStats `json:"run"`
	// Unchanged says the run found no new log object soon after the last
	// run (LastRun; see analytics.Config.DecideEvery) and stopped: it read
	// no state, decided nothing and changed nothing. Only Run is set.
	Unchanged bool      `json:"unchanged,omitempty"`
	LastRun   time.Time `json:"last_run,omitzero"`

	// Requests, hits, misses and the misses avoided in the window.
	Counts
	HitRatio float64 `json:"hit_ratio"`
	// CrawlerShare is the crawlers' share of all thumbnail requests.
	CrawlerShare float64 `json:"crawler_share"`

	Classes      []ClassReport    `json:"classes"`
	TopOriginals []OriginalReport `json:"top_originals"`

	Jobs       []Job `json:"jobs,omitempty"`
	JobsQueued int   `json:"jobs_queued"`
	JobsCapped int   `json:"jobs_capped,omitempty"`
	Heads      int   `json:"heads,omitempty"`
	// TagChecks, Originals and MissingOriginals are Plan's.
	TagChecks        int `json:"tag_checks,omitempty"`
	Originals        int `json:"originals_named_like_thumbnails,omitempty"`
	MissingOriginals int `json:"missing_originals,omitempty"`
	// RefusedRequests and RefusedMisses are Plan's: requests for sizes the
	// size policy refuses, not avoidable; Impossible the jobs dropped.
	RefusedRequests int64 `json:"refused_requests,omitempty"`
	RefusedMisses   int64 `json:"refused_misses,omitempty"`
	Impossible      int   `json:"impossible,omitempty"`
	// Refreshes counts the jobs (queued or planned) that are refreshes.
	Refreshes int `json:"refreshes,omitempty"`

	// Outcomes are the measured outcomes of past jobs, by kind; MaxUnread
	// the budget this run's selection was held to.
	Outcomes  []Outcome `json:"outcomes,omitempty"`
	MaxUnread float64   `json:"max_unread"`
	// PlannedUnread is the share of this run's pre-generation jobs
	// expected to stay unread, as calibrated.
	PlannedUnread float64 `json:"planned_unread"`
	// OverBudget counts the candidates left out by MaxUnread.
	OverBudget int `json:"over_budget,omitempty"`

	Stale      []Stale `json:"stale,omitempty"`
	Deleted    int     `json:"deleted"`
	BytesFreed int64   `json:"bytes_freed"`

	Stored      int64 `json:"stored"`
	StoredBytes int64 `json:"stored_bytes"`

	Days   []DayReport  `json:"days"`
	Totals state.Totals `json:"totals"`
}

// ClassReport is a size class's requests in the window and misses overall.
type ClassReport struct {
	popular.ClassShare
	Misses int64 `json:"misses_total"`
	// Clients counts the distinct clients that asked in the window, up to
	// state.MaxClients.
	Clients int `json:"clients"`
}

// OriginalReport is an original's thumbnail requests in the window.
type OriginalReport struct {
	Original string `json:"original"`
	Requests int64  `json:"requests"`
	Misses   int64  `json:"misses_total"`
	Direct   int64  `json:"direct_total"`
}

// DayReport is one day of the charts.
type DayReport struct {
	Date string `json:"date"`
	state.Day
	HitRatio float64 `json:"hit_ratio"`
}

// WriteText writes the report as short tables.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	if r.Shard != "" {
		p("shard\t%s\t(the originals whose stem hashes into it; size classes over every record)\n", r.Shard)
	}
	if r.Unchanged {
		p("no new log objects\t\t(since the last run, %s: nothing counted, decided or changed; decisions are made again with the next log object, or --decide-every after the last)\n",
			r.LastRun.Format(time.RFC3339))
		return tw.Flush()
	}
	p("log objects read\t%d\t(%d lines, %d malformed, %d duplicates dropped, %s)\n",
		r.Run.LogObjects, r.Run.Lines, r.Run.Malformed, r.Run.Duplicates, r.Run.Elapsed.Round(time.Millisecond))
	if r.Run.LogObjects == 0 && len(r.Run.Failed) == 0 {
		p("no new log objects\t\t(a local front writes its access log every minute, serve --access-log-interval; S3 delivers a bucket's within hours: run again later)\n")
	}
	if len(r.Run.Failed) > 0 {
		p("log objects unreadable\t%d\t(read again next run)\n", len(r.Run.Failed))
	}
	p("thumbnail requests (%s)\t%d\t(and %d from crawlers: %.1f%% of all, not counted as demand)\n", r.Window, r.Requests, r.Crawler, 100*r.CrawlerShare)
	p("hit ratio\t%.1f%%\t(%d hits, %d misses)\n", 100*r.HitRatio, r.Hits, r.Misses)
	p("misses avoided\t%d\t(pre-generated: %d for hot originals, %d for new uploads; refreshed: %d)\n",
		r.Avoided+r.Rescued, r.Avoided-r.AvoidedNew, r.AvoidedNew, r.Rescued)
	p("waste budget\t%.1f%%\t(of this run's jobs expected unread within %s; budget %.0f%%", 100*r.PlannedUnread, horizonString(), 100*r.MaxUnread)
	if r.OverBudget > 0 {
		p("; %d candidates left out", r.OverBudget)
	}
	p(")\n")
	for _, o := range r.Outcomes {
		p("  past %s jobs\t%d\t(queued in the %s before the last %s: %d unread within %s of queueing, %.1f%%; K %.2f)\n",
			o.Why, o.Matured, r.Window, horizonString(), o.Unread, horizonString(), 100*o.UnreadShare, o.K)
	}
	verb := "queued"
	if r.DryRun {
		verb = "planned (dry run)"
	}
	p("jobs %s\t%d", verb, max(r.JobsQueued, len(r.Jobs)*boolInt(r.DryRun)))
	if r.Refreshes > 0 {
		p("\t(%d of them refreshes)", r.Refreshes)
	}
	if r.JobsCapped > 0 {
		p("\t(%d more over --max-jobs)", r.JobsCapped)
	}
	p("\n")
	if r.RefusedRequests > 0 || r.Impossible > 0 {
		p("refused sizes\t%d\trequests (%d misses overall), not avoidable: refused by --allowed-sizes / --max-dimension", r.RefusedRequests, r.RefusedMisses)
		if r.Impossible > 0 {
			p("; %d jobs dropped as impossible", r.Impossible)
		}
		p("\n")
	}
	p("stale thumbnails\t%d\t(%d deleted, %s freed)\n", len(r.Stale), r.Deleted, bytesString(r.BytesFreed))
	p("thumbnails stored (known)\t%d\t(%s)\n", r.Stored, bytesString(r.StoredBytes))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsize classes (%s)\n", r.Window)
	p("class\trequests\tshare\tmisses (all)\tpopular\n")
	for _, c := range r.Classes {
		pop := ""
		if c.Popular {
			pop = "yes"
		}
		p("%s\t%d\t%.1f%%\t%d\t%s\n", c.Class, c.Requests, 100*c.Share, c.Misses, pop)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntop originals (%s)\n", r.Window)
	p("original\trequests\tmisses (all)\n")
	for _, o := range r.TopOriginals {
		p("%s\t%d\t%d\n", o.Original, o.Requests, o.Misses)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !r.DryRun && len(r.Jobs) > 0 {
		fmt.Fprintf(w, "\njobs queued (the %d most likely read)\n", min(len(r.Jobs), topJobs))
		p("thumbnail\twhy\treads expected\tchance unread\n")
		for _, j := range r.Jobs[:min(len(r.Jobs), topJobs)] {
			p("%s\t%s\t%.1f\t%.0f%%\n", j.Key, j.Why, j.Expected, 100*j.Unread)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if r.DryRun && len(r.Jobs) > 0 {
		fmt.Fprintf(w, "\nplan (dry run)\n")
		for _, j := range r.Jobs {
			verb := "queue"
			if j.Refresh {
				verb = "refresh"
			}
			p("%s\t%s\t%s\n", verb, j.Key, j.Reason)
		}
		for _, s := range r.Stale {
			p("stale\t%s\tlast read %s\n", s.Key, s.LastRead.Format(time.DateOnly))
		}
		return tw.Flush()
	}
	if len(r.Stale) > 0 {
		fmt.Fprintf(w, "\nstale thumbnails\n")
		for _, s := range r.Stale {
			p("%s\t%s\t%s\n", s.Key, s.LastRead.Format(time.DateOnly), s.Outcome)
		}
	}
	return tw.Flush()
}

// horizonString is OutcomeHorizon for people ("7d").
func horizonString() string { return fmt.Sprintf("%dd", int(OutcomeHorizon/(24*time.Hour))) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bytesString formats a byte count for people.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortClass strips the leading underscore of a class for labels.
func shortClass(c string) string { return strings.TrimPrefix(c, "_") }
