package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/atomicfile"
	"github.com/s3thumb/s3thumb/internal/awssetup"
)

// Exit codes of analyze, besides exitOK, exitFailure and exitUsage.
const (
	exitLocked  = 3 // another analyze run holds the lock: nothing was done
	exitPartial = 4 // done, but some log objects could not be read (read again next run)
)

func analyzeCommand() *cli.Command {
	d := analytics.DefaultConfig()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "logs", Usage: "where the access logs are: s3://LOGBUCKET[/PREFIX] or file://DIR (S3 server access logs in either key layout, or CloudFront standard logs; plain or gzip)", Value: "file://./data/.logs"},
		&cli.StringFlag{Name: "state", Value: "file://./data/.s3thumb/analyzer", Usage: "where the analyzer keeps its state and lock: s3://BUCKET[/PREFIX] or file://DIR (created if missing)"},
		&cli.DurationFlag{Name: "window", Value: d.Window, Usage: "how far back requests count for popularity (whole days)"},
		&cli.Float64Flag{Name: "min-share", Value: d.MinShare, Usage: "a size class with at least this share of the thumbnail requests in the window is popular"},
		&cli.Float64Flag{Name: "coverage", Value: d.Coverage, Usage: "the most requested size classes that together have this share of the requests are popular (0: --min-share alone)"},
		&cli.IntFlag{Name: "min-requests", Value: d.MinRequests, Usage: "an original whose thumbnails were requested this often in the window is hot"},
		&cli.IntFlag{Name: "min-clients", Value: d.MinClients, DefaultText: fmt.Sprintf("%d; 1 for a file:// store", d.MinClients),
			Usage: fmt.Sprintf("a size class is popular, and an original hot, only when this many distinct clients (remote IP + user agent) asked in the window (1 to %d); crawlers never count", state.MaxClients)},
		&cli.IntFlag{Name: "client-cap", Value: d.ClientCap, Usage: "requests of one client for one thumbnail on one day that count toward demand (0: all)"},
		&cli.Float64Flag{Name: "min-expected", Value: d.MinExpected, Usage: "make a thumbnail ahead of demand only when it is expected to be requested at least this often in the next window (its original's rate times its class's share)"},
		&cli.Float64Flag{Name: "max-unread", Value: d.MaxUnread, Usage: "waste budget: the share of a run's jobs allowed to stay unread for 7 days, as the analyzer expects from what became of its own past jobs (1: no budget)"},
		&cli.DurationFlag{Name: "new-within", Value: d.NewWithin, Usage: "an original uploaded this recently is new (0: none)"},
		&cli.BoolFlag{Name: "list-new", Usage: "also list --store for new originals (uploads the logs may not show)"},
		&cli.IntFlag{Name: "max-jobs", Value: d.MaxJobs, Usage: "most jobs queued per run"},
		&cli.DurationFlag{Name: "stale-after", Value: d.StaleAfter, Usage: "a thumbnail unread this long is stale"},
		&cli.IntFlag{Name: "expire-days", Value: awssetup.DefaultExpireDays, DefaultText: fmt.Sprintf("%d; 0 for a file:// store", awssetup.DefaultExpireDays),
			Usage: "the bucket's lifecycle rule for thumbnails, as given to setup: thumbnails still read are written again before it expires them (0: no rule)"},
		&cli.BoolFlag{Name: "delete-stale", Usage: "delete stale thumbnails (each verified to carry the thumbnail=yes tag first); without it they are listed"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the plan; queue, delete and record nothing"},
		&cli.IntFlag{Name: "shard", Usage: "this analyzer's share of the originals, 0 to --shards less one (in a Kubernetes Indexed Job, its completion index; in an AWS Batch array job, AWS_BATCH_JOB_ARRAY_INDEX)"},
		&cli.IntFlag{Name: "shards", Value: 1, Usage: "how many analyzers share the originals: each keeps, decides and cleans its share, with its own state and lock under --state; all read every log object and rank the size classes alike"},
		&cli.BoolFlag{Name: "merge-report", Usage: "read nothing and queue nothing: combine the --json reports of the shards of one run, the files given as arguments, into one report (text, --json, --report)"},
		&cli.StringFlag{Name: "as-of", Usage: "run as if it were this time (RFC 3339, or a date for its midnight UTC), to replay archived logs or backtest settings; refused before the state's last run (default: now)"},
		&cli.DurationFlag{Name: "dedupe-window", Value: d.DedupeWindow, Usage: "how long record identities are kept to drop records delivered twice"},
		&cli.DurationFlag{Name: "decide-every", Value: d.DecideEvery, Usage: "a run that finds no new log object sooner than this after the last run reads only the logs' listing and a small cursor, and stops; later, or with other settings, it decides again (stale thumbnails, refreshes, new uploads) (0: every run decides)"},
		&cli.DurationFlag{Name: "lock-ttl", Value: d.LockTTL, Usage: "how long a run's lock holds before another run may take it over"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON instead of tables"},
		&cli.StringFlag{Name: "report", Usage: "also write the report as one self-contained HTML page with charts to this file"},
		&cli.BoolFlag{Name: "progress", Value: true, Usage: "show a progress bar while reading logs, when stderr is a terminal"},
	}
	return &cli.Command{
		Name:      "analyze",
		Usage:     "read access logs: queue popular thumbnails ahead of demand, find stale ones, report",
		ArgsUsage: "[--merge-report SHARD.json...]",
		Description: "Reads the log objects not read before, adds them to the state, queues the popular size classes " +
			"of hot and new originals that do not exist yet, lists (or with --delete-stale deletes) thumbnails nobody " +
			"read for --stale-after, and reports. Exit codes: 0 done, 1 failed, 2 bad usage, 3 another run holds the " +
			"lock, 4 done but some log objects were unreadable.",
		Flags:  append(append(append(flags, policyFlags()...), jobQueueFlags()...), storeFlags()...),
		Action: runAnalyze,
	}
}

func analyzeConfig(c *cli.Context) (analytics.Config, error) {
	cfg := analytics.DefaultConfig()
	cfg.Window = c.Duration("window")
	cfg.MinShare = c.Float64("min-share")
	cfg.Coverage = c.Float64("coverage")
	cfg.MinRequests = c.Int("min-requests")
	cfg.MinClients = c.Int("min-clients")
	cfg.ClientCap = c.Int("client-cap")
	cfg.MinExpected = c.Float64("min-expected")
	cfg.MaxUnread = c.Float64("max-unread")
	cfg.Shard = analytics.Shard{Index: c.Int("shard"), Count: c.Int("shards")}
	cfg.NewWithin = c.Duration("new-within")
	cfg.ListNew = c.Bool("list-new")
	cfg.MaxJobs = c.Int("max-jobs")
	cfg.StaleAfter = c.Duration("stale-after")
	cfg.ExpireDays = c.Int("expire-days")
	if local, err := defaultsFor(c); err != nil {
		return cfg, err
	} else if local.local {
		if !c.IsSet("expire-days") {
			cfg.ExpireDays = local.expireDays // a directory has no lifecycle rule
		}
		if !c.IsSet("min-clients") {
			cfg.MinClients = local.minClients
		}
	}
	cfg.DeleteStale = c.Bool("delete-stale")
	cfg.DryRun = c.Bool("dry-run")
	cfg.DedupeWindow = c.Duration("dedupe-window")
	cfg.LockTTL = c.Duration("lock-ttl")
	cfg.DecideEvery = c.Duration("decide-every")
	if v := c.String("as-of"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, v); err != nil {
				return cfg, usagef("--as-of %q: want a time such as 2026-03-01T12:00:00Z or a date such as 2026-03-01", v)
			}
		}
		cfg.AsOf = t
	}
	pol, exts, err := policyConfig(c)
	if err != nil {
		return cfg, err
	}
	cfg.Policy, cfg.SourceExts = pol, exts
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func runAnalyze(c *cli.Context) error {
	if c.Bool("merge-report") {
		return mergeReports(c)
	}
	if c.Args().Len() > 0 {
		return usagef("analyze takes no arguments but with --merge-report (got %q)", c.Args().First())
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg, err := analyzeConfig(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	logs, err := openURL(ctx, c, "logs", false)
	if err != nil {
		return err
	}
	state, err := openURL(ctx, c, "state", true)
	if err != nil {
		return err
	}
	bucket, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	deps := analytics.Deps{Logs: logs, State: state, Bucket: bucket, Log: log}
	if !cfg.DryRun {
		q, err := openJobQueue(ctx, c, log, false)
		if err != nil {
			return err
		}
		deps.Queue = q
	}
	if f, ok := c.App.ErrWriter.(*os.File); ok && c.Bool("progress") && term.IsTerminal(int(f.Fd())) {
		deps.Progress = &progress{w: f}
	}
	a, err := analytics.New(cfg, deps)
	if err != nil {
		return usageError{err}
	}
	rep, runErr := a.Run(ctx)
	switch {
	case errors.Is(runErr, analytics.ErrLocked):
		return cli.Exit("analyze: "+runErr.Error(), exitLocked)
	case errors.Is(runErr, analytics.ErrAsOf):
		return usageError{runErr}
	}
	if rep == nil {
		return runErr
	}
	if err := writeReport(c, rep); err != nil {
		return err
	}
	if errors.Is(runErr, analytics.ErrPartial) {
		return cli.Exit("analyze: "+runErr.Error(), exitPartial)
	}
	return runErr
}

// mergeReports combines the shards' reports named by the arguments.
func mergeReports(c *cli.Context) error {
	if c.Args().Len() == 0 {
		return usagef("--merge-report: name the shards' --json report files")
	}
	var reps []*report.Report
	for _, path := range c.Args().Slice() {
		b, err := os.ReadFile(path)
		if err != nil {
			return usagef("--merge-report: %w", err)
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return usagef("--merge-report: %s: not a report of analyze --json: %w", path, err)
		}
		reps = append(reps, &r)
	}
	merged, err := report.Merge(reps)
	if err != nil {
		return usageError{err}
	}
	return writeReport(c, merged)
}

func writeReport(c *cli.Context, rep *report.Report) error {
	// An unchanged run leaves the last run's page, which still tells the
	// truth.
	if path := c.String("report"); path != "" && !rep.Unchanged {
		if err := atomicfile.Write(path, "", 0o644, rep.WriteHTML); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(c.App.Writer)
}

// progress shows the logs read on a terminal.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	lines int64
	start time.Time
}

func (p *progress) Start(objects int, bytes int64) {
	p.start = time.Now()
	p.bar = progressbar.NewOptions64(bytes,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("%d log objects", objects)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *progress) Add(bytes, lines int64) {
	p.lines += lines
	rate := float64(p.lines) / max(time.Since(p.start).Seconds(), 1e-3)
	p.bar.Describe(fmt.Sprintf("%d lines, %.0f lines/s", p.lines, rate))
	_ = p.bar.Add64(bytes)
}

func (p *progress) Finish() { _ = p.bar.Finish() }
