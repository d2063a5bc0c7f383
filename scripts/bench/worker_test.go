package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

func TestPerCore(t *testing.T) {
	tests := []struct {
		rate    float64
		c, cpus int
		want    float64
	}{
		{10, 1, 2, 10},
		{10, 2, 2, 5},
		{10, 8, 2, 5},
		{12, 4, 8, 3},
		{10, 0, 2, 0},
	}
	for _, tt := range tests {
		if got := perCore(tt.rate, tt.c, tt.cpus); got != tt.want {
			t.Errorf("perCore(%v, %d, %d) = %v, want %v", tt.rate, tt.c, tt.cpus, got, tt.want)
		}
	}
}

func TestMatchCell(t *testing.T) {
	cells := []cell{
		{Variant: "200x200_fill.jpg", Concurrency: 2},
		{Variant: "200x200_fill.jpg", Concurrency: 8},
		{Variant: "1024x_fit.jpg", Concurrency: 1},
		{Variant: "200x200_fill.jpg", Concurrency: 16},
	}
	tests := []struct {
		variant string
		c, cpus int
		want    int // 0: none
	}{
		{"200x200_fill.jpg", 1, 2, 2},   // no one-core run: the nearest
		{"200x200_fill.jpg", 4, 2, 2},   // every run keeps both cores busy: the nearest concurrency
		{"200x200_fill.jpg", 8, 2, 8},   // the same run
		{"200x200_fill.jpg", 12, 2, 16}, // equally near 8 and 16: the higher
		{"200x200_fill.jpg", 4, 8, 2},   // 4 busy cores: 2 is nearer than 8
		{"200x200_fill.jpg", 16, 16, 16},
		{"1024x_fit.jpg", 4, 2, 1},
		{"200x200_fit.jpg", 2, 2, 0},
	}
	for _, tt := range tests {
		got, ok := matchCell(cells, tt.variant, tt.c, tt.cpus)
		if tt.want == 0 {
			if ok {
				t.Errorf("matchCell(%s, c=%d) found c=%d, want none", tt.variant, tt.c, got.Concurrency)
			}
			continue
		}
		if !ok || got.Concurrency != tt.want || got.Variant != tt.variant {
			t.Errorf("matchCell(%s, c=%d, cpus=%d) = %s c=%d %v, want c=%d", tt.variant, tt.c, tt.cpus, got.Variant, got.Concurrency, ok, tt.want)
		}
	}
}

func TestNewWorkerRow(t *testing.T) {
	cells := []cell{newCell("200x200_fill.jpg", 2, side{Rate: 8, CPUms: 200}, side{Rate: 6, CPUms: 300})}
	row := newWorkerRow("200x200_fill.jpg", 1, side{Rate: 3.8, CPUms: 250}, 3.5, cells, 2)
	if row.PerCore != 3.8 || row.Responder == nil || row.Responder.PerCore != 4 || row.Vips.PerCore != 3 {
		t.Fatalf("row %+v, responder %+v, vips %+v", row, row.Responder, row.Vips)
	}
	if row.Ratio != 0.95 || row.CPURatio != 0.8 || row.DrainRate != 3.5 {
		t.Errorf("ratio %v, CPU ratio %v, drain %v; want 0.95, 0.8, 3.5", row.Ratio, row.CPURatio, row.DrainRate)
	}
	alone := newWorkerRow("1024x_fit.jpg", 4, side{Rate: 5}, 4, cells, 2)
	if alone.Responder != nil || alone.Vips != nil || alone.Ratio != 0 || alone.PerCore != 2.5 {
		t.Errorf("a variant the miss path did not run: %+v", alone)
	}
}

func TestParseJobLine(t *testing.T) {
	finished := `{"time":"2026-11-27T08:53:45.823503073Z","level":"DEBUG","msg":"job finished","queue":"file:///q","key":"img2_200x200_fill.jpg","message":"m1","receive_count":1,"outcome":"done","reason":"made","duration":151964283}`
	rec, ok, err := parseJobLine([]byte(finished))
	if err != nil || !ok {
		t.Fatalf("parseJobLine: %v %v", ok, err)
	}
	end := time.Date(2026, 11, 27, 8, 53, 45, 823503073, time.UTC)
	if rec.key != "img2_200x200_fill.jpg" || rec.outcome != "done" || rec.reason != "made" || !rec.end.Equal(end) || rec.end.Sub(rec.start) != 151964283 {
		t.Errorf("record %+v", rec)
	}

	failed := `{"time":"2026-11-27T08:53:45Z","level":"WARN","msg":"job can never succeed; message removed","key":"x_200x200_fill.jpg","outcome":"failed","reason":"original_missing","err":"gone"}`
	rec, ok, err = parseJobLine([]byte(failed))
	if err != nil || !ok || rec.outcome != "failed" || !rec.end.IsZero() || rec.line != failed {
		t.Errorf("failure line: %+v %v %v", rec, ok, err)
	}

	for _, other := range []string{
		`{"time":"2026-11-27T08:53:45Z","level":"INFO","msg":"worker started","concurrency":2}`,
		`{"time":"2026-11-27T08:53:45Z","level":"INFO","msg":"serving","addr":"http://127.0.0.1:1"}`,
		`not json`,
		``,
	} {
		if _, ok, err := parseJobLine([]byte(other)); ok || err != nil {
			t.Errorf("parseJobLine(%q) = %v, %v; want no record", other, ok, err)
		}
	}
	for _, bad := range []string{
		`{"time":"2026-11-27T08:53:45Z","msg":"job finished","key":"k","outcome":"done","reason":"made"}`,
		`{"msg":"job finished","key":"k","outcome":"done","reason":"made","duration":5}`,
		`{"time":"2026-11-27T08:53:45Z","msg":"job finished","key":"k","outcome":"done","reason":"made","duration":-5}`,
	} {
		if _, _, err := parseJobLine([]byte(bad)); err == nil {
			t.Errorf("parseJobLine(%q) accepted a job without its time", bad)
		}
	}
}

func TestBusyPeriod(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	recs := []jobRecord{
		{start: at(100), end: at(300)},
		{start: at(50), end: at(200)},  // starts first
		{start: at(250), end: at(900)}, // ends last
	}
	if got := busyPeriod(recs); got != 850*time.Millisecond {
		t.Errorf("busy period %v, want 850ms", got)
	}
	if got := busyPeriod(nil); got != 0 {
		t.Errorf("busy period of nothing %v", got)
	}
}

func TestJobLog(t *testing.T) {
	line := func(key, outcome, reason, extra string) []byte {
		return []byte(`{"time":"2026-11-27T08:53:45Z","msg":"job finished","key":"` + key + `","outcome":"` + outcome + `","reason":"` + reason + `"` + extra + `}`)
	}
	jl := newJobLog()
	jl.add([]byte(`{"msg":"worker started"}`))
	select {
	case <-jl.changed:
		t.Error("a line about no job signalled a change")
	default:
	}
	jl.add(line("a", "done", "made", `,"duration":10`))
	<-jl.changed
	if _, done, err := jl.check([]string{"a", "b"}); done || err != nil {
		t.Errorf("check with b missing: %v %v", done, err)
	}
	jl.add(line("b", "done", "made", `,"duration":20`))
	recs, done, err := jl.check([]string{"a", "b"})
	if !done || err != nil || len(recs) != 2 || recs[1].key != "b" {
		t.Errorf("check: %v %v %+v", done, err, recs)
	}
	jl.add(line("c", "skipped", "exists", `,"duration":1`))
	if _, _, err := jl.check([]string{"c"}); err == nil || !strings.Contains(err.Error(), "skipped") {
		t.Errorf("a skipped job: %v", err)
	}
	jl.add([]byte(`{"msg":"job failed; it will be retried","key":"d","outcome":"retried","reason":"error"}`))
	if _, _, err := jl.check([]string{"d"}); err == nil || !strings.Contains(err.Error(), "retried") {
		t.Errorf("a retried job: %v", err)
	}
	jl.add(line("e", "done", "made", "")) // no duration
	if _, _, err := jl.check([]string{"a"}); err == nil {
		t.Error("a malformed job line went unnoticed")
	}
}

func TestParseMetricSum(t *testing.T) {
	body := []byte(`# HELP s3thumb_worker_jobs_total Job deliveries handled.
# TYPE s3thumb_worker_jobs_total counter
s3thumb_worker_jobs_total{outcome="done",reason="made"} 13
s3thumb_worker_jobs_total{outcome="failed",reason="original_missing"} 2
s3thumb_worker_jobs_total{outcome="skipped",reason="exists"} 0
s3thumb_worker_jobs_total{outcome="retried",reason="with \"quote\" and , comma}"} 1
s3thumb_worker_jobs_total_other{outcome="done",reason="made"} 100
s3thumb_worker_jobs_in_flight 3
`)
	tests := []struct {
		name string
		want map[string]string
		sum  float64
	}{
		{"s3thumb_worker_jobs_total", map[string]string{"outcome": "done", "reason": "made"}, 13},
		{"s3thumb_worker_jobs_total", map[string]string{"outcome": "failed"}, 2},
		{"s3thumb_worker_jobs_total", map[string]string{"reason": `with "quote" and , comma}`}, 1},
		{"s3thumb_worker_jobs_total", nil, 16},
		{"s3thumb_worker_jobs_total", map[string]string{"outcome": "none"}, 0},
		{"s3thumb_worker_jobs_in_flight", nil, 3},
	}
	for _, tt := range tests {
		got, err := parseMetricSum(body, tt.name, tt.want)
		if err != nil || got != tt.sum {
			t.Errorf("parseMetricSum(%s, %v) = %v, %v; want %v", tt.name, tt.want, got, err, tt.sum)
		}
	}
	if _, err := parseMetricSum(body, "s3thumb_worker", nil); err == nil {
		t.Error("a prefix of metric names was taken for a metric")
	}
	for _, bad := range []string{
		`m{a="1" 2`,
		`m{a=1} 2`,
		`m{a="1"}`,
		`m{a="1"} x`,
	} {
		if _, err := parseMetricSum([]byte(bad), "m", nil); err == nil {
			t.Errorf("parseMetricSum(%q) succeeded", bad)
		}
	}
}

func TestLinkOrCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.jpg")
	if err := os.WriteFile(src, []byte("pixels"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "b.jpg")
	if err := linkOrCopy(src, dst); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(dst); err != nil || string(data) != "pixels" {
		t.Errorf("copy holds %q, %v", data, err)
	}
	if err := linkOrCopy(src, dst); err == nil {
		t.Error("linkOrCopy replaced an existing file")
	}
	if err := linkOrCopy(filepath.Join(dir, "missing.jpg"), filepath.Join(dir, "c.jpg")); err == nil {
		t.Error("linkOrCopy of a missing file succeeded")
	}
}

func TestCheckDrained(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"ready", "inflight", "dead"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkDrained(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inflight", "1.1.x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkDrained(dir); err == nil || !strings.Contains(err.Error(), "inflight") {
		t.Errorf("a message in flight: %v", err)
	}
	if err := checkDrained(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing queue counted as drained")
	}
}

// Each round's originals must give thumbnail keys that parse back to them.
func TestRoundNameKeys(t *testing.T) {
	v, err := parseVariant("200x200_fill.jpg")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for r := range 4 {
		name := roundName("volna-5120x2880", r)
		key := v.keyFor(name)
		k, err := thumbkey.Parse(key)
		if err != nil || k.Name != name {
			t.Errorf("round %d: key %q parses as %+v, %v", r, key, k, err)
		}
		if seen[key] {
			t.Errorf("round %d repeats key %q", r, key)
		}
		seen[key] = true
	}
}
