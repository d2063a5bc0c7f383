//go:build !noprefetch

package state

// Whether the prefetch pays is measured with and without it (the build tag
// noprefetch leaves it out), in turn, on the analyzer's benchmark:
//
//	go test -c -o pf.test ./analytics && go test -tags noprefetch -c -o nopf.test ./analytics
//	S3THUMB_BENCH_LINES=3000000 GOMAXPROCS=1 ./pf.test -test.run '^$' -test.bench '^BenchmarkAnalyze$' -test.benchtime 1x
//
// Five pairs on 2026-12-06: 1.25 M lines per CPU-second with it, 1.21 M
// without (median pair ratio 1.04).

// prefetch asks the processor to start loading the cache line of s without
// waiting for it (an instruction that cannot fault), so that a lookup
// reading s a little later finds it in the cache.
//
//go:noescape
func prefetch(s *keySlot)
