package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets.
const (
	targetRatio    = 1.3   // miss-path throughput over vipsthumbnail's, every variant
	targetRSS      = 500e6 // peak RSS in bytes at targetRSSConc
	targetRSSConc  = 8
	targetHitRate  = 10000 // hit-path requests per second
	targetMetaByte = 0     // metadata bytes in s3thumb's thumbnails

	targetWorkerRatio = 0.95 // worker throughput per core over the miss path's
	targetEnqueueRate = 5000 // messages per second into the SQS emulator
)

// report is everything one run measured; it is also the JSON output.
type report struct {
	Started     time.Time      `json:"started"`
	Seconds     float64        `json:"seconds"`
	Command     string         `json:"command"`
	Quick       bool           `json:"quick"`
	CPUs        int            `json:"cpus"`
	LoadBefore  string         `json:"loadavg_before"`
	LoadAfter   string         `json:"loadavg_after"`
	Warmup      int            `json:"warmup_rounds"`
	Rounds      int            `json:"measured_rounds"`
	Quality     int            `json:"quality"`
	Slots       int            `json:"slots"` // s3thumb --max-concurrent; 0: the concurrency
	Corpus      []photo        `json:"corpus"`
	Cells       []cell         `json:"miss"`
	Bytes       []bytesRow     `json:"output_bytes"`
	PeakRSS     int64          `json:"s3thumb_peak_rss_bytes"` // largest over all miss runs
	Hit         *hitResult     `json:"hit,omitempty"`
	Worker      []workerRow    `json:"worker,omitempty"`
	Enqueue     *enqueueResult `json:"enqueue,omitempty"`
	Memory      []memoryRow    `json:"memory,omitempty"`
	FirstView   []firstViewRow `json:"first_view,omitempty"`
	Targets     []target       `json:"targets"`
	VipsVersion string         `json:"vips_version"`
}

// cell is one variant at one concurrency, both contenders.
type cell struct {
	Variant     string  `json:"variant"`
	Concurrency int     `json:"concurrency"`
	S3thumb     side    `json:"s3thumb"`
	Vips        side    `json:"vipsthumbnail"`
	Ratio       float64 `json:"throughput_ratio"` // s3thumb / vipsthumbnail images per second
	CPURatio    float64 `json:"cpu_ratio"`        // vipsthumbnail / s3thumb CPU per image: less sensitive to other load
}

// bytesRow compares one variant's output sizes over one pass of the
// corpus. libvips 8.14 keeps EXIF and XMP in WebP even when told to strip,
// so the ratio is taken against vipsthumbnail's bytes less its metadata:
// the image data both make at the same quality.
type bytesRow struct {
	Variant       string  `json:"variant"`
	S3thumb       int64   `json:"s3thumb_bytes"`
	Vips          int64   `json:"vipsthumbnail_bytes"`
	Ratio         float64 `json:"ratio"` // s3thumb / (vipsthumbnail - its metadata)
	S3thumbMeta   int64   `json:"s3thumb_metadata_bytes"`
	VipsMeta      int64   `json:"vipsthumbnail_metadata_bytes"`
	S3thumbKinds  string  `json:"s3thumb_metadata_kinds,omitempty"`
	VipsMetaKinds string  `json:"vipsthumbnail_metadata_kinds,omitempty"`
}

// target is one of the targets and whether this run met it.
type target struct {
	Name   string `json:"name"`
	Got    string `json:"got"`
	Status string `json:"status"` // PASS, MISS or n/a
}

func newCell(v string, c int, s3, vips side) cell {
	ce := cell{Variant: v, Concurrency: c, S3thumb: s3, Vips: vips}
	if vips.Rate > 0 {
		ce.Ratio = s3.Rate / vips.Rate
	}
	if s3.CPUms > 0 {
		ce.CPURatio = vips.CPUms / s3.CPUms
	}
	return ce
}

// bytesRows takes each variant's output sizes from its first cell.
func bytesRows(cells []cell) []bytesRow {
	var rows []bytesRow
	seen := map[string]bool{}
	for _, c := range cells {
		if seen[c.Variant] {
			continue
		}
		seen[c.Variant] = true
		r := bytesRow{
			Variant: c.Variant, S3thumb: c.S3thumb.OutBytes, Vips: c.Vips.OutBytes,
			S3thumbMeta: c.S3thumb.MetaBytes, VipsMeta: c.Vips.MetaBytes,
			S3thumbKinds: c.S3thumb.MetaKinds, VipsMetaKinds: c.Vips.MetaKinds,
		}
		if image := r.Vips - r.VipsMeta; image > 0 {
			r.Ratio = float64(r.S3thumb) / float64(image)
		}
		rows = append(rows, r)
	}
	return rows
}

func status(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// targets judges a run against the targets.
func targets(r report) []target {
	var ts []target
	for _, c := range r.Cells {
		ts = append(ts, target{
			Name:   fmt.Sprintf("miss %s c=%d >= %.1fx vipsthumbnail", c.Variant, c.Concurrency, targetRatio),
			Got:    fmt.Sprintf("%.2fx", c.Ratio),
			Status: status(c.Ratio >= targetRatio),
		})
	}
	ts = append(ts, orientedTargets(r.Cells)...)
	rss := target{Name: fmt.Sprintf("peak RSS at c=%d <= %.0f MB", targetRSSConc, mb(targetRSS)), Got: "no c=8 run", Status: "n/a"}
	var peak int64 = -1
	for _, c := range r.Cells {
		if c.Concurrency == targetRSSConc {
			peak = max(peak, c.S3thumb.PeakRSS)
		}
	}
	if peak >= 0 {
		rss.Got, rss.Status = fmt.Sprintf("%.0f MB", mb(peak)), status(peak <= targetRSS)
	}
	ts = append(ts, rss)
	hit := target{Name: fmt.Sprintf("hit path >= %d req/s", targetHitRate), Got: "not run", Status: "n/a"}
	if r.Hit != nil {
		hit.Got, hit.Status = fmt.Sprintf("%.0f req/s", r.Hit.Rate), status(r.Hit.Rate >= targetHitRate)
	}
	ts = append(ts, hit)
	for _, b := range r.Bytes {
		ts = append(ts, target{
			Name:   fmt.Sprintf("bytes %s <= vipsthumbnail, %d metadata bytes", b.Variant, targetMetaByte),
			Got:    fmt.Sprintf("%.3fx, %d metadata bytes", b.Ratio, b.S3thumbMeta),
			Status: status(b.S3thumb <= b.Vips-b.VipsMeta && b.S3thumbMeta == targetMetaByte),
		})
	}
	ts = append(ts, workerTargets(r.Worker)...)
	return append(ts, enqueueTarget(r.Enqueue))
}

// workerTargets judges each worker run against the miss path per core.
func workerTargets(rows []workerRow) []target {
	if len(rows) == 0 {
		return []target{{Name: fmt.Sprintf("worker per core >= %.2fx the miss path", targetWorkerRatio), Got: "not run", Status: "n/a"}}
	}
	var ts []target
	for _, w := range rows {
		t := target{Name: fmt.Sprintf("worker %s c=%d per core >= %.2fx the miss path", w.Variant, w.Concurrency, targetWorkerRatio)}
		if w.Responder == nil {
			t.Got, t.Status = "no miss run of "+w.Variant, "n/a"
		} else {
			t.Got = fmt.Sprintf("%.2fx (miss c=%d)", w.Ratio, w.Responder.Concurrency)
			t.Status = status(w.Ratio >= targetWorkerRatio)
		}
		ts = append(ts, t)
	}
	return ts
}

// enqueueTarget judges the enqueue rate.
func enqueueTarget(e *enqueueResult) target {
	t := target{Name: fmt.Sprintf("enqueue to the SQS emulator >= %d msg/s", targetEnqueueRate)}
	switch {
	case e == nil:
		t.Got, t.Status = "not run", "n/a"
	case e.Skipped != "":
		t.Got, t.Status = "emulator missing", "SKIPPED"
	default:
		t.Got, t.Status = fmt.Sprintf("%.0f msg/s", e.Rate), status(e.Rate >= targetEnqueueRate)
	}
	return t
}

// writeReport prints the run as tables.
func writeReport(w io.Writer, r report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "s3thumb benchmark, %s, %d CPUs, load average before %s, after %s; %s\n",
		r.Started.Format(time.RFC3339), r.CPUs, r.LoadBefore, r.LoadAfter, r.VipsVersion)
	fmt.Fprintf(&b, "One run on a shared, noisy machine: throughput is the median of %d measured round(s) over %d images\n", r.Rounds, len(r.Corpus))
	fmt.Fprintf(&b, "after %d warm-up round(s); latencies are nearest-rank percentiles of every measured image; quality %d.\n", r.Warmup, r.Quality)
	slots := "default (one per CPU; the other clients wait in its queue)"
	if r.Slots > 0 {
		slots = strconv.Itoa(r.Slots)
	}
	fmt.Fprintf(&b, "s3thumb: one fresh `serve` per row, file store, --store-back=false (every request resizes), --max-concurrent %s, MALLOC_ARENA_MAX=2.\n", slots)
	b.WriteString("vipsthumbnail: one single-threaded process per image (VIPS_CONCURRENCY=1), c at a time.\n")
	b.WriteString("ratio: s3thumb img/s over vipsthumbnail's (the target); CPU ratio: vipsthumbnail CPU per image over s3thumb's,\n")
	b.WriteString("which other load on the machine disturbs less.\n\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tc\t|\ts3thumb img/s\tp50 ms\tp99 ms\tCPU ms/img\tpeak RSS MB\t|\tvips img/s\tp50 ms\tp99 ms\tCPU ms/img\tpeak RSS MB\t|\tratio\tCPU ratio\t")
	for _, c := range r.Cells {
		s, v := c.S3thumb, c.Vips
		fmt.Fprintf(tw, "%s\t%d\t|\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t|\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t|\t%.2fx\t%.2fx\t\n",
			c.Variant, c.Concurrency,
			s.Rate, s.P50ms, s.P99ms, s.CPUms, mb(s.PeakRSS),
			v.Rate, v.P50ms, v.P99ms, v.CPUms, mb(v.PeakRSS), c.Ratio, c.CPURatio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "s3thumb peak RSS over all runs: %.0f MB\n\n", mb(r.PeakRSS))

	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "output (one pass)\ts3thumb bytes\tmetadata\t|\tvips bytes\tmetadata\t|\tratio to vips less metadata\t")
	for _, x := range r.Bytes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t|\t%d\t%d\t|\t%.3fx\t\n", x.Variant, x.S3thumb, x.S3thumbMeta, x.Vips, x.VipsMeta, x.Ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range r.Bytes {
		if x.VipsMeta > 0 {
			fmt.Fprintf(&b, "vipsthumbnail's %s keep %s despite strip (libvips 8.14); s3thumb's: %s\n", x.Variant, x.VipsMetaKinds, cmp.Or(x.S3thumbKinds, "none"))
		}
	}
	if h := r.Hit; h != nil {
		fmt.Fprintf(&b, "\nhit path (%s, %d connections, %.0f s, GET /%s, %d bytes): %.0f req/s, p50 %.2f ms, p99 %.2f ms, server CPU %.0f us/request\n",
			h.Tool, h.Connections, h.Seconds, h.Key, h.ThumbBytes, h.Rate, h.P50ms, h.P99ms, h.ServerCPUus)
	}

	if err := writeWorker(&b, r.Worker, r.CPUs); err != nil {
		return err
	}
	if err := writeFirstView(&b, r.FirstView); err != nil {
		return err
	}
	writeEnqueue(&b, r.Enqueue, r.Warmup)
	if err := writeMemory(&b, r.Memory); err != nil {
		return err
	}

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tgot\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Got, t.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\ntook %.0f s: %s\n", r.Seconds, r.Command)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWorker prints the worker runs next to the miss path's.
func writeWorker(b *strings.Builder, rows []workerRow, cpus int) error {
	if len(rows) == 0 {
		return nil
	}
	b.WriteString("\nworker: one `s3thumb work` per row (file store, file queue, --concurrency c), kept over the rounds; each round\n")
	b.WriteString("queues the corpus's thumbnails anew (new originals: hard links) with `s3thumb enqueue` and ends when all are made.\n")
	b.WriteString("img/s: over the busy period, from the first job's start to the last job's end in the worker's log; latency: each\n")
	b.WriteString("job's, received to deleted; drain: from starting enqueue to the last job, so it adds the file queue's 100 ms poll.\n")
	fmt.Fprintf(b, "per core: img/s / min(c, %d CPUs). miss and vips: the miss-path run of the variant with the nearest concurrency.\n", cpus)
	b.WriteString("ratio: worker per core over the miss path's (the target); CPU ratio: the miss path's CPU per image over the worker's.\n\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tc\t|\timg/s\tper core\tp50 ms\tp99 ms\tCPU ms/img\tpeak RSS MB\tdrain img/s\t|\tmiss c\tper core\tCPU ms/img\t|\tvips per core\t|\tratio\tCPU ratio\t")
	for _, w := range rows {
		s := w.Worker
		fmt.Fprintf(tw, "%s\t%d\t|\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t|\t", w.Variant, w.Concurrency,
			s.Rate, w.PerCore, s.P50ms, s.P99ms, s.CPUms, mb(s.PeakRSS), w.DrainRate)
		if m, v := w.Responder, w.Vips; m != nil && v != nil {
			fmt.Fprintf(tw, "%d\t%.1f\t%.0f\t|\t%.1f\t|\t%.2fx\t%.2fx\t\n", m.Concurrency, m.PerCore, m.CPUms, v.PerCore, w.Ratio, w.CPURatio)
		} else {
			fmt.Fprintln(tw, "-\t-\t-\t|\t-\t|\t-\t-\t")
		}
	}
	return tw.Flush()
}

// writeEnqueue prints the enqueue rate.
func writeEnqueue(b *strings.Builder, e *enqueueResult, warmup int) {
	switch {
	case e == nil:
	case e.Skipped != "":
		fmt.Fprintf(b, "\nenqueue to the SQS emulator: SKIPPED: %s\n", e.Skipped)
	default:
		rates := make([]string, len(e.Rates))
		for i, r := range e.Rates {
			rates[i] = fmt.Sprintf("%.0f", r)
		}
		fmt.Fprintf(b, "\nenqueue: `s3thumb enqueue --from-file` of %d thumbnail keys into %s (batches of 10, default send concurrency),\n", e.Messages, e.Emulator)
		fmt.Fprintf(b, "a fresh queue per round, %d warm-up round(s), timed from start to exit: %.0f msg/s (median of %s);\n", min(warmup, 1), e.Rate, strings.Join(rates, ", "))
		fmt.Fprintf(b, "CPU per message: s3thumb %.0f us, %s %.0f us\n", e.ClientCPUus, e.Emulator, e.ServerCPUus)
	}
}

// writeCorpus prints the corpus list.
func writeCorpus(w io.Writer, ps []photo) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "corpus (%d JPEGs)\tsize\tMP\tMB\tfrom\n", len(ps))
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%dx%d\t%.1f\t%.2f\t%s\n", p.Name, p.Width, p.Height, p.megapixels(), mb(p.Bytes), p.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String()+"\n")
	return err
}

// writeMemory writes the peak RSS of the costly originals.
func writeMemory(w io.Writer, rows []memoryRow) error {
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\npeak RSS of costly originals: c requests of distinct copies at once, 200x200 JPEG, one fresh `serve` each")
	fmt.Fprintln(w, "(png16: 7071x7071 RGBA 16-bit PNG, 400 MB decoded; png16-interlaced: the same, interlaced; jpeg-progressive: 20 MP)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "original\tc\t--max-memory MB\tpeak RSS MB\tseconds\tanswers\t")
	for _, r := range rows {
		budget := strconv.Itoa(r.MaxMemoryMB)
		if r.MaxMemoryMB == 0 {
			budget = "none"
		}
		var answers []string
		for _, code := range slices.Sorted(maps.Keys(r.Statuses)) {
			answers = append(answers, fmt.Sprintf("%s x%d", code, r.Statuses[code]))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%.1f\t%s\t\n", r.Case, r.Concurrency, budget, mb(r.PeakRSS), r.Seconds, strings.Join(answers, ", "))
	}
	return tw.Flush()
}

// writeFirstView prints the first view of missing thumbnails with the
// redirect and without.
func writeFirstView(b *strings.Builder, rows []firstViewRow) error {
	if len(rows) == 0 {
		return nil
	}
	b.WriteString("\nfirst view of a missing thumbnail through the front (GET /KEY, one at a time, keep-alive; a key of its own per view,\n")
	b.WriteString("200x200 to ever larger fill JPEGs; each mode a fresh serve with store-back on; redirect: the 302 to /resize followed):\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tviews\tredirects\tp50 ms\tp90 ms\tmean ms\tover direct, p50 of pairs ms\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%+.2f\t\n", r.Mode, r.Views, r.Redirects, r.P50ms, r.P90ms, r.MeanMs, r.OverDirectMs)
	}
	return tw.Flush()
}

// orientedLabel marks the cells of the EXIF-oriented copies of the corpus.
const orientedLabel = " oriented"

// sameOutputLabel marks the cells of the unoriented twin of the oriented
// copies (see sameOutputCorpus), run for the variants whose box is not
// square.
const sameOutputLabel = " unoriented, same output"

// targetOriented is the most an oriented original may cost, in CPU per
// image, over the same photograph unoriented making a thumbnail of the
// same size.
const targetOriented = 1.1

// orientedTargets compares each oriented cell's CPU per image with the
// unoriented cell of the same variant and concurrency that makes
// thumbnails of the same sizes: the same-output twin where there is one
// (a box that is not square), else the plain unoriented cell.
func orientedTargets(cells []cell) []target {
	find := func(variant string, c int) (cell, bool) {
		for _, x := range cells {
			if x.Variant == variant && x.Concurrency == c && x.S3thumb.CPUms > 0 {
				return x, true
			}
		}
		return cell{}, false
	}
	var ts []target
	for _, o := range cells {
		base, ok := strings.CutSuffix(o.Variant, orientedLabel)
		if !ok {
			continue
		}
		ref, ok := find(base+sameOutputLabel, o.Concurrency)
		against := "unoriented, same output"
		if !ok {
			if ref, ok = find(base, o.Concurrency); !ok {
				continue
			}
			against = "unoriented"
		}
		ratio := o.S3thumb.CPUms / ref.S3thumb.CPUms
		ts = append(ts, target{
			Name:   fmt.Sprintf("oriented %s c=%d CPU/img <= %.1fx %s", base, o.Concurrency, targetOriented, against),
			Got:    fmt.Sprintf("%.2fx (%.1f vs %.1f ms)", ratio, o.S3thumb.CPUms, ref.S3thumb.CPUms),
			Status: status(ratio <= targetOriented),
		})
	}
	return ts
}
