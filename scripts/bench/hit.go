package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hitResult is the hit path's figures.
type hitResult struct {
	Tool        string  `json:"tool"` // wrk or go
	Key         string  `json:"key"`
	ThumbBytes  int     `json:"thumbnail_bytes"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"`
	Rate        float64 `json:"requests_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	// ServerCPUus is the server's CPU time per request: unlike the rate,
	// it hardly depends on what else the machine is running.
	ServerCPUus float64 `json:"server_cpu_us_per_request"`
}

// hitConfig says how to drive the hit path.
type hitConfig struct {
	binary      string
	duration    time.Duration
	connections int
	wrk         string // path of wrk, "" to use the Go client
}

// hitVariant makes the hit path's thumbnail: 400x400 JPEG q80 of a large
// photograph is about 20 KB.
const hitVariant = "400x400_fill.jpg"

// benchHit serves a stored thumbnail through the front of a fresh server
// and measures GET /KEY for cfg.duration.
func benchHit(ctx context.Context, cfg hitConfig, dir string, p photo) (hitResult, error) {
	if err := copyCorpus([]photo{p}, dir); err != nil {
		return hitResult{}, err
	}
	srv, err := startServer(ctx, cfg.binary, []string{"--store", "file://" + dir, "--front", "--max-concurrent", "2"})
	if err != nil {
		return hitResult{}, err
	}
	defer srv.stop()
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()

	v, err := parseVariant(hitVariant)
	if err != nil {
		return hitResult{}, err
	}
	key := v.keyFor(p.Name)
	made, err := fetch(ctx, client, srv.url("/resize?src="+url.QueryEscape(key)))
	if err != nil {
		return hitResult{}, fmt.Errorf("make the hit thumbnail: %w", err)
	}
	// The store-back runs after the answer: wait for the file.
	if err := waitFile(ctx, filepath.Join(dir, key), len(made), 10*time.Second); err != nil {
		return hitResult{}, err
	}
	// A hit must be a 200 with the stored bytes, not a 302 to /resize.
	noRedirect := &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	got, err := fetch(ctx, noRedirect, srv.url("/"+key))
	if err != nil {
		return hitResult{}, fmt.Errorf("hit path: %w", err)
	}
	if string(got) != string(made) {
		return hitResult{}, errors.New("hit path: the front served other bytes than /resize made")
	}
	res := hitResult{Key: key, ThumbBytes: len(got), Connections: cfg.connections}
	target := srv.url("/" + key)
	cpu0, err := srv.cpu()
	if err != nil {
		return hitResult{}, err
	}
	if cfg.wrk != "" {
		res.Tool = "wrk"
		err = runWrk(ctx, cfg, target, &res)
	} else {
		res.Tool = "go"
		err = runGoLoad(ctx, cfg, target, len(got), &res)
	}
	if err != nil {
		return hitResult{}, fmt.Errorf("hit path (%s): %w\n%s", res.Tool, err, srv.logs)
	}
	cpu1, err := srv.cpu()
	if err != nil {
		return hitResult{}, err
	}
	if res.Requests > 0 {
		res.ServerCPUus = float64((cpu1-cpu0)/time.Microsecond) / float64(res.Requests)
	}
	return res, nil
}

// waitFile waits until path exists with size bytes.
func waitFile(ctx context.Context, path string, size int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if st, err := os.Stat(path); err == nil && st.Size() == int64(size) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the thumbnail was not stored back at %s within %s", path, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findWrk returns the path of wrk, installing it with apt-get when running
// as root; "" when it cannot be had (the Go client is used then).
func findWrk(ctx context.Context, stderr io.Writer) string {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "bench: wrk is not installed (apt-get install wrk); the hit path uses the Go client, which shares the CPU with the server")
		return ""
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return ""
	}
	fmt.Fprintln(stderr, "bench: installing wrk with apt-get")
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = io.Discard, stderr
		return cmd.Run()
	}
	if err := install(); err != nil {
		update := exec.CommandContext(ctx, "apt-get", "update", "-qq")
		update.Stdout, update.Stderr = io.Discard, stderr
		if update.Run() != nil || install() != nil {
			fmt.Fprintln(stderr, "bench: could not install wrk; the hit path uses the Go client")
			return ""
		}
	}
	p, err := exec.LookPath("wrk")
	if err != nil {
		return ""
	}
	return p
}

// runWrk drives target with wrk: 2 threads, cfg.connections connections.
func runWrk(ctx context.Context, cfg hitConfig, target string, res *hitResult) error {
	secs := max(1, int(cfg.duration.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, cfg.wrk, "-t2", "-c"+strconv.Itoa(cfg.connections),
		"-d"+strconv.Itoa(secs)+"s", "--timeout", "10s", "--latency", target)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("wrk: %w: %s", err, out)
	}
	w, err := parseWrk(string(out))
	if err != nil {
		return fmt.Errorf("%w in:\n%s", err, out)
	}
	if w.non2xx > 0 || w.socketErrors > 0 {
		return fmt.Errorf("wrk saw %d non-2xx/3xx answers and %d socket errors:\n%s", w.non2xx, w.socketErrors, out)
	}
	// wrk counts a 302 as success; the bytes read show every answer
	// carried the thumbnail.
	if w.requests == 0 || w.bytesRead/float64(w.requests) < float64(res.ThumbBytes) {
		return fmt.Errorf("wrk read %.0f bytes for %d requests: fewer than the %d-byte thumbnail each", w.bytesRead, w.requests, res.ThumbBytes)
	}
	res.Seconds, res.Requests, res.Rate = w.seconds, w.requests, w.rate
	res.P50ms, res.P99ms = ms(w.p50), ms(w.p99)
	return nil
}

// wrkOutput is what the benchmark reads from wrk's report.
type wrkOutput struct {
	requests     int64
	seconds      float64
	bytesRead    float64
	rate         float64
	p50, p99     time.Duration
	non2xx       int64
	socketErrors int64
}

var (
	wrkTotals  = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)([KMGT]?B) read`)
	wrkRate    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPct     = regexp.MustCompile(`^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk 4's --latency report.
func parseWrk(out string) (wrkOutput, error) {
	var w wrkOutput
	m := wrkTotals.FindStringSubmatch(out)
	if m == nil {
		return w, errors.New("wrk: no 'N requests in T, B read' line")
	}
	w.requests, _ = strconv.ParseInt(m[1], 10, 64)
	d, err := time.ParseDuration(m[2] + m[3])
	if err != nil {
		return w, fmt.Errorf("wrk duration: %w", err)
	}
	w.seconds = d.Seconds()
	n, _ := strconv.ParseFloat(m[4], 64)
	w.bytesRead = n * float64(map[string]int64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m[5]])
	m = wrkRate.FindStringSubmatch(out)
	if m == nil {
		return w, errors.New("wrk: no Requests/sec line")
	}
	w.rate, _ = strconv.ParseFloat(m[1], 64)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := wrkPct.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2] + m[3])
		if err != nil {
			return w, fmt.Errorf("wrk latency: %w", err)
		}
		if m[1] == "50" {
			w.p50 = d
		} else {
			w.p99 = d
		}
	}
	if w.p50 == 0 || w.p99 == 0 {
		return w, errors.New("wrk: no 50% and 99% latency lines (run with --latency)")
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		w.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			w.socketErrors += n
		}
	}
	return w, nil
}

// runGoLoad drives target from cfg.connections goroutines for cfg.duration,
// checking every answer is a 200 of size bytes.
func runGoLoad(ctx context.Context, cfg hitConfig, target string, size int, res *hitResult) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: cfg.connections, DisableCompression: true},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var lats []time.Duration
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for range cfg.connections {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				data, err := fetch(ctx, client, target)
				if err == nil && len(data) != size {
					err = fmt.Errorf("got %d bytes, want %d", len(data), size)
				}
				if err != nil {
					cancel(err)
					break
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	res.Seconds, res.Requests = elapsed.Seconds(), int64(len(lats))
	res.Rate = float64(len(lats)) / elapsed.Seconds()
	res.P50ms, res.P99ms = ms(percentile(lats, 50)), ms(percentile(lats, 99))
	return nil
}
