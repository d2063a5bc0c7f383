package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/s3thumb/s3thumb/internal/acceptformat"
	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/internal/watch"
	"github.com/s3thumb/s3thumb/responder"
)

func serveCommand() *cli.Command {
	d := responder.DefaultConfig()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to serve HTTP on"},
		&cli.BoolFlag{Name: "front", Usage: "serve stored objects at /KEY and redirect missing thumbnails to /resize, like the S3 website", DefaultText: "on for a file:// store, else off"},
		&cli.BoolFlag{Name: "serve-misses-directly", Usage: "answer a missing thumbnail at /KEY with the thumbnail itself, made and stored back as /resize does, instead of a redirect: the front does so in place of its 302, and without the front /KEY answers thumbnails only (the responder as the secondary origin of a CloudFront origin group)"},
		&cli.IntFlag{Name: "max-concurrent", Value: runtime.NumCPU(), Usage: "resizes that may run at once"},
		&cli.IntFlag{Name: "max-queue", Value: 4 * runtime.NumCPU(), Usage: "resizes that may wait for a slot; more are answered 503 with Retry-After"},
		&cli.DurationFlag{Name: "request-timeout", Value: d.RequestTimeout, Usage: "longest a request may take, waiting, resizing and storing included"},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM, how long to let requests and store-backs in flight finish"},
		&cli.StringFlag{Name: "front-accept-formats", Usage: "formats (webp, avif) the front answers a thumbnail key naming JPEG in when the request's Accept header names one (AVIF first), with Vary: Accept, as scripts/deploy/accept-format.js does on CloudFront", DefaultText: "off"},
		&cli.StringFlag{Name: "fallback-image", Usage: "image file shown (status 404, never stored) when an original is missing"},
		&cli.StringFlag{Name: "access-log", Usage: "directory the front writes its access log to, in the S3 server access log format, for the analyzer (default: DIR/.logs for a file://DIR store; \"off\" for none)"},
		&cli.DurationFlag{Name: "access-log-interval", Value: time.Minute, Usage: "how often a new access log file is written"},
	}
	flags = append(flags, &cli.IntFlag{Name: "workers", Usage: "pre-generation jobs run at once in this process, taken from --queue", DefaultText: "1 for a file:// store, else 0"})
	flags = append(flags, &cli.DurationFlag{Name: "watch-interval", Value: 2 * time.Second, Usage: "file:// store with --workers: how often the directory is scanned for originals created, replaced or deleted, whose stored thumbnails the workers then remake or delete (0: never)"})
	flags = append(flags, jobFlags()...)
	flags = append(flags, jobQueueFlags()...)
	flags = append(flags, consumerFlags()...)
	flags = append(flags, storeFlags()...)
	flags = append(flags, thumbnailFlags()...)
	return &cli.Command{
		Name:   "serve",
		Usage:  "run the responder: make missing thumbnails on request and store them back",
		Flags:  flags,
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	ctx := c.Context
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	local, err := defaultsFor(c)
	if err != nil {
		return err
	}
	cfg, err := responderConfig(c, local)
	if err != nil {
		return err
	}
	tcfg, err := thumbnailConfig(c)
	if err != nil {
		return err
	}
	if c.Int("max-concurrent") < 1 {
		return usagef("--max-concurrent %d: must be at least 1", c.Int("max-concurrent"))
	}
	workers, err := serveWorkers(c, local, tcfg)
	if err != nil {
		return err
	}
	if cfg.Front {
		stopLog, err := startAccessLog(ctx, c, log, local, &cfg)
		if err != nil {
			return err
		}
		defer stopLog() // the last batch is written after the server stops
	}

	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	if fs, ok := unwrapFileStore(st); ok {
		go sweepTemp(ctx, log, fs)
	}
	if cfg.AccessLog != nil {
		// What the responder stores back and the workers make shows in
		// the access log, as a bucket's logs show s3thumb's PUTs.
		st = responder.LoggedStore{Store: st, Log: cfg.AccessLog}
	}
	vips, err := imaging.New(imagingConfig(c))
	if err != nil {
		return usageError{err}
	}
	gate := thumbnail.NewLimiter(c.Int("max-concurrent"), c.Int("max-queue"), int64(c.Int("max-memory"))<<20)
	order, err := thumbnail.ParseOrder(c.String("queue-order"))
	if err != nil {
		return usageError{fmt.Errorf("--queue-order: %w", err)}
	}
	gate.SetOrder(order, c.Float64("queue-ageing"))
	maker, err := thumbnail.NewMaker(st, vips, gate, tcfg, log)
	if err != nil {
		return usageError{err}
	}
	reg := processRegistry(vips)
	srv, err := responder.New(cfg, maker, st, log, reg, reg)
	if err != nil {
		return err
	}
	drain := srv.Wait
	if workers > 0 {
		// The workers share the responder's resize slots but wait for them
		// rather than being shed when requests fill the queue.
		workerMaker, err := thumbnail.NewMaker(st, vips, gate.Patient(), tcfg, log)
		if err != nil {
			return usageError{err}
		}
		waitWorkers, q, err := startWorkers(ctx, c, log, reg, workerMaker, workers)
		if err != nil {
			return err
		}
		if fs, ok := unwrapFileStore(st); ok && c.Duration("watch-interval") > 0 {
			// A directory sends no event notifications: the watcher
			// queues the ones S3 would send.
			go watch.New(fs, q, log.With("role", "watch")).Run(ctx, c.Duration("watch-interval"))
		}
		drain = func() { srv.Wait(); waitWorkers() }
	}
	return listenAndServe(ctx, log, c.String("listen"), srv, c.Duration("shutdown-timeout"), drain)
}

// responderConfig reads the responder's flags: --front (on for a
// directory store unless set), --serve-misses-directly, timeouts, the
// fallback image.
func responderConfig(c *cli.Context, local localDefaults) (responder.Config, error) {
	cfg := responder.DefaultConfig()
	cfg.RequestTimeout = c.Duration("request-timeout")
	cfg.Front = c.Bool("front")
	if !c.IsSet("front") {
		cfg.Front = local.front
	}
	cfg.ServeMissesDirectly = c.Bool("serve-misses-directly")
	var err error
	if cfg.AcceptFormats, err = acceptformat.ParseEnabled(c.String("front-accept-formats")); err != nil {
		return cfg, usagef("--front-accept-formats: %w", err)
	}
	if len(cfg.AcceptFormats) > 0 && !cfg.Front {
		return cfg, usagef("--front-accept-formats needs the front (--front)")
	}
	if path := c.String("fallback-image"); path != "" {
		if cfg.Fallback, err = loadFallback(path); err != nil {
			return cfg, usagef("--fallback-image: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// serveWorkers is how many in-process workers serve runs: --workers, or one
// for a directory store unless set (and none without store-back).
func serveWorkers(c *cli.Context, local localDefaults, tcfg thumbnail.Config) (int, error) {
	workers := c.Int("workers")
	if !c.IsSet("workers") && tcfg.StoreBack {
		workers = local.workers
	}
	if workers < 0 || (workers > 0 && !tcfg.StoreBack) {
		return 0, usagef("--workers %d: want 0 or more, and --store-back on", workers)
	}
	return workers, nil
}

// startAccessLog starts the front's access log (--access-log, beside the
// objects for a directory store unless set; "off" for none) and sets it in
// cfg; stop writes the last batch.
func startAccessLog(ctx context.Context, c *cli.Context, log *slog.Logger, local localDefaults, cfg *responder.Config) (stop func(), err error) {
	dir := c.String("access-log")
	if !c.IsSet("access-log") {
		dir = local.accessLog
	}
	if dir == "" || dir == "off" {
		return func() {}, nil
	}
	if c.Duration("access-log-interval") <= 0 {
		return nil, usagef("--access-log-interval must be positive")
	}
	loc, err := store.ParseURL(c.String("store"))
	if err != nil {
		return nil, usagef("--store: %w", err)
	}
	accessLog, err := responder.NewAccessLogDir(dir, loc.String(), log)
	if err != nil {
		return nil, err
	}
	cfg.AccessLog = accessLog
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { accessLog.Run(logCtx, c.Duration("access-log-interval")); close(done) }()
	return func() { stopLog(); <-done }, nil
}

// listenAndServe serves h until ctx ends, then shuts down gracefully:
// requests in progress and then drain (work that outlives requests, such
// as store-backs) get up to grace in all to finish. Past it, the remaining
// connections are closed and the rest is abandoned: the error then exits
// with exitAbandoned, within a moment of the grace.
func listenAndServe(ctx context.Context, log *slog.Logger, addr string, h http.Handler, grace time.Duration, drain func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("serving", "addr", "http://"+ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = hs.Shutdown(sctx)
	if err != nil {
		hs.Close() // cut the connections still open
	}
	drained := make(chan struct{})
	go func() {
		if drain != nil {
			drain()
		}
		close(drained)
	}()
	select {
	case <-drained:
	case <-sctx.Done():
		err = cmp.Or(err, sctx.Err())
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("shutdown grace over: work in flight abandoned", "grace", grace)
		return cli.Exit(fmt.Sprintf("shutdown: work in flight after %s abandoned", grace), exitAbandoned)
	case err != nil && !errors.Is(err, http.ErrServerClosed):
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// sweepTemp removes the temporary files writers killed mid-write left in a
// directory store, now and every store.StaleTempAge until ctx ends.
func sweepTemp(ctx context.Context, log *slog.Logger, fs *store.FileStore) {
	t := time.NewTicker(store.StaleTempAge)
	defer t.Stop()
	for {
		n, err := fs.SweepTemp(ctx, store.StaleTempAge)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("could not sweep temporary files", "err", err)
		case n > 0:
			log.Info("removed temporary files left by interrupted writes", "count", n, "store", fs.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unwrapFileStore is the directory store st is, if it is one.
func unwrapFileStore(st store.Store) (*store.FileStore, bool) {
	if l, ok := st.(responder.LoggedStore); ok {
		st = l.Store
	}
	fs, ok := st.(*store.FileStore)
	return fs, ok
}

func loadFallback(path string) (*responder.Fallback, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ctype := mime.TypeByExtension(filepath.Ext(path))
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	return &responder.Fallback{Data: data, ContentType: ctype}, nil
}
