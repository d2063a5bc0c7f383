package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgainstTheBinary drives a freshly built s3thumb as the benchmark
// does: the worker on a file store and queue, and enqueue into fauxqs (when
// scripts/install-test-tools.sh has installed it; with
// S3THUMB_REQUIRE_TEST_SERVERS=1 a missing emulator fails the test).
func TestAgainstTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs s3thumb")
	}
	bin := filepath.Join(t.TempDir(), "s3thumb")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/s3thumb").CombinedOutput(); err != nil {
		t.Fatalf("build s3thumb: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	v, err := parseVariant("200x200_fill.jpg")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("worker", func(t *testing.T) {
		store := t.TempDir()
		p, err := readPhoto("../sample/kleiber.jpg")
		if err != nil {
			t.Fatal(err)
		}
		p.Name = "kleiber"
		if err := copyCorpus([]photo{p}, store); err != nil {
			t.Fatal(err)
		}
		// Enough rounds that their CPU time (read in 10 ms ticks) is
		// more than none: a thumbnail of the sample takes a few ms.
		const rounds = 8
		cfg := workerConfig{binary: bin, quality: 80, warmup: 1, measured: rounds, timeout: time.Minute}
		dir := filepath.Join(t.TempDir(), "worker")
		s, drain, err := benchWorker(ctx, cfg, store, dir, []photo{p}, v, 2)
		if err != nil {
			t.Fatal(err)
		}
		if s.Images != rounds || len(s.Rates) != rounds || s.Rate <= 0 || drain <= 0 || drain > s.Rate*1.0001 {
			t.Errorf("rates %v (median %v) over %d images, drain %v: want %d rounds, the drain no faster than the busy period", s.Rates, s.Rate, s.Images, drain, rounds)
		}
		if s.CPUms <= 0 || s.PeakRSS < 10e6 || s.P50ms <= 0 || s.P99ms < s.P50ms || s.OutBytes < 1000 || s.MetaBytes != 0 {
			t.Errorf("figures %+v", s)
		}
		// Every round made its own thumbnail, warm-up included.
		for r := range rounds + 1 {
			if _, err := os.Stat(filepath.Join(dir, v.keyFor(roundName("kleiber", r)))); err != nil {
				t.Errorf("round %d: %v", r, err)
			}
		}
	})

	t.Run("first view", func(t *testing.T) {
		p, err := readPhoto("../sample/kleiber.jpg")
		if err != nil {
			t.Fatal(err)
		}
		p.Name = "kleiber"
		work := t.TempDir()
		rows, err := benchFirstView(ctx, bin, 80, work, []photo{p}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Mode != "redirect" || rows[1].Mode != "direct" {
			t.Fatalf("rows %+v: want redirect, then direct", rows)
		}
		for _, r := range rows {
			want := map[string]int{"redirect": 3, "direct": 0}[r.Mode]
			if r.Views != 3 || r.Redirects != want || r.P50ms <= 0 || r.P90ms < r.P50ms {
				t.Errorf("%s: %+v, want 3 views with %d redirects", r.Mode, r, want)
			}
		}
		if rows[1].OverDirectMs != 0 {
			t.Errorf("direct over itself = %v", rows[1].OverDirectMs)
		}
		// Each mode stored every view's own thumbnail in its own store.
		for _, mode := range []string{"redirect", "direct"} {
			for _, key := range []string{"kleiber_200x200_fill.jpg", "kleiber_201x201_fill.jpg", "kleiber_202x202_fill.jpg"} {
				if _, err := os.Stat(filepath.Join(work, "firstview-"+mode, key)); err != nil {
					t.Errorf("%s: %v", mode, err)
				}
			}
		}
	})

	t.Run("worker failing", func(t *testing.T) {
		store := t.TempDir()
		if err := os.WriteFile(filepath.Join(store, "broken.jpg"), []byte("not a JPEG at all"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := workerConfig{binary: bin, quality: 80, measured: 1, timeout: time.Minute}
		start := time.Now()
		_, _, err := benchWorker(ctx, cfg, store, filepath.Join(t.TempDir(), "worker"), []photo{{Name: "broken", Width: 1600, Height: 900}}, v, 1)
		if err == nil || !strings.Contains(err.Error(), "failed") {
			t.Errorf("a job that cannot succeed: %v", err)
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("the failure took %s to show", time.Since(start))
		}
	})

	t.Run("enqueue", func(t *testing.T) {
		tools := os.Getenv("S3THUMB_TEST_TOOLS")
		if tools == "" {
			tools = "../../.tools"
		}
		cfg := enqueueConfig{binary: bin, tools: tools, messages: 250, warmup: 1, measured: 2, suffix: v.suffix}
		res, err := benchEnqueue(ctx, cfg, t.TempDir())
		if errors.Is(err, errNoTools) {
			if os.Getenv("S3THUMB_REQUIRE_TEST_SERVERS") == "1" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.Emulator, "fauxqs ") || res.Messages != 250 || len(res.Rates) != 2 || res.Rate <= 0 || res.ClientCPUus <= 0 || res.ServerCPUus <= 0 {
			t.Errorf("result %+v", res)
		}
	})
}
