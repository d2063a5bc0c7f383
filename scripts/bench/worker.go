package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// workerRow is `s3thumb work` on one variant at one concurrency, next to
// the responder's miss path and vipsthumbnail on the same variant.
type workerRow struct {
	Variant     string `json:"variant"`
	Concurrency int    `json:"concurrency"`
	Worker      side   `json:"worker"`
	// DrainRate is the median over the measured rounds of images over the
	// time from starting `s3thumb enqueue` to the last job's log line: it
	// adds the enqueue process and the file queue's poll to the busy period.
	DrainRate float64 `json:"drain_images_per_s"`
	PerCore   float64 `json:"images_per_s_per_core"` // Worker.Rate / min(concurrency, CPUs)
	Responder *peer   `json:"responder,omitempty"`   // the miss-path run compared with
	Vips      *peer   `json:"vipsthumbnail,omitempty"`
	Ratio     float64 `json:"per_core_ratio"` // worker per core over the responder's: the target
	CPURatio  float64 `json:"cpu_ratio"`      // responder CPU per image over the worker's
}

// peer is another contender's figures on the worker's variant.
type peer struct {
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"images_per_s"`
	PerCore     float64 `json:"images_per_s_per_core"`
	CPUms       float64 `json:"cpu_ms_per_image"`
}

// perCore is a throughput per core in use: c jobs keep at most min(c,
// cpus) cores busy (libvips runs one thread per image in both s3thumb and
// the vipsthumbnail floor).
func perCore(rate float64, c, cpus int) float64 {
	if n := min(c, cpus); n > 0 {
		return rate / float64(n)
	}
	return 0
}

// matchCell picks the miss-path cell to compare a worker run at
// concurrency c with: same variant, the same number of busy cores, then
// the nearest concurrency, then the higher one.
func matchCell(cells []cell, variant string, c, cpus int) (cell, bool) {
	closer := func(a, b cell) int {
		return cmp.Or(
			cmp.Compare(absInt(min(a.Concurrency, cpus)-min(c, cpus)), absInt(min(b.Concurrency, cpus)-min(c, cpus))),
			cmp.Compare(absInt(a.Concurrency-c), absInt(b.Concurrency-c)),
			cmp.Compare(b.Concurrency, a.Concurrency),
		)
	}
	var best cell
	found := false
	for _, x := range cells {
		if x.Variant == variant && (!found || closer(x, best) < 0) {
			best, found = x, true
		}
	}
	return best, found
}

func absInt(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// newWorkerRow sets a worker run next to the matching miss-path cell.
func newWorkerRow(variant string, c int, w side, drain float64, cells []cell, cpus int) workerRow {
	row := workerRow{Variant: variant, Concurrency: c, Worker: w, DrainRate: drain, PerCore: perCore(w.Rate, c, cpus)}
	x, ok := matchCell(cells, variant, c, cpus)
	if !ok {
		return row
	}
	row.Responder = &peer{Concurrency: x.Concurrency, Rate: x.S3thumb.Rate, PerCore: perCore(x.S3thumb.Rate, x.Concurrency, cpus), CPUms: x.S3thumb.CPUms}
	row.Vips = &peer{Concurrency: x.Concurrency, Rate: x.Vips.Rate, PerCore: perCore(x.Vips.Rate, x.Concurrency, cpus), CPUms: x.Vips.CPUms}
	if row.Responder.PerCore > 0 {
		row.Ratio = row.PerCore / row.Responder.PerCore
	}
	if w.CPUms > 0 {
		row.CPURatio = x.S3thumb.CPUms / w.CPUms
	}
	return row
}

// jobRecord is what the worker logged about one job.
type jobRecord struct {
	key        string
	outcome    string // done, skipped, failed, retried
	reason     string
	start, end time.Time // from "job finished" lines only
	line       string
}

// parseJobLine reads a worker's JSON log line about a job: every line the
// worker writes when it settles a job carries the key and the outcome; the
// debug line "job finished" (done or skipped) also the job's duration,
// which with the line's time gives when the job started. ok is false for
// lines about no job.
func parseJobLine(line []byte) (rec jobRecord, ok bool, err error) {
	var l struct {
		Time     time.Time `json:"time"`
		Msg      string    `json:"msg"`
		Key      string    `json:"key"`
		Outcome  string    `json:"outcome"`
		Reason   string    `json:"reason"`
		Duration *int64    `json:"duration"` // nanoseconds
	}
	if json.Unmarshal(line, &l) != nil || l.Key == "" || l.Outcome == "" {
		return jobRecord{}, false, nil
	}
	rec = jobRecord{key: l.Key, outcome: l.Outcome, reason: l.Reason, line: string(line)}
	if l.Msg == "job finished" {
		if l.Duration == nil || *l.Duration < 0 || l.Time.IsZero() {
			return jobRecord{}, false, fmt.Errorf("worker log: job finished without a time and duration: %s", line)
		}
		rec.end = l.Time
		rec.start = l.Time.Add(-time.Duration(*l.Duration))
	}
	return rec, true, nil
}

// busyPeriod is the time from the first job's start to the last one's end.
func busyPeriod(recs []jobRecord) time.Duration {
	if len(recs) == 0 {
		return 0
	}
	first, last := recs[0].start, recs[0].end
	for _, r := range recs[1:] {
		if r.start.Before(first) {
			first = r.start
		}
		if r.end.After(last) {
			last = r.end
		}
	}
	return last.Sub(first)
}

// jobLog collects a worker's job records from its log, the latest per key.
type jobLog struct {
	mu      sync.Mutex
	recs    map[string]jobRecord
	err     error
	changed chan struct{}
}

func newJobLog() *jobLog {
	return &jobLog{recs: map[string]jobRecord{}, changed: make(chan struct{}, 1)}
}

// add takes one log line.
func (j *jobLog) add(line []byte) {
	rec, ok, err := parseJobLine(line)
	if !ok && err == nil {
		return
	}
	j.mu.Lock()
	if err != nil {
		j.err = cmp.Or(j.err, err)
	} else {
		j.recs[rec.key] = rec
	}
	j.mu.Unlock()
	select {
	case j.changed <- struct{}{}:
	default:
	}
}

// check reports whether every key has a record, and an error for a job
// that did not make its thumbnail.
func (j *jobLog) check(keys []string) ([]jobRecord, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return nil, false, j.err
	}
	recs := make([]jobRecord, 0, len(keys))
	for _, k := range keys {
		r, ok := j.recs[k]
		if !ok {
			return nil, false, nil
		}
		if r.outcome != "done" || r.reason != "made" || r.end.IsZero() {
			return nil, false, fmt.Errorf("job %s: %s (%s), not a thumbnail made: %s", k, r.outcome, r.reason, r.line)
		}
		recs = append(recs, r)
	}
	return recs, true, nil
}

// workerConfig says how to measure `s3thumb work`.
type workerConfig struct {
	binary   string
	quality  int
	warmup   int
	measured int
	timeout  time.Duration // longest one round may take
}

// roundName is the name of photo name's copy for round r: each round's
// jobs are new thumbnails of new originals with the same pixels.
func roundName(name string, r int) string { return fmt.Sprintf("%s-r%d", name, r) }

// benchWorker measures `s3thumb work` at concurrency c on a file store in
// dir holding a hard link (or copy) of each original of storeDir per
// round, and a file queue in dir/.queue. One worker process runs all the
// rounds, warm-up first, like the responder's; each round queues the
// corpus's thumbnails with `s3thumb enqueue` and ends when the worker has
// logged every job done. A round's time is its busy period, from the first
// job's start to the last job's end as the worker logs them (debug level).
// It returns the figures and the median drain rate.
func benchWorker(ctx context.Context, cfg workerConfig, storeDir, dir string, ps []photo, v variant, c int) (side, float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return side{}, 0, err
	}
	total := cfg.warmup + cfg.measured
	for r := range total {
		for _, p := range ps {
			if err := linkOrCopy(filepath.Join(storeDir, p.Name+".jpg"), filepath.Join(dir, roundName(p.Name, r)+".jpg")); err != nil {
				return side{}, 0, err
			}
		}
	}
	storeURL, queueURL := "file://"+dir, "file://"+filepath.Join(dir, ".queue")
	q := strconv.Itoa(cfg.quality)
	jl := newJobLog()
	srv, err := startProcess(ctx, cfg.binary, []string{
		"--log-level", "debug", "work", "--store", storeURL, "--queue", queueURL,
		"--concurrency", strconv.Itoa(c), "--metrics-listen", "127.0.0.1:0",
		"--jpeg-quality", q, "--webp-quality", q, "--avif-quality", q,
	}, jl.add)
	if err != nil {
		return side{}, 0, err
	}
	defer srv.stop()
	fail := func(err error) (side, float64, error) {
		return side{}, 0, fmt.Errorf("s3thumb work %s c=%d: %w\n%s", v.suffix, c, err, srv.logs)
	}

	var res rounds
	var drains []float64
	for r := range total {
		keys := make([]string, len(ps))
		for i, p := range ps {
			keys[i] = v.keyFor(roundName(p.Name, r))
		}
		cpu0, err := srv.cpu()
		if err != nil {
			return fail(err)
		}
		start := time.Now()
		if err := enqueueFile(ctx, cfg.binary, storeURL, queueURL, keys); err != nil {
			return fail(err)
		}
		recs, err := waitJobs(ctx, srv, jl, keys, cfg.timeout)
		if err != nil {
			return fail(err)
		}
		drain := time.Since(start)
		cpu1, err := srv.cpu()
		if err != nil {
			return fail(err)
		}
		outs := make([]outcome, len(ps))
		for i, p := range ps {
			data, err := os.ReadFile(filepath.Join(dir, keys[i]))
			if err != nil {
				return fail(fmt.Errorf("the worker logged %s made: %w", keys[i], err))
			}
			if outs[i], err = checkThumb(data, v, p); err != nil {
				return fail(fmt.Errorf("%s: %w", keys[i], err))
			}
		}
		if r < cfg.warmup {
			continue
		}
		if res.first == nil {
			res.first = outs
		}
		res.walls = append(res.walls, busyPeriod(recs))
		for _, rec := range recs {
			res.latencies = append(res.latencies, rec.end.Sub(rec.start))
		}
		res.cpu += cpu1 - cpu0
		drains = append(drains, float64(len(ps))/drain.Seconds())
	}
	peak, err := srv.peakRSS()
	if err != nil {
		return fail(err)
	}
	if err := checkWorkerMetrics(ctx, srv, total*len(ps)); err != nil {
		return fail(err)
	}
	if err := checkDrained(filepath.Join(dir, ".queue")); err != nil {
		return fail(err)
	}
	srv.stop()
	if srv.err != nil {
		return fail(fmt.Errorf("on SIGTERM: %w (want exit 0)", srv.err))
	}
	return summarize(res, res.cpu, peak), median(drains), nil
}

// enqueueFile queues keys on a file queue with `s3thumb enqueue`.
func enqueueFile(ctx context.Context, binary, storeURL, queueURL string, keys []string) error {
	args := append([]string{"enqueue", "--store", storeURL, "--queue", queueURL}, keys...)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "S3THUMB_LOG_FORMAT=json")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("s3thumb enqueue: %w:\n%s", err, out)
	}
	return nil
}

// waitJobs waits until the worker has logged every key's job, or one of
// them failing, or the worker exiting, or limit passing.
func waitJobs(ctx context.Context, srv *server, jl *jobLog, keys []string, limit time.Duration) ([]jobRecord, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		recs, done, err := jl.check(keys)
		if err != nil || done {
			return recs, err
		}
		select {
		case <-jl.changed:
		case <-srv.done:
			return nil, fmt.Errorf("the worker exited (%v) before finishing its jobs", srv.err)
		case <-deadline.C:
			return nil, fmt.Errorf("%d jobs not finished within %s", len(keys), limit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// checkWorkerMetrics checks on /metrics that the worker made n thumbnails
// and that no job failed, was retried or found its thumbnail made already.
func checkWorkerMetrics(ctx context.Context, srv *server, n int) error {
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	body, err := srv.metrics(ctx, client)
	if err != nil {
		return err
	}
	const jobs = "s3thumb_worker_jobs_total"
	made, err := parseMetricSum(body, jobs, map[string]string{"outcome": "done", "reason": "made"})
	if err != nil {
		return err
	}
	all, err := parseMetricSum(body, jobs, nil)
	if err != nil {
		return err
	}
	if made != float64(n) || all != made {
		return fmt.Errorf("%s: %v thumbnails made of %d jobs, %v jobs in all", jobs, made, n, all)
	}
	return nil
}

// checkDrained checks that the file queue in dir holds no message: none
// waiting, in flight or dead-lettered.
func checkDrained(dir string) error {
	for _, sub := range []string{"ready", "inflight", "dead"} {
		names, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		if len(names) > 0 {
			return fmt.Errorf("queue: %d messages left in %s/", len(names), sub)
		}
	}
	return nil
}

// linkOrCopy makes dst a hard link of src, or a copy where links fail.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// parseMetricSum adds up the series of metric name in the Prometheus text
// format whose labels include every one of want (all series when want is
// empty). It fails when the metric has no series at all.
func parseMetricSum(body []byte, name string, want map[string]string) (float64, error) {
	var sum float64
	found := false
	for line := range strings.SplitSeq(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		labels := map[string]string{}
		if rest[0] == '{' {
			var err error
			if labels, rest, err = parseLabels(rest[1:]); err != nil {
				return 0, fmt.Errorf("metric %s: %w in %q", name, err, line)
			}
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("metric %s: no value in %q", name, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		found = true
		match := true
		for k, w := range want {
			if labels[k] != w {
				match = false
			}
		}
		if match {
			sum += v
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return sum, nil
}

// parseLabels reads `k="v",k2="v2"}` (after the opening brace) and returns
// the labels and the text after the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if rest, ok := strings.CutPrefix(s, "}"); ok {
			return labels, rest, nil
		}
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" || !strings.HasPrefix(rest, `"`) {
			return nil, "", errors.New("bad label")
		}
		var v bytes.Buffer
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(rest[i])
				}
				continue
			}
			v.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return nil, "", errors.New("unterminated label value")
		}
		labels[strings.TrimSpace(k)] = v.String()
		s = rest[i+1:]
	}
}
