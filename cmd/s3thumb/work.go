package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"

	"github.com/s3thumb/s3thumb/internal/cdn"
	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/worker"
)

const workDescription = `Receives thumbnail jobs from --queue in batches and makes each with the
same key grammar, size policy and resize core as the responder, writing it with the tag, storage class
and If-None-Match. A thumbnail that exists already is skipped. A job that can never succeed (malformed
message, size not allowed, original missing, too large or corrupt) is removed with a log line and a
counter; malformed messages go to the dead-letter queue (SQS) or dead/ folder (file queue) at once.
Other failures (store errors, timeouts) leave the job for redelivery after a backoff that doubles with
each delivery, until the queue's redrive policy (SQS) or --max-receives (file queue) sets it aside.
Running jobs extend their visibility. On SIGTERM or Ctrl-C the worker stops receiving, finishes the
jobs in flight (up to --shutdown-timeout), makes jobs it had not started visible again, and exits 0.
S3 event notifications (s3:ObjectCreated:*) sent to the same queue make the new original's popular
size classes at once, as the analyzer last published them in --state.`

func workCommand() *cli.Command {
	d := worker.DefaultConfig()
	flags := []cli.Flag{
		&cli.IntFlag{Name: "concurrency", Value: d.Concurrency, Usage: "jobs run at once (more than --max-concurrent overlaps store reads and writes with resizing)"},
		&cli.IntFlag{Name: "max-concurrent", Value: runtime.NumCPU(), Usage: "resizes that may run at once; other jobs in flight wait for a slot"},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: d.ShutdownGrace, Usage: "on SIGTERM, how long jobs in flight may take to finish; jobs still running then are made visible again"},
		&cli.StringFlag{Name: "metrics-listen", Usage: "address to serve /metrics and /healthz on, e.g. 127.0.0.1:9090 (default: none)"},
	}
	flags = append(flags, jobFlags()...)
	flags = append(flags, jobQueueFlags()...)
	flags = append(flags, consumerFlags()...)
	flags = append(flags, storeFlags()...)
	flags = append(flags, thumbnailFlags()...)
	return &cli.Command{
		Name:        "work",
		Usage:       "make thumbnails ahead of demand: run the jobs on the queue",
		Description: workDescription,
		Flags:       flags,
		Action:      runWork,
	}
}

func runWork(c *cli.Context) error {
	ctx := c.Context
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg, err := workerConfig(ctx, c, c.Int("concurrency"))
	if err != nil {
		return err
	}
	tcfg, err := thumbnailConfig(c)
	if err != nil {
		return err
	}
	if !tcfg.StoreBack {
		return usagef("--store-back=false: a worker exists to store thumbnails")
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	vips, err := imaging.New(imagingConfig(c))
	if err != nil {
		return usageError{err}
	}
	if c.Int("max-concurrent") < 1 {
		return usagef("--max-concurrent %d: must be at least 1", c.Int("max-concurrent"))
	}
	// Every job in flight has a place in the gate's queue: a worker waits
	// for a slot, it never sheds.
	gate := thumbnail.NewLimiter(c.Int("max-concurrent"), cfg.Concurrency, int64(c.Int("max-memory"))<<20)
	order, err := thumbnail.ParseOrder(c.String("queue-order"))
	if err != nil {
		return usageError{fmt.Errorf("--queue-order: %w", err)}
	}
	gate.SetOrder(order, c.Float64("queue-ageing"))
	maker, err := thumbnail.NewMaker(st, vips, gate, tcfg, log)
	if err != nil {
		return usageError{err}
	}
	q, err := openJobQueue(ctx, c, log, true)
	if err != nil {
		return err
	}
	reg := processRegistry(vips)
	w, err := worker.New(cfg, q, maker, log, reg)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.Run(gctx) })
	if addr := c.String("metrics-listen"); addr != "" {
		g.Go(func() error { return listenAndServe(gctx, log, addr, workerHandler(reg, w), 5*time.Second, nil) })
	}
	return g.Wait()
}

// classesTTL is how often a worker reads the analyzer's popular classes
// again.
const classesTTL = 5 * time.Minute

// jobFlags say how jobs are run, for work and for serve --workers alike.
func jobFlags() []cli.Flag {
	d := worker.DefaultConfig()
	return []cli.Flag{
		&cli.DurationFlag{Name: "job-timeout", Value: d.JobTimeout, Usage: "longest one job may take; a job that takes longer is retried"},
		&cli.DurationFlag{Name: "retry-backoff", Value: d.RetryBackoff, Usage: "wait before the first retry of a job that failed for a passing reason (store error, timeout); it doubles with each delivery"},
		&cli.DurationFlag{Name: "max-retry-backoff", Value: d.MaxRetryBackoff, Usage: "longest wait before a retry"},
		&cli.StringFlag{Name: "cloudfront-distribution-id", Usage: "after thumbnails are remade or deleted because their original changed, invalidate their paths (/KEY, with the store's prefix) in this CloudFront distribution; a failed invalidation is logged and counted, never retried (default: none)"},
		&cli.StringFlag{Name: "cloudfront-endpoint", Usage: "CloudFront endpoint URL, for tests and CloudFront-compatible services (default: AWS)"},
		&cli.StringFlag{Name: "state", Usage: "the analyzer's --state (s3://BUCKET[/PREFIX] or file://DIR): S3 event notifications of uploads on the queue make the popular size classes it publishes there (default: none; such events are removed with a warning)"},
	}
}

// workerConfig is the worker configuration jobFlags, the queue flags and
// the shutdown timeout give, with concurrency jobs at once; with --state,
// the analyzer's popular classes for upload events.
func workerConfig(ctx context.Context, c *cli.Context, concurrency int) (worker.Config, error) {
	cfg := worker.DefaultConfig()
	cfg.Concurrency = concurrency
	cfg.Visibility = c.Duration("visibility-timeout")
	cfg.ShutdownGrace = c.Duration("shutdown-timeout")
	cfg.JobTimeout = c.Duration("job-timeout")
	cfg.RetryBackoff = c.Duration("retry-backoff")
	cfg.MaxRetryBackoff = c.Duration("max-retry-backoff")
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	if c.String("state") != "" {
		state, err := openURL(ctx, c, "state", false)
		if err != nil {
			return cfg, err
		}
		cfg.UploadClasses = popular.NewCache(state, classesTTL, nil)
	}
	// S3 event notifications name the bucket and the whole key, with the
	// store's prefix; with or without --state, they tell originals
	// replaced or deleted, whose thumbnails follow them.
	if loc, err := store.ParseURL(c.String("store")); err == nil && loc.Scheme == "s3" {
		cfg.UploadBucket, cfg.UploadPrefix = loc.Bucket, loc.Prefix
	}
	if id := c.String("cloudfront-distribution-id"); id != "" {
		inv, err := cloudFront(ctx, c, id, cfg.UploadPrefix)
		if err != nil {
			return cfg, err
		}
		cfg.Invalidator = inv
	} else if c.IsSet("cloudfront-endpoint") {
		return cfg, usagef("--cloudfront-endpoint without --cloudfront-distribution-id: there is nothing to invalidate")
	}
	return cfg, nil
}

// cloudFront is the invalidator of the distribution id, whose origin is
// the store's bucket (keys get the store's prefix): with the standard AWS
// credential chain, signed for us-east-1 as CloudFront, a global service,
// requires, at --cloudfront-endpoint when given.
func cloudFront(ctx context.Context, c *cli.Context, id, prefix string) (*cdn.CloudFront, error) {
	if err := cdn.ValidDistributionID(id); err != nil {
		return nil, usagef("--cloudfront-distribution-id: %w", err)
	}
	awsCfg, err := loadAWSConfig(ctx, cmp.Or(c.String("region"), "us-east-1"))
	if err != nil {
		return nil, fmt.Errorf("--cloudfront-distribution-id: %w", err)
	}
	client := cloudfront.NewFromConfig(awsCfg, func(o *cloudfront.Options) {
		o.Region = "us-east-1"
		if ep := c.String("cloudfront-endpoint"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	inv, err := cdn.NewCloudFront(client, id, prefix)
	if err != nil {
		return nil, usagef("--cloudfront-distribution-id: %w", err)
	}
	return inv, nil
}

// startWorkers runs n workers in this process (serve --workers), sharing
// maker and registering their metrics on reg. The returned function waits
// for them to stop once ctx has ended.
func startWorkers(ctx context.Context, c *cli.Context, log *slog.Logger, reg prometheus.Registerer, maker worker.Maker, n int) (wait func(), q queue.Queue, err error) {
	cfg, err := workerConfig(ctx, c, n)
	if err != nil {
		return nil, nil, fmt.Errorf("--workers: %w", err)
	}
	q, err = openJobQueue(ctx, c, log, true)
	if err != nil {
		return nil, nil, err
	}
	w, err := worker.New(cfg, q, maker, log.With("role", "worker"), reg)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			log.Error("workers stopped", "err", err)
		}
	}()
	return func() { <-done }, q, nil
}

// processRegistry is a metrics registry with the process's own series: Go
// runtime, process, and libvips memory.
func processRegistry(vips *imaging.Vips) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "s3thumb_libvips_memory_bytes",
			Help: "Memory libvips has allocated for pixels, outside the Go heap.",
		}, func() float64 { return float64(vips.Memory()) }),
	)
	return reg
}

// workerHandler serves a worker's /metrics and /healthz.
func workerHandler(reg *prometheus.Registry, w *worker.Worker) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := w.Health(); err != nil {
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(rw, err)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	return mux
}
