// Command replay measures whether pre-generation pays, on the log
// generator's workload. Day by day it lets the generator play a day of
// traffic, runs the analyzer on all the logs so far, and has what the
// analyzer queued made at once: the jobs are marked as made through the
// generator's Create hook (the question is the policy's quality, not the
// resize speed, so no image is made). It then reports, for each next day,
//
//   - the share of first-request misses avoided: first reads of
//     pre-generated thumbnails and first reads of refreshed thumbnails after
//     the lifecycle rule would have expired them, over those plus the
//     misses that remained;
//
//   - the share of pre-generated thumbnails never read within 7 days of
//     being made.
//
//     go run ./scripts/replay                 # the generator's default workload
//     go run ./scripts/replay --json          # the figures as JSON
//     go run ./scripts/replay --min-share 0.05 --min-requests 30
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/scripts/internal/workload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Day is one day of the replay.
type Day struct {
	Date string `json:"date"`
	// Misses and Avoided are the day's misses and the misses avoided (first
	// reads of pre-generated thumbnails, and of refreshed ones after they
	// would have expired); AvoidedShare is Avoided/(Avoided+Misses).
	Misses       int64   `json:"misses"`
	Avoided      int64   `json:"avoided"`
	AvoidedShare float64 `json:"avoided_share"`
	// StrayMisses and MissingMisses are the misses on sizes drawn at random
	// (refused by --allowed-sizes in production, not avoidable) and on
	// originals that do not exist; AvoidedShare is over the others, the
	// sizes pages show.
	StrayMisses   int64 `json:"stray_misses"`
	MissingMisses int64 `json:"missing_misses"`
	// Queued is how many jobs the analyzer queued in the day's runs.
	Queued int `json:"queued"`
	// Made is how many new thumbnails workers made in the day (queued by
	// the analyzer, or for an upload event), Refreshed how many they wrote
	// again.
	Made      int64 `json:"made"`
	Refreshed int64 `json:"refreshed"`
	// UnreadAfter7d is how many of the thumbnails made 7 days before are
	// still unread.
	UnreadAfter7d int64 `json:"unread_after_7d"`
	// Counted is what the analyzer itself counted of the day's misses
	// avoided, by the logs alone (its report's days, after the last run):
	// first reads of pre-generated thumbnails, and reads of refreshed ones
	// after they would have expired.
	CountedPregen  int64 `json:"counted_pregen"`
	CountedRescued int64 `json:"counted_rescued"`
}

// Result is the replay's outcome.
type Result struct {
	Days []Day `json:"days"`
	// Every is how often the analyzer ran; UploadEvents whether workers made
	// the popular classes of each upload as S3 reported it.
	Every        string `json:"every"`
	UploadEvents bool   `json:"upload_events"`
	// AvoidedShare is over every day after the first; AvoidedAfterWindow
	// over the days after the analyzer's first full window, when it has
	// a window of history to decide from.
	AvoidedShare       float64 `json:"avoided_share"`
	AvoidedAfterWindow float64 `json:"avoided_after_window"`
	// UnreadShare is over the thumbnails made at least 7 days before the
	// end.
	UnreadShare float64 `json:"unread_share"`
	// Made and Unread are its parts.
	Made   int64 `json:"made_7d_before_end"`
	Unread int64 `json:"unread"`
	// Impossible lists the jobs a worker could not have made (at most
	// ten; ImpossibleJobs counts them all).
	ImpossibleJobs int      `json:"impossible_jobs"`
	Impossible     []string `json:"impossible,omitempty"`
	// Stray, Missing and Bot are the misses on sizes drawn at random, on
	// originals that do not exist, and the crawlers' requests, all days.
	StrayMisses   int64 `json:"stray_misses"`
	MissingMisses int64 `json:"missing_misses"`
	BotRequests   int64 `json:"bot_requests"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	gcfg := loggen.DefaultConfig()
	acfg := analytics.DefaultConfig()
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	workload.Flags(fs, &gcfg) // --expire-days is the analyzer's too
	fs.Float64Var(&acfg.MinShare, "min-share", acfg.MinShare, "analyzer --min-share")
	fs.Float64Var(&acfg.Coverage, "coverage", acfg.Coverage, "analyzer --coverage")
	fs.IntVar(&acfg.MinRequests, "min-requests", acfg.MinRequests, "analyzer --min-requests")
	fs.Float64Var(&acfg.MinExpected, "min-expected", acfg.MinExpected, "analyzer --min-expected")
	fs.DurationVar(&acfg.Window, "window", acfg.Window, "analyzer --window")
	fs.DurationVar(&acfg.NewWithin, "new-within", acfg.NewWithin, "analyzer --new-within")
	fs.IntVar(&acfg.MaxJobs, "max-jobs", acfg.MaxJobs, "analyzer --max-jobs")
	fs.Float64Var(&acfg.MaxUnread, "max-unread", acfg.MaxUnread, "analyzer --max-unread")
	fs.IntVar(&acfg.MinClients, "min-clients", acfg.MinClients, "analyzer --min-clients")
	uploadEvents := fs.Bool("upload-events", true, "model S3 event notifications of uploads on the queue: workers make a new original's published popular classes at once (work --state)")
	every := fs.Duration("every", time.Hour, "how often the analyzer runs: whole hours that divide a day (1h as the README's cron entry; 24h for a daily run)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *every < time.Hour || *every%time.Hour != 0 || 24*time.Hour%*every != 0 {
		return fmt.Errorf("--every %v: want whole hours that divide a day (1h, 2h, 3h, 4h, 6h, 8h, 12h or 24h)", *every)
	}
	acfg.ExpireDays = gcfg.ExpireDays // the operator tells the analyzer the bucket's rule
	res, err := replay(ctx, gcfg, acfg, *every, *uploadEvents)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.write(stdout)
}

// replay plays the workload and measures.
func replay(ctx context.Context, gcfg loggen.Config, acfg analytics.Config, every time.Duration, uploadEvents bool) (*Result, error) {
	g, err := loggen.New(gcfg)
	if err != nil {
		return nil, err
	}
	stateDir, err := os.MkdirTemp("", "replay-state-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stateDir)
	state, err := store.NewFile(stateDir)
	if err != nil {
		return nil, err
	}
	defer state.Close()
	logs := &memLogs{now: g.Now}
	bucket := &genBucket{g: g}
	q := &marker{g: g, policy: acfg.Policy, sourceExts: acfg.SourceExts}
	a, err := analytics.New(acfg, analytics.Deps{
		Logs: logs, State: state, Bucket: bucket, Queue: q,
		Now: g.Now,
	})
	if err != nil {
		return nil, err
	}
	res := &Result{Every: every.String(), UploadEvents: uploadEvents}
	var classes []string // as the last run published them
	if uploadEvents {
		g.OnUpload(func(key string) {
			for _, c := range classes {
				class, err := thumbkey.ParseClass(c)
				if err != nil {
					continue // popular.Read checked them
				}
				if k, err := class.KeyFor(key); err == nil && !g.Exists(k.String()) {
					g.Create(k.String())
				}
			}
		})
	}
	var made []int64 // new thumbnails workers made each day
	var last *report.Report
	for day := 0; g.DaysLeft() > 0; day++ {
		before := g.Stats()
		d := Day{Date: g.Now().Format(time.DateOnly)}
		for hour := 1; hour <= 24; hour++ {
			if err := g.Hour(ctx, logs); err != nil {
				return nil, err
			}
			if hour%int(every/time.Hour) != 0 {
				continue
			}
			if hour == 24 && day >= 7 {
				// Made in the runs of day-7, so 7 to 8 days old now.
				d.UnreadAfter7d = int64(g.PregenUnread(7*24*time.Hour) - g.PregenUnread(8*24*time.Hour))
				res.Made += made[day-7]
				res.Unread += d.UnreadAfter7d
			}
			q.jobs = 0
			if last, err = a.Run(ctx); err != nil {
				return nil, fmt.Errorf("analyzer at %s: %w", g.Now().Format(time.DateTime), err)
			}
			d.Queued += q.jobs
			if classes, err = popular.Read(ctx, state); err != nil {
				return nil, err
			}
		}
		after := g.Stats()
		d.Made = after.PregenCreated - before.PregenCreated
		d.Refreshed = after.Refreshed - before.Refreshed
		d.StrayMisses = after.StrayMisses - before.StrayMisses
		d.MissingMisses = after.MissingMisses - before.MissingMisses
		d.Misses = after.Misses - before.Misses - d.StrayMisses - d.MissingMisses
		d.Avoided = after.PregenFirstReads + after.RefreshedReads - before.PregenFirstReads - before.RefreshedReads
		if d.Misses+d.Avoided > 0 {
			d.AvoidedShare = float64(d.Avoided) / float64(d.Misses+d.Avoided)
		}
		made = append(made, d.Made)
		res.Days = append(res.Days, d)
	}
	if last != nil {
		counted := map[string]report.DayReport{}
		for _, d := range last.Days {
			counted[d.Date] = d
		}
		for i := range res.Days {
			c := counted[res.Days[i].Date]
			res.Days[i].CountedPregen, res.Days[i].CountedRescued = c.Avoided, c.Rescued
		}
	}
	st := g.Stats()
	res.StrayMisses, res.MissingMisses, res.BotRequests = st.StrayMisses, st.MissingMisses, st.BotRequests
	res.ImpossibleJobs = len(q.impossible)
	res.Impossible = q.impossible[:min(10, len(q.impossible))]
	res.AvoidedShare = avoidedShare(res.Days[1:])
	if window := int(acfg.Window / (24 * time.Hour)); len(res.Days) > window {
		res.AvoidedAfterWindow = avoidedShare(res.Days[window:])
	}
	if res.Made > 0 {
		res.UnreadShare = float64(res.Unread) / float64(res.Made)
	}
	return res, nil
}

// avoidedShare is the share of first-request misses avoided over days.
func avoidedShare(days []Day) float64 {
	var avoided, missed int64
	for _, d := range days {
		avoided += d.Avoided
		missed += d.Misses
	}
	if avoided+missed == 0 {
		return 0
	}
	return float64(avoided) / float64(avoided+missed)
}

func (r *Result) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tmisses (page sizes)\tavoided\tavoided share\tqueued\tmade\trefreshed\tunread 7d later\tanalyzer's count: pre-generated\trefreshed\t")
	for _, d := range r.Days {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Date, d.Misses, d.Avoided, 100*d.AvoidedShare, d.Queued, d.Made, d.Refreshed, d.UnreadAfter7d,
			d.CountedPregen, d.CountedRescued)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nanalyzer run every %s, upload events %v\nfirst-request misses avoided on the sizes pages show (days 2+): %.1f%%\n"+
		"first-request misses avoided (after the first window): %.1f%%\npre-generated thumbnails unread within 7 days: %.1f%% (%d of %d)\n"+
		"impossible jobs: %d %q\nnot avoidable: %d misses on sizes drawn at random (refuse them with --allowed-sizes), %d on originals that do not exist; %d crawler requests\n",
		r.Every, r.UploadEvents, 100*r.AvoidedShare, 100*r.AvoidedAfterWindow, 100*r.UnreadShare, r.Unread, r.Made,
		r.ImpossibleJobs, r.Impossible, r.StrayMisses, r.MissingMisses, r.BotRequests)
	return err
}
