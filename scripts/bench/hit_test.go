package main

import (
	"testing"
	"time"
)

// wrkReport is wrk 4.1's output for a run with --latency.
const wrkReport = `Running 10s test @ http://127.0.0.1:41234/kleiber_400x400_fill.jpg
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  30.12ms   80.00%
    Req/Sec     6.30k   500.12     7.10k    70.00%
  Latency Distribution
     50%  768.00us
     75%    1.96ms
     90%    7.79ms
     99%   45.60ms
  125123 requests in 10.02s, 2.40GB read
Requests/sec:  12487.32
Transfer/sec:    245.06MB
`

func TestParseWrk(t *testing.T) {
	w, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	if w.requests != 125123 || w.seconds != 10.02 || w.rate != 12487.32 {
		t.Errorf("requests %d in %v s at %v/s", w.requests, w.seconds, w.rate)
	}
	if w.p50 != 768*time.Microsecond || w.p99 != 45600*time.Microsecond {
		t.Errorf("p50 %v p99 %v", w.p50, w.p99)
	}
	if want := 2.40 * (1 << 30); w.bytesRead != want {
		t.Errorf("bytes read %v, want %v", w.bytesRead, want)
	}
	if w.non2xx != 0 || w.socketErrors != 0 {
		t.Errorf("errors %d %d in a clean run", w.non2xx, w.socketErrors)
	}
}

func TestParseWrkErrors(t *testing.T) {
	report := wrkReport + "  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 17\n"
	w, err := parseWrk(report)
	if err != nil {
		t.Fatal(err)
	}
	if w.non2xx != 17 || w.socketErrors != 6 {
		t.Errorf("non-2xx %d, socket errors %d; want 17 and 6", w.non2xx, w.socketErrors)
	}
	for name, out := range map[string]string{
		"empty":      "",
		"no latency": "  10 requests in 1.00s, 1.00KB read\nRequests/sec: 10.00\n",
		"no rate":    "  10 requests in 1.00s, 1.00KB read\n     50%  1.00ms\n     99%  2.00ms\n",
		"no totals":  "Requests/sec: 10.00\n     50%  1.00ms\n     99%  2.00ms\n",
	} {
		if _, err := parseWrk(out); err == nil {
			t.Errorf("%s: parseWrk succeeded", name)
		}
	}
}
