package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/s3thumb/s3thumb/internal/backfill"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/watch"
)

// Exit codes of enqueue, besides exitOK, exitFailure and exitUsage.
const (
	exitInterrupted = 3 // stopped by a signal: resume with the --start-after printed
	exitRejected    = 4 // done, but some keys given were invalid or refused by the size policy
)

const enqueueDescription = `Lists the originals under --prefix in --store (keys that are thumbnail keys, and keys
without an image extension, are skipped), builds the thumbnail key of every --sizes and --formats, checks
each against the size policy (--allowed-sizes, --max-dimension: the workers' flags), and queues the jobs in
batches of 10. With KEY arguments or --from-file, queues those keys instead: thumbnail keys as they are,
original keys expanded with --sizes and --formats.

Shows a progress bar when stdout is a terminal, else logs progress every --progress-interval; ends with
a summary (with --dry-run the keys go to stdout and the summary to stderr). When interrupted, it finishes
the batches being sent and prints the --start-after KEY to resume from.

With --stale-only, for a bucket that sends no event notifications (or a store changed while nothing
watched it), it lists the thumbnails under --prefix instead, and queues, for each original whose stored
thumbnails were not made of it (replaced since: their recorded s3thumb-source-etag, or for thumbnails
that record none their date, says so; or deleted since), the S3 event notification a replace
(ObjectCreated:Put) or a delete (ObjectRemoved:Delete) would have sent: one per original. Workers answer
it as they answer S3's own, remaking or deleting those thumbnails. Keys named like thumbnails without
the thumbnail=yes tag are originals and left alone. The summary counts the thumbnails checked and stale
and the originals queued and gone.

Exit codes: 0 every job queued; 1 failed (the queue or the store failed; the resume key is printed);
2 bad usage; 3 interrupted (resume with the --start-after printed); 4 done, but some keys given were
invalid or refused by the size policy.`

func enqueueCommand() *cli.Command {
	d := backfill.DefaultConfig()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "prefix", Usage: "list only the originals whose keys start with this, e.g. photos/"},
		&cli.StringFlag{Name: "sizes", Usage: "sizes to make of every original, as written in thumbnail keys: 200x200,400x_fit,x300_fill@2x"},
		&cli.StringFlag{Name: "formats", Usage: "thumbnail formats to make: jpg, jpeg, png, webp, avif (default: each original's own)"},
		&cli.StringFlag{Name: "since", Usage: "only originals last modified on or after this date: 2026-01-02 or 2026-01-02T15:04:05Z"},
		&cli.BoolFlag{Name: "skip-existing", Usage: "look each thumbnail up first and queue only the missing ones"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the thumbnail keys, one a line, instead of queueing them"},
		&cli.Float64Flag{Name: "rate", Usage: "most jobs queued per second; 0: no limit"},
		&cli.IntFlag{Name: "send-concurrency", Value: d.Concurrency, Usage: "batches of 10 jobs being sent at once"},
		&cli.StringFlag{Name: "from-file", Usage: "queue the keys in this file, one a line (- for stdin), instead of listing"},
		&cli.StringFlag{Name: "start-after", Usage: "resume: begin after this key (printed by an interrupted or failed run)"},
		&cli.StringFlag{Name: "reason", Value: d.Reason, Usage: "why the jobs are queued, written into each job"},
		&cli.BoolFlag{Name: "stale-only", Usage: "list the thumbnails under --prefix and queue, per original replaced or deleted since its thumbnails were made, the S3 event notification S3 would have sent, so workers remake or delete them (for buckets without event notifications)"},
		&cli.DurationFlag{Name: "progress-interval", Value: 10 * time.Second, Usage: "how often progress is logged when stdout is not a terminal"},
	}
	flags = append(flags, jobQueueFlags()...)
	flags = append(flags, storeFlags()...)
	flags = append(flags, policyFlags()...)
	return &cli.Command{
		Name:        "enqueue",
		Usage:       "queue thumbnails to be made ahead of demand (a backfill)",
		ArgsUsage:   "[KEY...]",
		Description: enqueueDescription,
		Flags:       flags,
		Action:      runEnqueue,
	}
}

func runEnqueue(c *cli.Context) error {
	ctx := c.Context
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg, err := backfillConfig(c)
	if err != nil {
		return err
	}
	explicit := c.Args().Present() || c.IsSet("from-file")
	stale := c.Bool("stale-only")
	switch {
	case stale && (explicit || c.IsSet("sizes") || c.IsSet("formats") || c.IsSet("since") || c.IsSet("skip-existing") || c.IsSet("reason")):
		return usagef("--stale-only lists the thumbnails stored and queues their originals' events: --sizes, --formats, --since, --skip-existing, --reason and keys given do not apply")
	case c.Args().Present() && c.IsSet("from-file"):
		return usagef("give keys as arguments or with --from-file, not both")
	case !stale && !explicit && len(cfg.Sizes) == 0:
		return usagef("--sizes is required to list originals (or give thumbnail keys as arguments or with --from-file)")
	case explicit && (c.IsSet("prefix") || c.IsSet("since")):
		return usagef("--prefix and --since choose originals to list; they do not apply to keys given")
	case c.Duration("progress-interval") <= 0:
		return usagef("--progress-interval %v: must be positive", c.Duration("progress-interval"))
	}
	if cfg.DryRun {
		cfg.Out = c.App.Writer
	}

	var q queue.Queue
	if !cfg.DryRun {
		if q, err = openJobQueue(ctx, c, log, false); err != nil {
			return err
		}
	}
	if stale {
		if cfg.EventBucket, cfg.EventKeyPrefix, err = eventBucket(c); err != nil {
			return err
		}
	}
	var st backfill.Store
	if !explicit || cfg.SkipExisting {
		if st, err = openStore(ctx, c); err != nil {
			return err
		}
	}
	b, err := backfill.New(cfg, st, q, log)
	if err != nil {
		return usageError{err}
	}
	keys, closeKeys, err := givenKeys(c)
	if err != nil {
		return err
	}
	defer closeKeys()

	stopProgress := showProgress(c, b, log, cfg.DryRun, stale)
	var res backfill.Result
	switch {
	case stale:
		res, err = b.Stale(ctx)
	case explicit:
		res, err = b.FromKeys(ctx, keys)
	default:
		res, err = b.FromStore(ctx)
	}
	stopProgress()

	summary := c.App.Writer
	if cfg.DryRun {
		summary = c.App.ErrWriter
	}
	printSummary(summary, res.Counts, cfg.DryRun, stale)
	resume := "resume with: s3thumb enqueue ... --start-after " + shellQuote(res.ResumeAfter)
	if res.ResumeAfter == "" {
		resume = "no key has had all its jobs queued yet: run the same command again"
	}
	switch {
	case errors.Is(err, backfill.ErrInterrupted):
		return cli.Exit("enqueue: interrupted; "+resume, exitInterrupted)
	case err != nil:
		return fmt.Errorf("%w; %s", err, resume)
	case explicit && res.Rejected > 0:
		return cli.Exit(fmt.Sprintf("enqueue: %d of the keys given were not queued (see the log)", res.Rejected), exitRejected)
	}
	return nil
}

// backfillConfig reads the backfill flags, and the policy and source
// extensions of the thumbnail flags.
func backfillConfig(c *cli.Context) (backfill.Config, error) {
	cfg := backfill.DefaultConfig()
	var err error
	if cfg.Sizes, err = backfill.ParseSizes(c.String("sizes")); err != nil {
		return cfg, usagef("--sizes: %w", err)
	}
	if cfg.Formats, err = backfill.ParseFormats(c.String("formats")); err != nil {
		return cfg, usagef("--formats: %w", err)
	}
	if s := c.String("since"); s != "" {
		if cfg.Since, err = backfill.ParseSince(s); err != nil {
			return cfg, usagef("--since: %w", err)
		}
	}
	if cfg.Policy, cfg.SourceExts, err = policyConfig(c); err != nil {
		return cfg, err
	}
	cfg.Prefix = c.String("prefix")
	cfg.StartAfter = c.String("start-after")
	cfg.SkipExisting = c.Bool("skip-existing")
	cfg.DryRun = c.Bool("dry-run")
	cfg.Rate = c.Float64("rate")
	cfg.Concurrency = c.Int("send-concurrency")
	cfg.Reason = c.String("reason")
	cfg.Out = io.Discard // replaced by stdout for a dry run
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// eventBucket is how the S3 event notifications of --stale-only name the
// store, as S3 names it in its own: the bucket and the prefix of an
// s3://BUCKET/PREFIX store (workers take event keys relative to it), and
// for a directory the bucket its watcher's events name.
func eventBucket(c *cli.Context) (bucket, prefix string, err error) {
	loc, err := store.ParseURL(c.String("store"))
	if err != nil {
		return "", "", usagef("--store: %w", err)
	}
	if loc.Scheme == "s3" {
		return loc.Bucket, loc.Prefix, nil
	}
	return watch.Bucket, "", nil
}

// givenKeys yields the keys given as arguments or in --from-file.
func givenKeys(c *cli.Context) (iter.Seq2[string, error], func(), error) {
	if c.Args().Present() {
		return func(yield func(string, error) bool) {
			for _, k := range c.Args().Slice() {
				if !yield(k, nil) {
					return
				}
			}
		}, func() {}, nil
	}
	var r io.Reader
	closeFn := func() {}
	switch name := c.String("from-file"); name {
	case "":
		return nil, closeFn, nil
	case "-":
		r = c.App.Reader
	default:
		f, err := os.Open(name)
		if err != nil {
			return nil, closeFn, usagef("--from-file: %w", err)
		}
		r, closeFn = f, func() { f.Close() }
	}
	return func(yield func(string, error) bool) {
		lines := bufio.NewScanner(r)
		lines.Buffer(make([]byte, 0, 4096), 64<<10)
		for lines.Scan() {
			if !yield(lines.Text(), nil) {
				return
			}
		}
		if err := lines.Err(); err != nil {
			yield("", fmt.Errorf("read --from-file: %w", err))
		}
	}, closeFn, nil
}

// showProgress shows a progress bar on stdout when it is a terminal (and
// not carrying a dry run's keys), else logs progress periodically. The
// returned function stops it.
func showProgress(c *cli.Context, b *backfill.Backfill, log *slog.Logger, dryRun, stale bool) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f, isFile := c.App.Writer.(*os.File)
	if !dryRun && isFile && term.IsTerminal(int(f.Fd())) {
		go func() { defer close(done); runBar(ctx, f, b.Counts, stale) }()
	} else {
		go func() { defer close(done); logProgress(ctx, log, b.Counts, c.Duration("progress-interval"), stale) }()
	}
	return func() { cancel(); <-done }
}

// runBar draws the counts as a progress bar until ctx ends.
func runBar(ctx context.Context, w io.Writer, counts func() backfill.Counts, stale bool) {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("queueing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("jobs"),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		n := counts()
		if stale {
			bar.Describe(fmt.Sprintf("listed %d, checked %d thumbnails, %d stale; originals queued", n.Listed, n.Checked, n.Stale))
		} else {
			bar.Describe(fmt.Sprintf("listed %d, skipped %d existing, %d rejected; queued", n.Listed, n.Existing, n.Rejected))
		}
		bar.Set64(n.Queued)
		select {
		case <-ctx.Done():
			bar.Finish()
			return
		case <-t.C:
		}
	}
}

// logProgress logs the counts and the rate every interval until ctx ends.
func logProgress(ctx context.Context, log *slog.Logger, counts func() backfill.Counts, interval time.Duration, stale bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := counts()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := counts()
		if stale {
			log.Info("enqueue progress", "listed", n.Listed, "checked", n.Checked, "stale", n.Stale, "untagged", n.Untagged,
				"originals_queued", n.Queued, "gone", n.Gone)
			continue
		}
		log.Info("enqueue progress", "listed", n.Listed, "queued", n.Queued, "skipped_existing", n.Existing,
			"rejected", n.Rejected, "jobs_per_second", float64(n.Queued-last.Queued)/interval.Seconds())
		last = n
	}
}

// printSummary writes the final counts.
func printSummary(w io.Writer, n backfill.Counts, dryRun, stale bool) {
	queued := "queued"
	if dryRun {
		queued = "would queue (dry run)"
	}
	type row struct {
		label string
		n     int64
	}
	rows := []row{
		{"listed", n.Listed},
		{"not originals", n.Ignored},
		{queued, n.Queued},
		{"skipped existing", n.Existing},
		{"rejected", n.Rejected},
	}
	if stale {
		if !dryRun {
			queued = "originals queued"
		}
		rows = []row{
			{"listed", n.Listed},
			{"thumbnails checked", n.Checked},
			{"stale", n.Stale},
			{"untagged (originals)", n.Untagged},
			{queued, n.Queued},
			{"gone (queued removed)", n.Gone},
		}
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-22s %d\n", r.label, r.n)
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
