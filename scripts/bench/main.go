// Command bench measures s3thumb against the vipsthumbnail floor on real
// photographs, as `make bench` does:
//
//	go run ./scripts/bench --binary bin/s3thumb --json .bench/result.json
//	go run ./scripts/bench --quick      # a one-minute smoke run
//
// It fetches 12-21 megapixel (and a few 2-8 megapixel) JPEGs from Debian
// wallpaper packages into a cache (scripts/bench-corpus.sh), then for each
// variant and concurrency starts a fresh `s3thumb serve` on a file store with
// store-back off and drives /resize over HTTP (the miss path), and runs one
// vipsthumbnail process per image, as many at once as the concurrency. It
// checks every thumbnail (status, size, no metadata), measures throughput,
// latency, CPU per image and peak RSS, then the same for pre-generation:
// `s3thumb work` at concurrency 1 and 2×CPUs on a file store and queue fed
// by `s3thumb enqueue`, per core next to the miss path. Then the hit path
// through the front, and the rate at which `s3thumb enqueue` queues jobs
// into the fauxqs SQS emulator (skipped when scripts/install-test-tools.sh
// has not installed it). It prints the figures next to the issues'
// targets. Everything runs on 127.0.0.1; every loop is bounded by a count
// or a duration.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	binary       string
	corpus       string
	corpusScript string
	large, small int
	warmup       int
	rounds       int
	concurrency  []int
	slots        int
	variants     []variant
	quality      int
	duration     time.Duration
	connections  int
	jsonPath     string
	quick        bool
	noHit        bool
	noOriented   bool
	workdir      string

	noWorker          bool
	workerConcurrency []int
	workerVariant     variant
	noEnqueue         bool
	noMemory          bool
	memoryOnly        bool
	memoryConcurrency []int
	enqueueMessages   int
	tools             string

	firstViews    int
	noFirstView   bool
	firstViewOnly bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.binary, "binary", "", "s3thumb binary to measure (default: build bin/s3thumb from ./cmd/s3thumb)")
	fs.StringVar(&cfg.corpus, "corpus", ".bench/corpus", "corpus cache directory")
	fs.StringVar(&cfg.corpusScript, "corpus-script", "scripts/bench-corpus.sh", "script that fills the corpus cache")
	fs.IntVar(&cfg.large, "images", 12, "most 12-21 megapixel photographs in the corpus")
	fs.IntVar(&cfg.small, "small-images", 4, "2-8 megapixel photographs in the corpus")
	fs.IntVar(&cfg.warmup, "warmup", 1, "unmeasured rounds over the corpus before the measured ones")
	fs.IntVar(&cfg.rounds, "rounds", 3, "measured rounds over the corpus per variant and concurrency")
	conc := fs.String("concurrency", "2,8", "comma-separated concurrencies (clients, resize slots and vipsthumbnail processes)")
	fs.IntVar(&cfg.slots, "slots", 0, "s3thumb's --max-concurrent (resize slots); 0: the server's default, one per CPU, as users run it")
	vars := fs.String("variants", defaultVariants, "comma-separated thumbnail key suffixes SIZE_MODE.EXT (jpg or webp)")
	fs.IntVar(&cfg.quality, "quality", 80, "JPEG and WebP quality for both contenders")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to drive the hit path")
	fs.IntVar(&cfg.connections, "connections", 64, "hit-path connections")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: 3 images, 1 round, concurrency 2, 2 s hit path, 2000 messages enqueued, 6 first views")
	fs.BoolVar(&cfg.noHit, "no-hit", false, "skip the hit path")
	fs.BoolVar(&cfg.noOriented, "no-oriented", false, "skip the EXIF-oriented copies of the corpus (each variant and concurrency again, on copies tagged with orientations 1-8)")
	fs.StringVar(&cfg.workdir, "workdir", "", "where the temporary stores go (default: the system temp dir)")
	fs.BoolVar(&cfg.noWorker, "no-worker", false, "skip the worker (s3thumb work) throughput")
	wconc := fs.String("worker-concurrency", fmt.Sprintf("1,%d", 2*runtime.NumCPU()), "comma-separated worker concurrencies")
	wvar := fs.String("worker-variant", "200x200_fill.jpg", "the thumbnail the worker makes (compared with the miss path's run of it)")
	fs.BoolVar(&cfg.noEnqueue, "no-enqueue", false, "skip the enqueue rate to the SQS emulator")
	fs.BoolVar(&cfg.noMemory, "no-memory", false, "skip the peak RSS of costly originals (50 MP 16-bit PNGs, a 20 MP progressive JPEG)")
	fs.BoolVar(&cfg.memoryOnly, "memory-only", false, "measure only the peak RSS of costly originals")
	mconc := fs.String("memory-concurrency", "4,16", "comma-separated concurrencies of the memory runs")
	fs.IntVar(&cfg.firstViews, "first-views", 24, "first views of missing thumbnails through the front, per mode (302 followed, and --serve-misses-directly)")
	fs.BoolVar(&cfg.noFirstView, "no-first-view", false, "skip the first-view latency with and without the redirect")
	fs.BoolVar(&cfg.firstViewOnly, "first-view-only", false, "measure only the first-view latency with and without the redirect")
	fs.IntVar(&cfg.enqueueMessages, "enqueue-messages", 20000, "messages queued per enqueue round")
	fs.StringVar(&cfg.tools, "tools", cmp.Or(os.Getenv("S3THUMB_TEST_TOOLS"), ".tools"), "where scripts/install-test-tools.sh installed fauxqs (default: $S3THUMB_TEST_TOOLS or .tools)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.quick {
		cfg.rounds, cfg.duration = 1, 2*time.Second
		*conc = "2"
		cfg.enqueueMessages = min(cfg.enqueueMessages, 2000)
		cfg.firstViews = min(cfg.firstViews, 6)
	}
	var err error
	if cfg.memoryConcurrency, err = parseInts(*mconc); err != nil {
		return cfg, fmt.Errorf("--memory-concurrency: %w", err)
	}
	if cfg.workerConcurrency, err = parseInts(*wconc); err != nil {
		return cfg, fmt.Errorf("--worker-concurrency: %w", err)
	}
	if cfg.workerVariant, err = parseVariant(*wvar); err != nil {
		return cfg, fmt.Errorf("--worker-variant: %w", err)
	}
	if cfg.concurrency, err = parseInts(*conc); err != nil {
		return cfg, fmt.Errorf("--concurrency: %w", err)
	}
	if cfg.variants, err = parseVariants(*vars); err != nil {
		return cfg, fmt.Errorf("--variants: %w", err)
	}
	switch {
	case cfg.rounds < 1 || cfg.rounds > 100:
		return cfg, fmt.Errorf("--rounds %d: want 1 to 100", cfg.rounds)
	case cfg.warmup < 0 || cfg.warmup > 10:
		return cfg, fmt.Errorf("--warmup %d: want 0 to 10", cfg.warmup)
	case cfg.quality < 1 || cfg.quality > 100:
		return cfg, fmt.Errorf("--quality %d: want 1 to 100", cfg.quality)
	case cfg.duration < time.Second || cfg.duration > 10*time.Minute:
		return cfg, fmt.Errorf("--duration %s: want 1s to 10m", cfg.duration)
	case cfg.slots < 0 || cfg.slots > 256:
		return cfg, fmt.Errorf("--slots %d: want 0 to 256", cfg.slots)
	case cfg.connections < 1 || cfg.connections > 1000:
		return cfg, fmt.Errorf("--connections %d: want 1 to 1000", cfg.connections)
	case cfg.enqueueMessages < 10 || cfg.enqueueMessages > 1_000_000:
		return cfg, fmt.Errorf("--enqueue-messages %d: want 10 to 1000000", cfg.enqueueMessages)
	case cfg.firstViews < 1 || cfg.firstViews > 1000:
		return cfg, fmt.Errorf("--first-views %d: want 1 to 1000", cfg.firstViews)
	case cfg.firstViewOnly && cfg.noFirstView:
		return cfg, errors.New("--first-view-only and --no-first-view: choose one")
	case cfg.large < 1 || cfg.small < 0 || cfg.large+cfg.small > 100:
		return cfg, fmt.Errorf("--images %d --small-images %d: want 1+ large, 0+ small, 100 at most", cfg.large, cfg.small)
	}
	return cfg, nil
}

// parseInts parses "2,8" into concurrencies from 1 to 256.
func parseInts(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > 256 {
			return nil, fmt.Errorf("%q is not a number from 1 to 256", part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none in %q", s)
	}
	return out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args[1:], stderr)
	if err != nil {
		return err
	}
	rep := report{
		Started: time.Now(), Command: strings.Join(args, " "), Quick: cfg.quick, CPUs: runtime.NumCPU(),
		LoadBefore: loadavg(), Warmup: cfg.warmup, Rounds: cfg.rounds, Quality: cfg.quality, Slots: cfg.slots,
	}
	if _, err := exec.LookPath("vipsthumbnail"); err != nil {
		return errors.New("vipsthumbnail is missing: install libvips-tools (scripts/install-deps.sh does)")
	}
	if out, err := exec.CommandContext(ctx, "vipsthumbnail", "--vips-version").Output(); err == nil {
		rep.VipsVersion = strings.TrimSpace(string(out))
	}
	if cfg.binary == "" {
		cfg.binary = filepath.Join("bin", "s3thumb")
		fmt.Fprintln(stderr, "bench: building", cfg.binary)
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.binary, "./cmd/s3thumb")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build s3thumb: %w", err)
		}
	}
	if cfg.binary, err = filepath.Abs(cfg.binary); err != nil {
		return err
	}

	if cfg.memoryOnly {
		if err := runMemory(ctx, cfg, &rep, stderr); err != nil {
			return err
		}
		return finishReport(stdout, cfg, rep)
	}
	if err := fetchCorpus(ctx, cfg.corpusScript, cfg.corpus, stderr); err != nil {
		return err
	}
	all, err := scanCorpus(cfg.corpus)
	if err != nil {
		return err
	}
	ps := pickCorpus(all, cfg.large, cfg.small)
	if cfg.quick {
		ps = quickCorpus(ps)
	}
	if len(ps) == 0 {
		return fmt.Errorf("no 2-21 megapixel JPEGs under %s/raw", cfg.corpus)
	}
	uniqueNames(ps)
	rep.Corpus = ps
	if err := writeCorpus(stdout, ps); err != nil {
		return err
	}

	work, err := os.MkdirTemp(cfg.workdir, "s3thumb-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	storeDir, vipsDir, hitDir := filepath.Join(work, "store"), filepath.Join(work, "vips"), filepath.Join(work, "hit")
	for _, d := range []string{storeDir, vipsDir, hitDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := copyCorpus(ps, storeDir); err != nil {
		return err
	}
	if cfg.firstViewOnly {
		if err := runFirstView(ctx, cfg, &rep, work, ps, stderr); err != nil {
			return err
		}
		return finishReport(stdout, cfg, rep)
	}

	mc := missConfig{binary: cfg.binary, quality: cfg.quality, warmup: cfg.warmup, measured: cfg.rounds, slots: cfg.slots}
	corpora := []corpus{{label: "", ps: ps}}
	if !cfg.noOriented {
		oriented, err := orientedCorpus(ps, storeDir)
		if err != nil {
			return err
		}
		corpora = append(corpora, corpus{label: orientedLabel, ps: oriented},
			corpus{label: sameOutputLabel, ps: sameOutputCorpus(ps, oriented), squareSkip: true})
	}
	for _, corpus := range corpora {
		for _, v := range corpus.variants(cfg.variants) {
			for _, c := range cfg.concurrency {
				name := v.suffix + corpus.label
				fmt.Fprintf(stderr, "bench: %s c=%d: s3thumb", name, c)
				s3, err := benchS3thumb(ctx, mc, storeDir, corpus.ps, v, c)
				if err != nil {
					fmt.Fprintln(stderr)
					return err
				}
				fmt.Fprintf(stderr, " %.1f img/s; vipsthumbnail", s3.Rate)
				vips, err := benchVips(ctx, mc, storeDir, vipsDir, corpus.ps, v, c)
				if err != nil {
					fmt.Fprintln(stderr)
					return err
				}
				fmt.Fprintf(stderr, " %.1f img/s\n", vips.Rate)
				rep.Cells = append(rep.Cells, newCell(name, c, s3, vips))
				rep.PeakRSS = max(rep.PeakRSS, s3.PeakRSS)
			}
		}
	}
	// With store-back off no thumbnail may have been stored.
	if err := checkNotStoredBack(storeDir, corpora, cfg.variants); err != nil {
		return err
	}
	rep.Bytes = bytesRows(rep.Cells)

	if !cfg.noWorker {
		wc := workerConfig{binary: cfg.binary, quality: cfg.quality, warmup: cfg.warmup, measured: cfg.rounds, timeout: 10 * time.Minute}
		v := cfg.workerVariant
		for _, c := range cfg.workerConcurrency {
			fmt.Fprintf(stderr, "bench: worker %s c=%d:", v.suffix, c)
			w, drain, err := benchWorker(ctx, wc, storeDir, filepath.Join(work, fmt.Sprintf("worker-c%d", c)), ps, v, c)
			if err != nil {
				fmt.Fprintln(stderr)
				return err
			}
			fmt.Fprintf(stderr, " %.1f img/s\n", w.Rate)
			rep.Worker = append(rep.Worker, newWorkerRow(v.suffix, c, w, drain, rep.Cells, rep.CPUs))
		}
	}

	if !cfg.noHit {
		hc := hitConfig{binary: cfg.binary, duration: cfg.duration, connections: cfg.connections, wrk: findWrk(ctx, stderr)}
		fmt.Fprintf(stderr, "bench: hit path for %s\n", cfg.duration)
		hit, err := benchHit(ctx, hc, hitDir, ps[0])
		if err != nil {
			return err
		}
		rep.Hit = &hit
	}

	if !cfg.noFirstView {
		if err := runFirstView(ctx, cfg, &rep, work, ps, stderr); err != nil {
			return err
		}
	}

	if !cfg.noEnqueue {
		ec := enqueueConfig{
			binary: cfg.binary, tools: cfg.tools, messages: cfg.enqueueMessages,
			warmup: min(cfg.warmup, 1), measured: cfg.rounds, suffix: cfg.workerVariant.suffix,
		}
		fmt.Fprintf(stderr, "bench: enqueue %d messages to fauxqs\n", ec.messages)
		dir := filepath.Join(work, "enqueue")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		enq, err := benchEnqueue(ctx, ec, dir)
		switch {
		case errors.Is(err, errNoTools):
			fmt.Fprintln(stderr, "bench: enqueue skipped:", err)
			enq = enqueueResult{Skipped: err.Error(), Messages: ec.messages}
		case err != nil:
			return err
		}
		rep.Enqueue = &enq
	}

	if !cfg.noMemory {
		if err := runMemory(ctx, cfg, &rep, stderr); err != nil {
			return err
		}
	}
	return finishReport(stdout, cfg, rep)
}

// runFirstView measures the first view of missing thumbnails through the
// front, with the redirect and without.
func runFirstView(ctx context.Context, cfg config, rep *report, work string, ps []photo, stderr io.Writer) error {
	fmt.Fprintf(stderr, "bench: first view, %d missing thumbnails per mode\n", cfg.firstViews)
	rows, err := benchFirstView(ctx, cfg.binary, cfg.quality, work, ps, cfg.firstViews)
	if err != nil {
		return err
	}
	rep.FirstView = rows
	return nil
}

// runMemory measures the peak RSS of costly originals, with the default
// memory budget and without one.
func runMemory(ctx context.Context, cfg config, rep *report, stderr io.Writer) error {
	cases, err := makeMemoryCorpus(ctx, filepath.Join(filepath.Dir(cfg.corpus), "memory"), stderr)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(cfg.workdir, "s3thumb-bench-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rep.Memory, err = benchMemory(ctx, cfg.binary, work, cases, cfg.memoryConcurrency, []int{defaultMaxMemoryMB, 0}, stderr)
	return err
}

// defaultMaxMemoryMB is serve's default --max-memory (thumbnail.DefaultMaxMemory).
const defaultMaxMemoryMB = 384

// finishReport prints the report and writes it as JSON when asked.
func finishReport(stdout io.Writer, cfg config, rep report) error {
	rep.LoadAfter = loadavg()
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.Targets = targets(rep)
	if err := writeReport(stdout, rep); err != nil {
		return err
	}
	if cfg.jsonPath != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonPath, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", cfg.jsonPath, err)
		}
	}
	return nil
}

// loadavg is the first three fields of /proc/loadavg, or "?".
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
