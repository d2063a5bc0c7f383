package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// side is one contender's figures for one variant at one concurrency.
type side struct {
	Rate      float64   `json:"images_per_s"`       // median of the measured rounds
	Rates     []float64 `json:"round_images_per_s"` // each measured round
	P50ms     float64   `json:"p50_ms"`
	P99ms     float64   `json:"p99_ms"`
	CPUms     float64   `json:"cpu_ms_per_image"`
	PeakRSS   int64     `json:"peak_rss_bytes"`
	Images    int       `json:"images_measured"`
	OutBytes  int64     `json:"output_bytes"`   // one pass over the corpus
	MetaBytes int64     `json:"metadata_bytes"` // in that pass
	MetaKinds string    `json:"metadata_kinds,omitempty"`
}

// summarize turns measured rounds into figures. cpu is the CPU time spent
// on the measured rounds; peak the peak RSS.
func summarize(r rounds, cpu time.Duration, peak int64) side {
	var s side
	perRound := len(r.first)
	for _, w := range r.walls {
		s.Rates = append(s.Rates, float64(perRound)/w.Seconds())
	}
	s.Rate = median(s.Rates)
	s.P50ms, s.P99ms = ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99))
	s.Images = len(r.latencies)
	if s.Images > 0 {
		s.CPUms = ms(cpu) / float64(s.Images)
	}
	s.PeakRSS = peak
	var kinds []string
	for _, o := range r.first {
		s.OutBytes += o.bytes
		s.MetaBytes += o.meta
		for k := range strings.SplitSeq(o.kinds, ",") {
			if k != "" && !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	slices.Sort(kinds)
	s.MetaKinds = strings.Join(kinds, ",")
	return s
}

// missConfig is what both contenders' runs share.
type missConfig struct {
	binary   string
	quality  int
	warmup   int
	measured int
	slots    int // s3thumb's --max-concurrent; 0: its default (one per CPU)
}

// benchS3thumb measures the miss path: a fresh `s3thumb serve` on a file
// store holding the originals, with store-back off so every request
// resizes, driven by c clients over HTTP.
func benchS3thumb(ctx context.Context, cfg missConfig, storeDir string, ps []photo, v variant, c int) (side, error) {
	q := strconv.Itoa(cfg.quality)
	args := []string{
		"--store", "file://" + storeDir, "--store-back=false",
		"--max-queue", "1000", "--request-timeout", "5m",
		"--jpeg-quality", q, "--webp-quality", q, "--avif-quality", q,
	}
	if cfg.slots > 0 { // else the server's default: one resize slot per CPU
		args = append(args, "--max-concurrent", strconv.Itoa(cfg.slots))
	}
	srv, err := startServer(ctx, cfg.binary, args)
	if err != nil {
		return side{}, err
	}
	defer srv.stop()
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: c, DisableCompression: true},
		Timeout:   2 * time.Minute,
	}
	defer client.CloseIdleConnections()
	get := func(ctx context.Context, p photo) (outcome, error) {
		v := v.forPhoto(p)
		key := v.keyFor(p.Name)
		data, err := fetch(ctx, client, srv.url("/resize?src="+url.QueryEscape(key)))
		if err != nil {
			return outcome{}, err
		}
		return checkThumb(data, v, p)
	}

	if _, err := runRounds(ctx, ps, c, cfg.warmup, 0, get); err != nil {
		return side{}, fmt.Errorf("s3thumb %s c=%d warm-up: %w\n%s", v.suffix, c, err, srv.logs)
	}
	cpu0, err := srv.cpu()
	if err != nil {
		return side{}, err
	}
	r, err := runRounds(ctx, ps, c, 0, cfg.measured, get)
	if err != nil {
		return side{}, fmt.Errorf("s3thumb %s c=%d: %w\n%s", v.suffix, c, err, srv.logs)
	}
	cpu1, err := srv.cpu()
	if err != nil {
		return side{}, err
	}
	peak, err := srv.peakRSS()
	if err != nil {
		return side{}, err
	}
	// Every request must have been a resize of its own: no hit, no
	// coalescing onto another request.
	want := float64((cfg.warmup + cfg.measured) * len(ps))
	resizes, err := srv.metric(ctx, client, "s3thumb_resize_duration_seconds_count")
	if err != nil {
		return side{}, err
	}
	coalesced, err := srv.metric(ctx, client, "s3thumb_coalesced_requests_total")
	if err != nil {
		return side{}, err
	}
	if resizes != want || coalesced != 0 {
		return side{}, fmt.Errorf("s3thumb %s c=%d: %v resizes and %v coalesced requests for %v requests: not all misses", v.suffix, c, resizes, coalesced, want)
	}
	return summarize(r, cpu1-cpu0, peak), nil
}

// fetch GETs u and returns the body of a 200 answer.
func fetch(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.200s", u, resp.StatusCode, data)
	}
	return data, nil
}

// checkThumb checks a thumbnail of p in variant v and measures it.
func checkThumb(data []byte, v variant, p photo) (outcome, error) {
	in, err := inspect(data, string(v.format()))
	if err != nil {
		return outcome{}, err
	}
	if err := v.checkSize(p.Width, p.Height, in.width, in.height); err != nil {
		return outcome{}, err
	}
	return outcome{bytes: int64(len(data)), meta: in.metaBytes, kinds: in.metaKinds}, nil
}

// benchVips measures the floor: one single-threaded vipsthumbnail process
// per image (VIPS_CONCURRENCY=1), c of them at a time, reading the same
// originals and writing the same variant.
func benchVips(ctx context.Context, cfg missConfig, storeDir, outDir string, ps []photo, v variant, c int) (side, error) {
	mk := func(ctx context.Context, p photo) (outcome, error) {
		v := v.forPhoto(p)
		in := filepath.Join(storeDir, p.Name+".jpg")
		out := filepath.Join(outDir, p.Name+"."+v.key.Ext)
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return outcome{}, err
		}
		cmd := exec.CommandContext(ctx, "vipsthumbnail", v.vipsArgs(in, out, cfg.quality)...)
		cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return outcome{}, fmt.Errorf("vipsthumbnail: %w: %s", err, stderr.Bytes())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			return outcome{}, fmt.Errorf("vipsthumbnail output: %w", err)
		}
		o, err := checkThumb(data, v, p)
		if err != nil {
			return outcome{}, fmt.Errorf("vipsthumbnail output: %w", err)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			o.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			o.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
		return o, nil
	}
	r, err := runRounds(ctx, ps, c, cfg.warmup, cfg.measured, mk)
	if err != nil {
		return side{}, fmt.Errorf("vipsthumbnail %s c=%d: %w", v.suffix, c, err)
	}
	return summarize(r, r.cpu, r.maxRSS), nil
}
