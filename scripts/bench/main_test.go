package main

import (
	"io"
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.concurrency, []int{2, 8}) || cfg.rounds != 3 || len(cfg.variants) != 4 || cfg.duration != 10*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	quick, err := parseFlags([]string{"--quick", "--concurrency", "2,4,8"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(quick.concurrency, []int{2}) || quick.rounds != 1 || quick.duration != 2*time.Second {
		t.Errorf("--quick: %+v", quick)
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
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}
