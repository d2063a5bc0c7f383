package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunRounds(t *testing.T) {
	ps := []photo{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}
	var mu sync.Mutex
	calls := map[string]int{}
	var inFlight, most atomic.Int32
	mk := func(ctx context.Context, p photo) (outcome, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		calls[p.Name]++
		round := calls[p.Name]
		mu.Unlock()
		// The warm-up round's child would have the largest RSS.
		rss := int64(100)
		if round == 1 {
			rss = 500
		}
		return outcome{bytes: int64(len(p.Name)), cpu: time.Millisecond, maxRSS: rss}, nil
	}
	r, err := runRounds(context.Background(), ps, 2, 1, 3, mk)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if calls[p.Name] != 4 {
			t.Errorf("%s made %d times, want 4 (1 warm-up + 3)", p.Name, calls[p.Name])
		}
	}
	if len(r.walls) != 3 || len(r.latencies) != 15 || len(r.first) != 5 {
		t.Errorf("%d rounds, %d latencies, %d outcomes; want 3, 15, 5", len(r.walls), len(r.latencies), len(r.first))
	}
	if r.cpu != 15*time.Millisecond {
		t.Errorf("CPU %v, want 15ms: the warm-up is not counted", r.cpu)
	}
	if r.maxRSS != 500 {
		t.Errorf("max RSS %d, want 500: the warm-up's peak counts", r.maxRSS)
	}
	if got := most.Load(); got != 2 {
		t.Errorf("at most %d at once, want 2", got)
	}
	for _, l := range r.latencies {
		if l < 2*time.Millisecond {
			t.Errorf("latency %v shorter than the work", l)
		}
	}
}

func TestRunRoundsStopsAtFirstError(t *testing.T) {
	ps := make([]photo, 50)
	for i := range ps {
		ps[i].Name = fmt.Sprint(i)
	}
	boom := errors.New("boom")
	var made atomic.Int32
	mk := func(ctx context.Context, p photo) (outcome, error) {
		made.Add(1)
		if p.Name == "3" {
			return outcome{}, boom
		}
		return outcome{}, nil
	}
	// One worker, so that the failure is known before anything else
	// starts: photos 0 to 3 are made, nothing after. (With more workers
	// another may make any number while the failing one is descheduled
	// between its failure and the cancel.) The feed's select may still
	// hand the worker a photo after the cancel: it must not make it.
	for range 200 {
		made.Store(0)
		_, err := runRounds(context.Background(), ps, 1, 0, 5, mk)
		if !errors.Is(err, boom) {
			t.Fatalf("error %v, want boom", err)
		}
		if n := made.Load(); n != 4 {
			t.Fatalf("%d thumbnails made, want 4: the run should stop at the error", n)
		}
	}
}

func TestRunRoundsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mk := func(ctx context.Context, p photo) (outcome, error) { return outcome{}, ctx.Err() }
	if _, err := runRounds(ctx, []photo{{Name: "a"}}, 1, 0, 1, mk); err == nil {
		t.Error("a cancelled run succeeded")
	}
}
