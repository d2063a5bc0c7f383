package analytics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/accesslog"
	"github.com/s3thumb/s3thumb/analytics/loggen"
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

// BenchmarkAnalyze parses and aggregates generated S3 access log lines
// (uncompressed, in memory) as a run does, on one goroutine, and reports
// lines per second and the heap the state holds at the end. The logs are
// generated a day at a time with the timer stopped, so that memory holds
// one day of logs besides the state, whatever the size.
func BenchmarkAnalyze(b *testing.B) {
	want := benchLines(b)
	cfg := loggen.DefaultConfig()
	cfg.RequestsPerDay = 400_000
	cfg.Days = max(1, want/(cfg.RequestsPerDay*6/5)+1)
	cfg.Originals, cfg.UploadsPerDay = 50_000, 2_000
	b.ReportAllocs()
	var heap uint64
	var lines, size int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g, err := loggen.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		s := analytics.NewState()
		agg := analytics.NewAggregator(s)
		r, err := accesslog.NewReader(nil, analytics.ReaderConfig())
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
			b.StartTimer()
			for _, o := range day {
				if lines >= int64(want) {
					break
				}
				lines += int64(bytes.Count(o, []byte("\n")))
				size += int64(len(o))
				r.Reset(bytes.NewReader(o))
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
		}
		day = nil
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapAlloc)
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	b.SetBytes(size)
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
	b.ReportMetric(float64(lines), "lines")
}
