package main

import (
	"io"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.concurrency, []int{2, 8}) || cfg.rounds != 3 || len(cfg.variants) != 6 || cfg.duration != 10*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	quick, err := parseFlags([]string{"--quick", "--concurrency", "2,4,8"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(quick.concurrency, []int{2}) || quick.rounds != 1 || quick.duration != 2*time.Second {
		t.Errorf("--quick: %+v", quick)
	}
	if !slices.Equal(cfg.workerConcurrency, []int{1, 2 * runtime.NumCPU()}) || cfg.workerVariant.suffix != "200x200_fill.jpg" ||
		cfg.enqueueMessages != 20000 || cfg.noWorker || cfg.noEnqueue {
		t.Errorf("worker and enqueue defaults: %+v", cfg)
	}
	if !slices.Equal(quick.workerConcurrency, cfg.workerConcurrency) || quick.enqueueMessages != 2000 {
		t.Errorf("--quick worker and enqueue: %v, %d messages", quick.workerConcurrency, quick.enqueueMessages)
	}
	skip, err := parseFlags([]string{"--no-worker", "--no-enqueue", "--worker-concurrency", "3", "--worker-variant", "400x_fit.webp", "--enqueue-messages", "500"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !skip.noWorker || !skip.noEnqueue || !slices.Equal(skip.workerConcurrency, []int{3}) || skip.workerVariant.suffix != "400x_fit.webp" || skip.enqueueMessages != 500 {
		t.Errorf("worker and enqueue flags: %+v", skip)
	}
	for _, bad := range [][]string{
		{"--rounds", "0"},
		{"--concurrency", "0"},
		{"--concurrency", "two"},
		{"--concurrency", ""},
		{"--variants", "200x200.jpg"},
		{"--quality", "101"},
		{"--duration", "10ms"},
		{"--connections", "0"},
		{"--slots", "-1"},
		{"--images", "0"},
		{"--worker-concurrency", "0"},
		{"--worker-variant", "200x200.png"},
		{"--enqueue-messages", "5"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}
