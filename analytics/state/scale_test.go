package state

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// scaleThumbs is how many thumbnails BenchmarkStateScale tracks:
// S3THUMB_STATE_THUMBS, default 1,000,000 (the figure is 20
// million: about 10 GB of memory for the state and its copies).
func scaleThumbs(b *testing.B) int {
	if v := os.Getenv("S3THUMB_STATE_THUMBS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("S3THUMB_STATE_THUMBS=%q: want a number of at least 1000", v)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkStateScale synthesises a state of many tracked thumbnails with
// the log generator's shapes (six sizes an original, Zipf-like reads, a
// week of per-day counts for originals and classes, record identities of
// two days) and reports what it costs: heap bytes per thumbnail, the
// snapshot's bytes per thumbnail, and the time to save and to load it.
func BenchmarkStateScale(b *testing.B) {
	n := scaleThumbs(b)
	classes := []string{"_200x200.jpg", "_400x.jpg", "_800x600_fit.jpg", "_200x200.webp", "_400x.webp", "_400x@2x.jpg"}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Unix()
	day := DayOf(now)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewState()
	s.Last, s.First = now, now-14*86400
	for i := range n {
		stem := fmt.Sprintf("photos/%04d/img%08d", i/6/1000, i/6)
		t := s.Thumb(stem + classes[i%6])
		reads := int64(rng.ExpFloat64() * 5)
		t.Reads, t.Misses, t.LastRead, t.FirstSeen = reads, 1, now-rng.Int64N(14*86400), now-14*86400
		t.Exists, t.Size, t.LastWrite, t.Role = Stored, 5_000+rng.Int64N(50_000), now-rng.Int64N(30*86400), RoleThumbnail
		t.ExistsAt = t.LastWrite*8 + 2
		if i%6 == 0 {
			o := s.OriginalOf(t)
			for d := day - 6; d <= day; d++ {
				o.Add(int64(d)*86400, d, false)
			}
			o.AddClient(rng.Uint64(), day)
		}
	}
	for i := range n / 2 { // two days of record identities: a few per thumbnail
		s.Seen.Add(now-int64(i%48)*3600, rng.Uint64())
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	var snapshot []byte
	var save, load time.Duration
	for b.Loop() {
		start := time.Now()
		snapshot = encodeBinary(snapshot[:0], s)
		save += time.Since(start)
		start = time.Now()
		if _, err := decodeBinary(snapshot); err != nil {
			b.Fatal(err)
		}
		load += time.Since(start)
	}
	b.ReportMetric(float64(n), "thumbnails")
	b.ReportMetric(heap, "heap-B/thumb")
	b.ReportMetric(float64(len(snapshot))/float64(n), "snapshot-B/thumb")
	b.ReportMetric(save.Seconds()/float64(b.N), "save-s")
	b.ReportMetric(load.Seconds()/float64(b.N), "load-s")
}
