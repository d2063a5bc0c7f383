package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// outcome is what making one thumbnail produced.
type outcome struct {
	bytes  int64         // thumbnail size
	meta   int64         // metadata bytes in it
	kinds  string        // which metadata, "" when none
	cpu    time.Duration // CPU time of a child process (vipsthumbnail only)
	maxRSS int64         // peak RSS of a child process in bytes (vipsthumbnail only)
}

// makeFunc makes the thumbnail of one photo (one request or one process).
type makeFunc func(ctx context.Context, p photo) (outcome, error)

// rounds is what a run of several rounds over the corpus measured.
type rounds struct {
	walls     []time.Duration // wall time of each measured round
	latencies []time.Duration // every measured thumbnail's latency
	first     []outcome       // the first measured round's outcomes, in corpus order
	cpu       time.Duration   // children's CPU over the measured rounds
	maxRSS    int64           // largest child peak RSS, warm-up included
}

// runRounds makes every photo's thumbnail warmup+measured times, round by
// round, with c workers; each round ends before the next starts. The first
// error stops the run: a benchmark of failures measures nothing.
func runRounds(ctx context.Context, ps []photo, c, warmup, measured int, mk makeFunc) (rounds, error) {
	var r rounds
	for round := range warmup + measured {
		start := time.Now()
		outs, lats, err := runRound(ctx, ps, c, mk)
		if err != nil {
			return r, err
		}
		wall := time.Since(start)
		for _, o := range outs {
			r.maxRSS = max(r.maxRSS, o.maxRSS)
		}
		if round < warmup {
			continue
		}
		if r.first == nil {
			r.first = outs
		}
		r.walls = append(r.walls, wall)
		r.latencies = append(r.latencies, lats...)
		for _, o := range outs {
			r.cpu += o.cpu
		}
	}
	return r, nil
}

// runRound makes each photo's thumbnail once with c workers.
func runRound(ctx context.Context, ps []photo, c int, mk makeFunc) ([]outcome, []time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	outs := make([]outcome, len(ps))
	lats := make([]time.Duration, len(ps))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c, len(ps)) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue // another photo failed: drain, make nothing more
				}
				start := time.Now()
				o, err := mk(ctx, ps[i])
				if err != nil {
					cancel(fmt.Errorf("%s: %w", ps[i].Name, err))
					continue
				}
				lats[i], outs[i] = time.Since(start), o
			}
		})
	}
feed:
	for i := range ps {
		// select picks at random among ready cases: look first, so that a
		// failure stops the feed even while a worker is waiting.
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, nil, err
	}
	return outs, lats, nil
}
