package analytics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/loggen"
)

// benchLines is how many log lines BenchmarkAnalyze generates:
// S3THUMB_BENCH_LINES, default 200,000 so that go test -bench stays quick.
// The figure is for 10,000,000 or more.
func benchLines(b *testing.B) int {
	if v := os.Getenv("S3THUMB_BENCH_LINES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("S3THUMB_BENCH_LINES=%q: want a number of at least 1000", v)
		}
		return n
	}
	return 200_000
}

// cpuTime is the CPU time (user and system) the process has used, and its
// peak resident set in bytes.
func cpuTime(b *testing.B) (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss * 1024 // Linux: kilobytes
}

// BenchmarkAnalyze parses and aggregates generated S3 access log lines
// (uncompressed, in memory) as a run does, on one goroutine, and reports:
// lines/s (wall clock, the target is 1,000,000 on one core: run
// with GOMAXPROCS=1, reported as procs), lines/cpu-s (CPU time of the
// whole process, garbage collector included, which a loaded machine
// changes less), state-MB (the heap the state and aggregator hold at the
// end, after a collection) and peak-rss-MB (the process's peak resident
// set, which also holds the generator and one day of logs).
//
// The logs are generated a day at a time with the timer stopped, followed
// by a collection, so that memory holds one day of logs besides the
// state, whatever the size, and the timed part pays for no garbage of the
// generator's.
func BenchmarkAnalyze(b *testing.B) {
	want := benchLines(b)
	cfg := loggen.DefaultConfig()
	cfg.RequestsPerDay = 400_000
	cfg.Days = max(1, want/(cfg.RequestsPerDay*6/5)+1)
	cfg.Originals, cfg.UploadsPerDay = 50_000, 2_000
	// What the bucket held before the logs changes hits into misses, not
	// the work of parsing and counting: no warm-up, and no 20,000 more
	// originals uploaded during one.
	cfg.WarmupDays = 0
	b.ReportAllocs()
	var heap uint64
	var lines, size int64
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g, err := loggen.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		s := state.NewState()
		agg := analytics.NewAggregator(s)
		r, err := accesslog.NewReader(nil, agg.ReaderConfig())
		if err != nil {
			b.Fatal(err)
		}
		var rec accesslog.Record
		var day [][]byte
		sink := loggen.SinkFunc(func(_ context.Context, _ string, body []byte) error {
			day = append(day, bytes.Clone(body))
			return nil
		})
		lines, size = 0, 0
		for lines < int64(want) && g.DaysLeft() > 0 {
			day = day[:0]
			if err := g.Day(context.Background(), sink); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			before, _ := cpuTime(b)
			b.StartTimer()
			for _, o := range day {
				if lines >= int64(want) {
					break
				}
				lines += int64(bytes.Count(o, []byte("\n")))
				size += int64(len(o))
				r.ResetBytes(o)
				for {
					err := r.Read(&rec)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					agg.Add(&rec)
				}
			}
			b.StopTimer()
			after, _ := cpuTime(b)
			cpu += after - before
		}
		day = nil
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapAlloc)
		b.Logf("%d lines: %d thumbnails, %d originals, %d classes in the state", lines, s.Thumbs.Len(), len(s.Originals), len(s.Classes))
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	_, rss := cpuTime(b)
	b.SetBytes(size)
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(lines)*float64(b.N)/cpu.Seconds(), "lines/cpu-s")
	b.ReportMetric(float64(heap)/(1<<20), "state-MB")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	b.ReportMetric(float64(lines), "lines")
}
