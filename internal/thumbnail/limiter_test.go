package thumbnail

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestLimiterSheds(t *testing.T) {
	l := NewLimiter(1, 1, 0)
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error)
	go func() {
		r, err := l.Acquire(context.Background())
		if err == nil {
			r()
		}
		waited <- err
	}()
	// The second caller waits in the queue; a third is shed.
	deadline := time.Now().Add(5 * time.Second)
	for l.waiting.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third Acquire = %v, want ErrOverloaded", err)
	}
	release()
	if err := <-waited; err != nil {
		t.Fatalf("queued Acquire = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire with a free slot = %v", err)
	}
	r()
}

// TestPatientGateSharesSlots: the patient view waits for the same slots and
// is never shed, however full the queue is.
func TestPatientGateSharesSlots(t *testing.T) {
	l := NewLimiter(1, 0, 0)
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("shedding Acquire with no queue = %v, want ErrOverloaded", err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := l.Patient().Acquire(context.Background())
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("patient Acquire returned %v while the slot was taken", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-got; err != nil {
		t.Fatalf("patient Acquire = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := l.Acquire(context.Background())
	defer r()
	cancel()
	if _, err := l.Patient().Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("patient Acquire with a cancelled context = %v", err)
	}
}

// TestMemoryBudget: reservations that together exceed the budget wait for
// each other; one that alone exceeds it is refused at once; a wait ends
// with its context; the patient view shares the budget.
func TestMemoryBudget(t *testing.T) {
	l := NewLimiter(4, 4, 100)
	if _, err := l.Reserve(context.Background(), 101); !errors.Is(err, ErrTooMuchMemory) || !errors.Is(err, ErrOriginalTooLarge) {
		t.Fatalf("Reserve over the whole budget = %v, want ErrTooMuchMemory", err)
	}
	first, err := l.Reserve(context.Background(), 70)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Patient().Reserve(ctx, 40); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reserve past the budget while it is held = %v, want to wait until the deadline", err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := l.Reserve(context.Background(), 40)
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Reserve of 40 with 70 of 100 held returned %v, want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	first()
	if err := <-got; err != nil {
		t.Fatalf("Reserve after the release = %v", err)
	}
	if r, err := NewLimiter(1, 1, 0).Reserve(context.Background(), 1<<40); err != nil {
		t.Errorf("Reserve with no budget = %v, want no bound", err)
	} else {
		r()
	}
}

// queueJobs holds l's only slot, queues one job per work (in that order,
// each queued before the next is admitted, pausing after the job named in
// pause), releases the slot and returns the order in which the jobs got it.
func queueJobs(t *testing.T, l *Limiter, works []time.Duration, pauseAfter int, pause time.Duration) []int {
	t.Helper()
	hold, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, len(works))
	for i, w := range works {
		tk, err := l.Admit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			r, err := tk.Acquire(context.Background(), w)
			if err != nil {
				t.Error(err)
				return
			}
			got <- i
			r()
		}()
		deadline := time.Now().Add(5 * time.Second)
		for l.waiting.Load() != int64(i+1) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if i == pauseAfter {
			time.Sleep(pause)
		}
	}
	hold()
	var order []int
	for range works {
		order = append(order, <-got)
	}
	return order
}

// TestLimiterShortestFirst: the waiting jobs get the slot in arrival
// order by default; by their estimated work, least first, when told so.
func TestLimiterShortestFirst(t *testing.T) {
	works := []time.Duration{300 * time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, 0}
	shortest := NewLimiter(1, 10, 0)
	shortest.SetOrder(OrderShortest, DefaultAgeing)
	if got, want := queueJobs(t, shortest, works, -1, 0), []int{3, 1, 2, 0}; !slices.Equal(got, want) {
		t.Errorf("shortest first: served %v, want %v", got, want)
	}
	if got, want := queueJobs(t, NewLimiter(1, 10, 0), works, -1, 0), []int{0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("arrival order (the default): served %v, want %v", got, want)
	}
}

// TestLimiterAgeing: a long job is overtaken by short ones that arrive
// soon after it, but not by those that arrive more than the ageing factor
// times its work later: it does not starve however many short jobs keep
// coming.
func TestLimiterAgeing(t *testing.T) {
	long := 50 * time.Millisecond
	works := []time.Duration{long, 0, 0}
	for _, ageing := range []float64{1, 4} {
		l := NewLimiter(1, 10, 0)
		l.SetOrder(OrderShortest, ageing)
		// Job 1 arrives just after the long one; job 2 well after the
		// long one's key (its arrival plus ageing × 50 ms).
		later := time.Duration(ageing*float64(long)) + 100*time.Millisecond
		got := queueJobs(t, l, works, 1, later)
		if want := []int{1, 0, 2}; !slices.Equal(got, want) {
			t.Errorf("ageing %v: served %v, want %v: the long job must go after the short job that came with it and before the one that came %v later", ageing, got, want, later)
		}
	}
}

// TestLimiterCancelledWaitLeaves: a job whose context ends while it waits
// leaves the queue and its place, and the slot goes to the next.
func TestLimiterCancelledWaitLeaves(t *testing.T) {
	l := NewLimiter(1, 1, 0)
	hold, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while the slot is held = %v, want the deadline", err)
	}
	// Its place in the queue is free again.
	tk, err := l.Admit(context.Background())
	if err != nil {
		t.Fatalf("Admit after a cancelled wait = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := tk.Acquire(context.Background(), time.Second)
		if err == nil {
			r()
		}
		done <- err
	}()
	hold()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l.waiting.Load() != 0 || l.admitted != 0 || l.free != 1 {
		t.Errorf("after all: waiting %d, admitted %d, free %d; want 0, 0, 1", l.waiting.Load(), l.admitted, l.free)
	}
}
