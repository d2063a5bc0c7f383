package worker_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/worker"
)

// tinyJPEG is a small real photograph-like JPEG (a colour gradient).
func tinyJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tinyPNG is tinyJPEG's gradient as a PNG.
func tinyPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(tinyJPEG(t, w, h)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testLogger writes the worker's warnings and errors to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// countingStore counts the successful writes per key of a real store.
type countingStore struct {
	thumbnail.Store
	mu     sync.Mutex
	puts   map[string]int
	failOn func(key string) error // a write failure to inject before writing; nil: none
}

func newCountingStore(st thumbnail.Store) *countingStore {
	return &countingStore{Store: st, puts: map[string]int{}}
}

func (s *countingStore) Put(ctx context.Context, key string, body []byte, opts store.PutOptions) error {
	if s.failOn != nil {
		if err := s.failOn(key); err != nil {
			return err
		}
	}
	err := s.Store.Put(ctx, key, body, opts)
	if err == nil {
		s.mu.Lock()
		s.puts[key]++
		s.mu.Unlock()
	}
	return err
}

func (s *countingStore) writes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.puts))
	for k, v := range s.puts {
		out[k] = v
	}
	return out
}

// newEngine returns the real libvips engine.
func newEngine(t testing.TB) *imaging.Vips {
	t.Helper()
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return vips
}

// newMaker returns a real maker on st with the given policy tweak.
func newMaker(t testing.TB, st thumbnail.Store, tweak func(*thumbnail.Config)) *thumbnail.Maker {
	t.Helper()
	cfg := thumbnail.DefaultConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := thumbnail.NewMaker(st, newEngine(t), nil, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fileSetup is a directory store with originals and a file queue.
type fileSetup struct {
	dir   string // the store's directory
	store *store.FileStore
	qdir  string
	q     *queue.FileQueue
}

func newFileSetup(t testing.TB, opts queue.Options) *fileSetup {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	qdir := filepath.Join(t.TempDir(), "queue")
	q, err := queue.OpenFile(qdir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fileSetup{dir: dir, store: st, qdir: qdir, q: q}
}

func (s *fileSetup) putFile(t testing.TB, key string, data []byte) {
	t.Helper()
	path := filepath.Join(s.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sendJobs queues a version 1 job for each key.
func sendJobs(t testing.TB, q queue.Queue, keys ...string) {
	t.Helper()
	bodies := make([][]byte, len(keys))
	for i, k := range keys {
		b, err := queue.Encode(queue.Job{Key: k, Reason: "test", EnqueuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = b
	}
	sendRaw(t, q, bodies...)
}

func sendRaw(t testing.TB, q queue.Queue, bodies ...[]byte) {
	t.Helper()
	if err := q.Send(context.Background(), bodies); err != nil {
		t.Fatal(err)
	}
}

// fastConfig suits tests: short polls and timeouts.
func fastConfig() worker.Config {
	cfg := worker.DefaultConfig()
	cfg.Concurrency = 4
	cfg.Wait = 200 * time.Millisecond
	cfg.Visibility = 5 * time.Second
	cfg.RetryBackoff = time.Second
	cfg.MaxRetryBackoff = 4 * time.Second
	cfg.ShutdownGrace = 10 * time.Second
	cfg.DepthInterval = 100 * time.Millisecond
	return cfg
}

// running is a worker running in the background.
type running struct {
	w      *worker.Worker
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error

	once    sync.Once
	err     error
	stopped bool
}

func startWorker(t testing.TB, cfg worker.Config, q worker.Queue, maker worker.Maker) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	w, err := worker.New(cfg, q, maker, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the worker and waits for Run to return, which must be nil.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
			r.stopped = true
		case <-time.After(30 * time.Second):
		}
	})
	if !r.stopped {
		t.Fatal("Run did not return within 30s of cancellation")
	}
	if r.err != nil {
		t.Errorf("Run returned %v, want nil", r.err)
	}
}

// metric returns the value of a counter, gauge or histogram count with the
// given labels (0 when absent).
func metric(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func jobs(t testing.TB, reg prometheus.Gatherer, outcome worker.Outcome, reason string) int {
	t.Helper()
	return int(metric(t, reg, "s3thumb_worker_jobs_total", map[string]string{"outcome": string(outcome), "reason": reason}))
}

// totalJobs is the number of job deliveries handled, whatever the outcome.
func totalJobs(t testing.TB, reg prometheus.Gatherer) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, f := range families {
		if f.GetName() == "s3thumb_worker_jobs_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int(n)
}

// slowMaker delays a real maker, or blocks until its context ends when
// block is set.
type slowMaker struct {
	worker.Maker
	delay   time.Duration
	block   bool
	started chan string // receives each key as its job starts; may be nil
}

func (m *slowMaker) Ensure(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error) {
	if m.started != nil {
		select {
		case m.started <- k.String():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	select {
	case <-time.After(m.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return m.Maker.Ensure(ctx, k)
}

// dirCount counts the files in a queue folder.
func dirCount(t testing.TB, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return len(entries)
}
