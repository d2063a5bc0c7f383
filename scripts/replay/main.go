// Command replay measures whether pre-generation pays, on the log
// generator's workload. Day by day it lets the generator play a day of
// traffic, runs the analyzer on all the logs so far, and has what the
// analyzer queued made at once: the jobs are marked as made through the
// generator's Create hook (the question is the policy's quality, not the
// resize speed, so no image is made). It then reports, for each next day,
//
//   - the share of first-request misses avoided: first reads of
//     pre-generated thumbnails, over those plus the misses that remained;
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
	"github.com/s3thumb/s3thumb/analytics/loggen"
	"github.com/s3thumb/s3thumb/internal/store"
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
	// Misses and Avoided are the day's misses and first reads of
	// pre-generated thumbnails; AvoidedShare is Avoided/(Avoided+Misses).
	Misses       int64   `json:"misses"`
	Avoided      int64   `json:"avoided"`
	AvoidedShare float64 `json:"avoided_share"`
	// Queued is how many jobs the analyzer queued after the day.
	Queued int `json:"queued"`
	// Made is how many of them made a new thumbnail.
	Made int64 `json:"made"`
	// UnreadAfter7d is how many of the thumbnails made 7 days before are
	// still unread.
	UnreadAfter7d int64 `json:"unread_after_7d"`
}

// Result is the replay's outcome.
type Result struct {
	Days []Day `json:"days"`
	// AvoidedShare is over every day after the first.
	AvoidedShare float64 `json:"avoided_share"`
	// UnreadShare is over the thumbnails made at least 7 days before the
	// end.
	UnreadShare float64 `json:"unread_share"`
	// Made and Unread are its parts.
	Made   int64 `json:"made_7d_before_end"`
	Unread int64 `json:"unread"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	gcfg := loggen.DefaultConfig()
	acfg := analytics.DefaultConfig()
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Uint64Var(&gcfg.Seed, "seed", gcfg.Seed, "generator seed")
	fs.IntVar(&gcfg.Days, "days", gcfg.Days, "days to replay")
	fs.IntVar(&gcfg.RequestsPerDay, "requests-per-day", gcfg.RequestsPerDay, "client requests per day")
	fs.Float64Var(&acfg.MinShare, "min-share", acfg.MinShare, "analyzer --min-share")
	fs.Float64Var(&acfg.Coverage, "coverage", acfg.Coverage, "analyzer --coverage")
	fs.IntVar(&acfg.MinRequests, "min-requests", acfg.MinRequests, "analyzer --min-requests")
	fs.Float64Var(&acfg.MinExpected, "min-expected", acfg.MinExpected, "analyzer --min-expected")
	fs.DurationVar(&acfg.Window, "window", acfg.Window, "analyzer --window")
	fs.DurationVar(&acfg.NewWithin, "new-within", acfg.NewWithin, "analyzer --new-within")
	fs.IntVar(&acfg.MaxJobs, "max-jobs", acfg.MaxJobs, "analyzer --max-jobs")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := replay(ctx, gcfg, acfg)
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
func replay(ctx context.Context, gcfg loggen.Config, acfg analytics.Config) (*Result, error) {
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
	logs := &memLogs{}
	bucket := &genBucket{g: g}
	q := &marker{g: g}
	a, err := analytics.New(acfg, analytics.Deps{
		Logs: logs, State: state, Bucket: bucket, Queue: q,
		Now: g.Now,
	})
	if err != nil {
		return nil, err
	}
	res := &Result{}
	var made []int64 // new thumbnails made after each day
	for day := 0; g.DaysLeft() > 0; day++ {
		before := g.Stats()
		if err := g.Day(ctx, logs); err != nil {
			return nil, err
		}
		after := g.Stats()
		d := Day{
			Date:    g.Now().Add(-time.Hour).Format(time.DateOnly),
			Misses:  after.Misses - before.Misses,
			Avoided: after.PregenFirstReads - before.PregenFirstReads,
		}
		if d.Misses+d.Avoided > 0 {
			d.AvoidedShare = float64(d.Avoided) / float64(d.Misses+d.Avoided)
		}
		if day >= 7 {
			// Made after day-7, so exactly 7 days old now.
			d.UnreadAfter7d = int64(g.PregenUnread(7*24*time.Hour) - g.PregenUnread(8*24*time.Hour))
			res.Made += made[day-7]
			res.Unread += d.UnreadAfter7d
		}
		q.jobs = 0
		created := after.PregenCreated
		if _, err := a.Run(ctx); err != nil {
			return nil, fmt.Errorf("analyzer after day %d: %w", day+1, err)
		}
		d.Queued = q.jobs
		d.Made = g.Stats().PregenCreated - created
		made = append(made, d.Made)
		res.Days = append(res.Days, d)
	}
	var avoided, missed int64
	for _, d := range res.Days[1:] {
		avoided += d.Avoided
		missed += d.Misses
	}
	if avoided+missed > 0 {
		res.AvoidedShare = float64(avoided) / float64(avoided+missed)
	}
	if res.Made > 0 {
		res.UnreadShare = float64(res.Unread) / float64(res.Made)
	}
	return res, nil
}

func (r *Result) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tmisses\tavoided\tavoided share\tqueued after\tmade\tunread 7d later\t")
	for _, d := range r.Days {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t\n", d.Date, d.Misses, d.Avoided, 100*d.AvoidedShare, d.Queued, d.Made, d.UnreadAfter7d)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nfirst-request misses avoided (days 2+): %.1f%%\npre-generated thumbnails unread within 7 days: %.1f%% (%d of %d)\n",
		100*r.AvoidedShare, 100*r.UnreadShare, r.Unread, r.Made)
	return err
}
