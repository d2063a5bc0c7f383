package worker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/worker"

	"github.com/s3thumb/s3thumb/internal/testkit"
)

// BenchmarkWorker measures worker throughput (thumbnails made and stored
// per second) on a directory store and a file queue, with the JPEGs in the
// folder S3THUMB_BENCH_IMAGES as originals (skipped when unset), at
// concurrency 1 and 2×CPUs. Each job makes a JPEG of about 200x200 (fill,
// quality 80, the defaults); jobs cycle through the originals, each time one
// pixel larger so every key is new.
//
//	S3THUMB_BENCH_IMAGES=/path/to/jpegs go test -run '^$' -bench BenchmarkWorker -benchtime 200x ./worker/
func BenchmarkWorker(b *testing.B) {
	dir := os.Getenv("S3THUMB_BENCH_IMAGES")
	if dir == "" {
		b.Skip("set S3THUMB_BENCH_IMAGES to a folder of JPEG photographs")
	}
	corpus, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(corpus) == 0 {
		b.Fatalf("no *.jpg in %s: %v", dir, err)
	}
	slices.Sort(corpus)
	for _, c := range []int{1, 2 * runtime.NumCPU()} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			s := newFileSetup(b, queue.Options{})
			var names []string
			for i, path := range corpus {
				data, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				name := fmt.Sprintf("img%03d", i)
				s.putFile(b, name+".jpg", data)
				names = append(names, name)
			}
			keys := make([]string, b.N)
			for i := range keys {
				side := 200 + i/len(names)
				keys[i] = fmt.Sprintf("%s_%dx%d.jpg", names[i%len(names)], side, side)
			}
			for start := 0; start < len(keys); start += 500 {
				sendJobs(b, s.q, keys[start:min(start+500, len(keys))]...)
			}
			cfg := worker.DefaultConfig()
			cfg.Concurrency = c
			cfg.Wait = 100 * time.Millisecond
			cfg.DepthInterval = 0
			st := newCountingStore(s.store)
			b.ResetTimer()
			start := time.Now()
			r := startWorker(b, cfg, s.q, newMaker(b, st, nil))
			testkit.WaitFor(b, time.Hour, "every job", func() bool { return totalJobs(b, r.reg) >= b.N })
			elapsed := time.Since(start)
			b.StopTimer()
			r.stop(b)
			if done := jobs(b, r.reg, worker.Done, worker.ReasonMade); done != b.N {
				b.Fatalf("%d of %d jobs made a thumbnail", done, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "thumbnails/s")
		})
	}
}
