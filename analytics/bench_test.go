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
// (uncompressed, in memory, generated once) as a run does, on one
// goroutine, and reports lines per second and the heap the state holds.
func BenchmarkAnalyze(b *testing.B) {
	want := benchLines(b)
	cfg := loggen.DefaultConfig()
	cfg.RequestsPerDay = 400_000
	cfg.Days = max(1, want/(cfg.RequestsPerDay*6/5)+1)
	cfg.Originals, cfg.UploadsPerDay = 50_000, 2_000
	g, err := loggen.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var objects [][]byte
	lines := 0
	sink := loggen.SinkFunc(func(_ context.Context, _ string, body []byte) error {
		if lines < want {
			objects = append(objects, bytes.Clone(body))
			lines += bytes.Count(body, []byte("\n"))
		}
		return nil
	})
	for lines < want && g.DaysLeft() > 0 {
		if err := g.Day(context.Background(), sink); err != nil {
			b.Fatal(err)
		}
	}
	var size int64
	for _, o := range objects {
		size += int64(len(o))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	var heap uint64
	for b.Loop() {
		s := analytics.NewState()
		agg := analytics.NewAggregator(s)
		r, err := accesslog.NewReader(nil, analytics.ReaderConfig())
		if err != nil {
			b.Fatal(err)
		}
		var rec accesslog.Record
		for _, o := range objects {
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
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapAlloc)
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
	b.ReportMetric(float64(lines), "lines")
}
