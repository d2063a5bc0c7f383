package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleReport() report {
	s3 := func(rate, cpu float64, rss int64, out, meta int64) side {
		return side{Rate: rate, P50ms: 40, P99ms: 90, CPUms: cpu, PeakRSS: rss, OutBytes: out, MetaBytes: meta}
	}
	vips := side{Rate: 20, P50ms: 95, P99ms: 150, CPUms: 90, PeakRSS: 120e6, OutBytes: 1000}
	vipsWebP := vips
	vipsWebP.OutBytes, vipsWebP.MetaBytes, vipsWebP.MetaKinds = 1000, 300, "EXIF,XMP" // the libvips 8.14 fault
	r := report{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seconds: 321, Command: "bench --rounds 3",
		CPUs: 2, LoadBefore: "1.00 1.00 1.00", LoadAfter: "2.00 2.00 2.00", Warmup: 1, Rounds: 3, Quality: 80,
		Corpus: make([]photo, 14), VipsVersion: "libvips 8.14.1",
		Cells: []cell{
			newCell("200x200_fill.jpg", 2, s3(30, 60, 200e6, 900, 0), vips), // 1.5x: PASS
			newCell("200x200_fill.jpg", 8, s3(25, 60, 480e6, 900, 0), vips), // 1.25x: MISS
			newCell("1024x_fit.jpg", 2, s3(28, 60, 250e6, 1001, 0), vips),   // bytes over: MISS
			newCell("1024x_fit.jpg", 8, s3(28, 60, 520e6, 1001, 0), vips),   // RSS over: MISS
			newCell("200x200_fill.webp", 2, s3(28, 45, 200e6, 800, 12), vipsWebP),
			newCell("400x_fit.webp", 2, s3(28, 45, 200e6, 650, 0), vipsWebP),
		},
		Hit: &hitResult{Tool: "wrk", Key: "k_400x400_fill.jpg", ThumbBytes: 20000, Connections: 64, Seconds: 10, Rate: 12000, P50ms: 4, P99ms: 9, ServerCPUus: 95},
	}
	r.Bytes = bytesRows(r.Cells)
	r.Targets = targets(r)
	return r
}

func TestNewCell(t *testing.T) {
	c := newCell("v", 2, side{Rate: 26, CPUms: 50}, side{Rate: 20, CPUms: 75})
	if c.Ratio != 1.3 || c.CPURatio != 1.5 {
		t.Errorf("ratio %v, CPU ratio %v; want 1.3 and 1.5", c.Ratio, c.CPURatio)
	}
	if z := newCell("v", 2, side{}, side{}); z.Ratio != 0 || z.CPURatio != 0 {
		t.Errorf("zero figures gave ratios %v %v", z.Ratio, z.CPURatio)
	}
}

func TestTargets(t *testing.T) {
	r := sampleReport()
	got := map[string]string{}
	for _, tg := range r.Targets {
		got[tg.Name] = tg.Status + " " + tg.Got
	}
	want := map[string]string{
		"miss 200x200_fill.jpg c=2 >= 1.3x vipsthumbnail":            "PASS 1.50x",
		"miss 200x200_fill.jpg c=8 >= 1.3x vipsthumbnail":            "MISS 1.25x",
		"miss 1024x_fit.jpg c=2 >= 1.3x vipsthumbnail":               "PASS 1.40x",
		"peak RSS at c=8 <= 500 MB":                                  "MISS 520 MB",
		"hit path >= 10000 req/s":                                    "PASS 12000 req/s",
		"bytes 200x200_fill.jpg <= vipsthumbnail, 0 metadata bytes":  "PASS 0.900x, 0 metadata bytes",
		"bytes 1024x_fit.jpg <= vipsthumbnail, 0 metadata bytes":     "MISS 1.001x, 0 metadata bytes",
		"bytes 200x200_fill.webp <= vipsthumbnail, 0 metadata bytes": "MISS 1.143x, 12 metadata bytes",
		"bytes 400x_fit.webp <= vipsthumbnail, 0 metadata bytes":     "PASS 0.929x, 0 metadata bytes",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	if len(r.Targets) != 6+1+1+4+1+1 {
		t.Errorf("%d targets, want 14", len(r.Targets))
	}
}

func TestTargetsWithoutRuns(t *testing.T) {
	r := report{Cells: []cell{newCell("200x200_fit.jpg", 2, side{Rate: 30}, side{Rate: 20})}}
	for _, tg := range targets(r) {
		if strings.HasPrefix(tg.Name, "peak RSS") || strings.HasPrefix(tg.Name, "hit path") {
			if tg.Status != "n/a" {
				t.Errorf("%s: %s without a run", tg.Name, tg.Status)
			}
		}
	}
}

func TestWriteReport(t *testing.T) {
	var buf bytes.Buffer
	if err := writeReport(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"noisy machine",
		"median of 3 measured round(s) over 14 images",
		"VIPS_CONCURRENCY=1",
		"--max-concurrent default (one per CPU",
		"libvips 8.14.1",
		"1.50x", "1.25x",
		"hit path (wrk, 64 connections, 10 s, GET /k_400x400_fill.jpg, 20000 bytes): 12000 req/s, p50 4.00 ms, p99 9.00 ms, server CPU 95 us/request",
		"took 321 s: bench --rounds 3",
		"vipsthumbnail's 200x200_fill.webp keep EXIF,XMP despite strip (libvips 8.14); s3thumb's: none",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	var passes, misses int
	for _, l := range lines {
		if strings.HasPrefix(l, "miss ") || strings.HasPrefix(l, "peak ") || strings.HasPrefix(l, "hit path >=") || strings.HasPrefix(l, "bytes ") {
			switch {
			case strings.HasSuffix(l, "PASS"):
				passes++
			case strings.HasSuffix(l, "MISS"):
				misses++
			default:
				t.Errorf("target line without a verdict: %q", l)
			}
		}
	}
	if passes != 8 || misses != 4 {
		t.Errorf("%d PASS and %d MISS lines, want 8 and 4:\n%s", passes, misses, out)
	}
}

func TestReportJSON(t *testing.T) {
	data, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"miss", "output_bytes", "hit", "targets", "corpus", "s3thumb_peak_rss_bytes"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
}

func TestWriteReportSlots(t *testing.T) {
	r := sampleReport()
	r.Slots = 2
	var buf bytes.Buffer
	if err := writeReport(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "--max-concurrent 2,") {
		t.Errorf("report does not name the slots:\n%s", buf.String())
	}
}

func TestWorkerTargets(t *testing.T) {
	cells := []cell{newCell("200x200_fill.jpg", 2, side{Rate: 8, CPUms: 200}, side{Rate: 6, CPUms: 300})}
	rows := []workerRow{
		newWorkerRow("200x200_fill.jpg", 1, side{Rate: 3.8, CPUms: 210}, 3, cells, 2), // 0.95x: PASS
		newWorkerRow("200x200_fill.jpg", 4, side{Rate: 7, CPUms: 230}, 6, cells, 2),   // 0.875x: MISS
		newWorkerRow("1024x_fit.jpg", 1, side{Rate: 2}, 2, cells, 2),                  // no miss run: n/a
	}
	got := map[string]string{}
	for _, tg := range workerTargets(rows) {
		got[tg.Name] = tg.Status + " " + tg.Got
	}
	want := map[string]string{
		"worker 200x200_fill.jpg c=1 per core >= 0.95x the miss path": "PASS 0.95x (miss c=2)",
		"worker 200x200_fill.jpg c=4 per core >= 0.95x the miss path": "MISS 0.88x (miss c=2)",
		"worker 1024x_fit.jpg c=1 per core >= 0.95x the miss path":    "n/a no miss run of 1024x_fit.jpg",
	}
	if len(got) != len(want) {
		t.Errorf("targets %v", got)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	if ts := workerTargets(nil); len(ts) != 1 || ts[0].Status != "n/a" || ts[0].Got != "not run" {
		t.Errorf("no worker run: %+v", ts)
	}
}

func TestEnqueueTarget(t *testing.T) {
	tests := []struct {
		e    *enqueueResult
		want string
	}{
		{nil, "n/a not run"},
		{&enqueueResult{Skipped: "fauxqs is not installed"}, "SKIPPED emulator missing"},
		{&enqueueResult{Rate: 5000}, "PASS 5000 msg/s"},
		{&enqueueResult{Rate: 4999.4}, "MISS 4999 msg/s"},
	}
	for _, tt := range tests {
		tg := enqueueTarget(tt.e)
		if got := tg.Status + " " + tg.Got; got != tt.want || tg.Name != "enqueue to the SQS emulator >= 5000 msg/s" {
			t.Errorf("enqueueTarget(%+v) = %q %q, want %q", tt.e, tg.Name, got, tt.want)
		}
	}
}

// workerReport is sampleReport with worker runs and an enqueue rate.
func workerReport(enq *enqueueResult) report {
	r := sampleReport()
	r.Worker = []workerRow{
		newWorkerRow("200x200_fill.jpg", 1, side{Rate: 16.5, P50ms: 55, P99ms: 120, CPUms: 58, PeakRSS: 150e6}, 14.2, r.Cells, r.CPUs),
		newWorkerRow("200x200_fill.jpg", 4, side{Rate: 30, P50ms: 120, P99ms: 300, CPUms: 61, PeakRSS: 260e6}, 27.5, r.Cells, r.CPUs),
	}
	r.Enqueue = enq
	r.Targets = targets(r)
	return r
}

func TestWriteReportWorker(t *testing.T) {
	enq := &enqueueResult{Emulator: "fauxqs 1.9.2", Messages: 20000, Rate: 10250, Rates: []float64{10000, 10250, 10300}, ClientCPUus: 40, ServerCPUus: 90}
	var buf bytes.Buffer
	if err := writeReport(&buf, workerReport(enq)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"per core: img/s / min(c, 2 CPUs)",
		"200x200_fill.jpg  1  |   16.5      16.5      55     120          58          150         14.2  |       2      15.0          60  |           10.0  |  1.10x      1.03x",
		"200x200_fill.jpg  4  |   30.0      15.0     120     300          61          260         27.5  |       2      15.0          60  |           10.0  |  1.00x      0.98x",
		"of 20000 thumbnail keys into fauxqs 1.9.2",
		"10250 msg/s (median of 10000, 10250, 10300)",
		"CPU per message: s3thumb 40 us, fauxqs 1.9.2 90 us",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"worker 200x200_fill.jpg c=1 per core >= 0.95x the miss path", "enqueue to the SQS emulator >= 5000 msg/s"} {
		i := strings.Index(out, want)
		if i < 0 {
			t.Errorf("no target %q", want)
			continue
		}
		if line, _, _ := strings.Cut(out[i:], "\n"); !strings.HasSuffix(line, "PASS") {
			t.Errorf("target line %q: want PASS", line)
		}
	}

	buf.Reset()
	if err := writeReport(&buf, workerReport(&enqueueResult{Skipped: "fauxqs is not installed: run scripts/install-test-tools.sh", Messages: 20000})); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "enqueue to the SQS emulator: SKIPPED: fauxqs is not installed: run scripts/install-test-tools.sh") ||
		!regexp.MustCompile(`(?m)^enqueue to the SQS emulator >= 5000 msg/s +emulator missing +SKIPPED$`).MatchString(out) {
		t.Errorf("a skipped enqueue:\n%s", out)
	}
}

func TestReportJSONWorker(t *testing.T) {
	data, err := json.Marshal(workerReport(&enqueueResult{Emulator: "fauxqs 1.9.2", Messages: 20000, Rate: 10250}))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Worker []struct {
			Concurrency int     `json:"concurrency"`
			PerCore     float64 `json:"images_per_s_per_core"`
			Ratio       float64 `json:"per_core_ratio"`
			Responder   struct {
				Concurrency int `json:"concurrency"`
			} `json:"responder"`
		} `json:"worker"`
		Enqueue struct {
			Rate     float64 `json:"messages_per_s"`
			Messages int     `json:"messages_per_round"`
		} `json:"enqueue"`
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Worker) != 2 || back.Worker[1].Concurrency != 4 || back.Worker[1].PerCore != 15 || back.Worker[1].Ratio != 1 || back.Worker[1].Responder.Concurrency != 2 {
		t.Errorf("worker JSON: %+v", back.Worker)
	}
	if back.Enqueue.Rate != 10250 || back.Enqueue.Messages != 20000 {
		t.Errorf("enqueue JSON: %+v", back.Enqueue)
	}
}

// TestOrientedTargets: an oriented cell is compared with its same-output
// twin where there is one, else with the plain unoriented cell.
func TestOrientedTargets(t *testing.T) {
	c := func(v string, cpu float64) cell {
		return cell{Variant: v, Concurrency: 2, S3thumb: side{CPUms: cpu}}
	}
	got := orientedTargets([]cell{
		c("200x200_fill.jpg", 40), c("200x200_fill.jpg"+orientedLabel, 42),
		c("1024x_fit.jpg", 100), c("1024x_fit.jpg"+orientedLabel, 150), c("1024x_fit.jpg"+sameOutputLabel, 140),
		c("200x200_fit.jpg", 30), c("200x200_fit.jpg"+orientedLabel, 36),
	})
	want := []target{
		{Name: "oriented 200x200_fill.jpg c=2 CPU/img <= 1.1x unoriented", Got: "1.05x (42.0 vs 40.0 ms)", Status: "PASS"},
		{Name: "oriented 1024x_fit.jpg c=2 CPU/img <= 1.1x unoriented, same output", Got: "1.07x (150.0 vs 140.0 ms)", Status: "PASS"},
		{Name: "oriented 200x200_fit.jpg c=2 CPU/img <= 1.1x unoriented", Got: "1.20x (36.0 vs 30.0 ms)", Status: "MISS"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("orientedTargets:\n got %+v\nwant %+v", got, want)
	}
}
