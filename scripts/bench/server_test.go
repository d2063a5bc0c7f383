package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (s3 (thumb) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 9999 123456789 4321 18446744073709551615\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Errorf("CPU = %v, want %v (325 ticks)", got, want)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 eleven 12"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestProcOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ { // burn some CPU
		_ = n * n
	}
	cpu, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 {
		t.Errorf("own CPU time %v after a busy loop", cpu)
	}
	rss, err := procPeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("own peak RSS %d bytes", rss)
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\ts3thumb\nVmPeak:\t 1000 kB\nVmHWM:\t  345678 kB\nVmRSS:\t 1 kB\n"
	got, err := parseStatusKB([]byte(status), "VmHWM")
	if err != nil || got != 345678*1024 {
		t.Errorf("VmHWM = %d, %v; want %d", got, err, 345678*1024)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("missing field found")
	}
	if _, err := parseStatusKB([]byte("VmHWM:\t12 pages\n"), "VmHWM"); err == nil {
		t.Error("wrong unit accepted")
	}
}

func TestParseMetric(t *testing.T) {
	body := []byte(`# HELP s3thumb_resize_duration_seconds Time to resize.
# TYPE s3thumb_resize_duration_seconds histogram
s3thumb_resize_duration_seconds_bucket{le="0.005"} 0
s3thumb_resize_duration_seconds_sum 12.5
s3thumb_resize_duration_seconds_count 48
s3thumb_coalesced_requests_total 0
`)
	tests := []struct {
		name string
		want float64
		ok   bool
	}{
		{"s3thumb_resize_duration_seconds_count", 48, true},
		{"s3thumb_coalesced_requests_total", 0, true},
		{"s3thumb_resize_duration_seconds", 0, false}, // only prefixes of other series
		{"s3thumb_shed_requests_total", 0, false},
	}
	for _, tt := range tests {
		got, err := parseMetric(body, tt.name)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseMetric(%s) = %v, %v; want %v ok=%v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestServingAddr(t *testing.T) {
	tests := map[string]string{
		`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"serving","addr":"http://127.0.0.1:41234"}`: "127.0.0.1:41234",
		`{"level":"INFO","msg":"stopped"}`:                         "",
		`time=2026 level=INFO msg=serving addr=http://127.0.0.1:1`: "",
		``: "",
	}
	for line, want := range tests {
		if got := servingAddr([]byte(line)); got != want {
			t.Errorf("servingAddr(%s) = %q, want %q", line, got, want)
		}
	}
}

func TestTail(t *testing.T) {
	tl := &tail{max: 2}
	for _, l := range []string{"a", "b", "c"} {
		tl.add(l)
	}
	if got := tl.String(); got != "b\nc" {
		t.Errorf("tail = %q, want the last two lines", got)
	}
}
