package main

import (
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // descending: percentile must sort
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"p1 of 100", hundred, 1, 1 * time.Millisecond},
		{"p50 of 4 is the 2nd", []time.Duration{4, 1, 3, 2}, 50, 2},
		{"p99 of 4 is the max", []time.Duration{4, 1, 3, 2}, 99, 4},
		{"p50 of 3 is the middle", []time.Duration{30, 10, 20}, 50, 20},
		{"tiny p is the min", []time.Duration{30, 10, 20}, 0.001, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.ds)
			if got := percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
			}
			if !slices.Equal(before, tt.ds) {
				t.Errorf("percentile reordered its input")
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	r := rounds{
		walls:     []time.Duration{2 * time.Second, 1 * time.Second, 4 * time.Second},
		latencies: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		first: []outcome{
			{bytes: 100}, {bytes: 200, meta: 30, kinds: "APP1"}, {bytes: 300, meta: 5, kinds: "COM,APP1"}, {bytes: 400, meta: 30, kinds: "APP1"},
		},
	}
	s := summarize(r, 1200*time.Millisecond, 42e6)
	if want := []float64{2, 4, 1}; !slices.Equal(s.Rates, want) {
		t.Errorf("rates = %v, want %v (4 images per round)", s.Rates, want)
	}
	if s.Rate != 2 {
		t.Errorf("rate = %v, want the median 2", s.Rate)
	}
	if s.Images != 12 || s.CPUms != 100 {
		t.Errorf("images %d, CPU %v ms/image; want 12 and 100", s.Images, s.CPUms)
	}
	if s.OutBytes != 1000 || s.MetaBytes != 65 || s.MetaKinds != "APP1,COM" {
		t.Errorf("bytes %d, metadata %d %q; want 1000, 65 \"APP1,COM\"", s.OutBytes, s.MetaBytes, s.MetaKinds)
	}
	if s.PeakRSS != 42e6 {
		t.Errorf("peak RSS %d", s.PeakRSS)
	}
}
