package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// firstViewRow is the first view of missing thumbnails through the front,
// in one mode: "redirect" (the front's 302 to /resize, followed) or
// "direct" (serve --serve-misses-directly: the thumbnail in the answer).
type firstViewRow struct {
	Mode      string  `json:"mode"`
	Views     int     `json:"views"`
	Redirects int     `json:"redirects"` // 3xx answers followed, in all
	P50ms     float64 `json:"p50_ms"`
	P90ms     float64 `json:"p90_ms"`
	MeanMs    float64 `json:"mean_ms"`
	// OverDirectMs is the median, over the views, of this mode's latency
	// less the direct mode's for the same key (the same photo and size):
	// what the mode costs, without the spread of resize times.
	OverDirectMs float64 `json:"over_direct_p50_ms"`
}

// firstViewModes are the two ways the front answers a missing thumbnail.
var firstViewModes = []struct {
	name string
	args []string
}{
	{"redirect", nil},
	{"direct", []string{"--serve-misses-directly"}},
}

// benchFirstView measures what a browser waits for the first view of a
// missing thumbnail through the front: GET /KEY, following the 302 to
// /resize as a browser does, against GET /KEY answered directly. Each mode
// runs its own fresh `serve` (front, store-back on, as `make run`) on its
// own copy of the originals; views alternate between the two, one at a
// time, on keep-alive connections, so both see the same machine. Every view
// asks for a key nobody asked for before (its own size), so none is a hit
// or joins another's resize; the servers' metrics are checked for that, and
// every answer is decoded and its size checked.
func benchFirstView(ctx context.Context, binary string, quality int, work string, ps []photo, views int) ([]firstViewRow, error) {
	type run struct {
		srv       *server
		client    *http.Client
		redirects int
		lats      []time.Duration
		dir       string
	}
	q := strconv.Itoa(quality)
	runs := make([]*run, len(firstViewModes))
	for i, m := range firstViewModes {
		dir := filepath.Join(work, "firstview-"+m.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		if err := copyCorpus(ps, dir); err != nil {
			return nil, err
		}
		args := append([]string{
			"--store", "file://" + dir, "--access-log", "off", "--workers", "0",
			"--request-timeout", "5m", "--jpeg-quality", q,
		}, m.args...)
		srv, err := startServer(ctx, binary, args)
		if err != nil {
			return nil, err
		}
		defer srv.stop()
		r := &run{srv: srv, dir: dir}
		r.client = &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 6, DisableCompression: true},
			Timeout:   2 * time.Minute,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				r.redirects++
				if len(via) > 3 {
					return errors.New("more than 3 redirects")
				}
				return nil
			},
		}
		defer r.client.CloseIdleConnections()
		runs[i] = r
	}

	for i := range views {
		p := ps[i%len(ps)]
		side := 200 + i // a key of its own: no hit, no coalescing
		v, err := parseVariant(fmt.Sprintf("%dx%d_fill.jpg", side, side))
		if err != nil {
			return nil, err
		}
		key := v.keyFor(p.Name)
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0} // neither mode always goes first
		}
		for _, m := range order {
			r := runs[m]
			start := time.Now()
			data, err := fetch(ctx, r.client, r.srv.url("/"+key))
			if err != nil {
				return nil, fmt.Errorf("first view %s (%s): %w\n%s", key, firstViewModes[m].name, err, r.srv.logs)
			}
			r.lats = append(r.lats, time.Since(start))
			if _, err := checkThumb(data, v, p); err != nil {
				return nil, fmt.Errorf("first view %s (%s): %w", key, firstViewModes[m].name, err)
			}
			if _, err := os.Stat(filepath.Join(r.dir, key)); err != nil {
				return nil, fmt.Errorf("first view %s (%s): not stored back: %w", key, firstViewModes[m].name, err)
			}
		}
	}

	direct := runs[len(runs)-1].lats // firstViewModes ends with "direct"
	var rows []firstViewRow
	for i, r := range runs {
		name := firstViewModes[i].name
		resizes, err := r.srv.metric(ctx, r.client, "s3thumb_resize_duration_seconds_count")
		if err != nil {
			return nil, err
		}
		coalesced, err := r.srv.metric(ctx, r.client, "s3thumb_coalesced_requests_total")
		if err != nil {
			return nil, err
		}
		if resizes != float64(views) || coalesced != 0 {
			return nil, fmt.Errorf("first view %s: %v resizes and %v coalesced requests for %d views: not all misses", name, resizes, coalesced, views)
		}
		wantRedirects := 0
		if name == "redirect" {
			wantRedirects = views
		}
		if r.redirects != wantRedirects {
			return nil, fmt.Errorf("first view %s: %d redirects for %d views, want %d", name, r.redirects, views, wantRedirects)
		}
		var sum time.Duration
		over := make([]float64, len(r.lats))
		for j, l := range r.lats {
			sum += l
			over[j] = ms(l - direct[j])
		}
		rows = append(rows, firstViewRow{
			Mode: name, Views: views, Redirects: r.redirects,
			P50ms: ms(percentile(r.lats, 50)), P90ms: ms(percentile(r.lats, 90)),
			MeanMs: ms(sum) / float64(len(r.lats)), OverDirectMs: median(over),
		})
	}
	return rows, nil
}
