package thumbnail

import (
	"context"
	"errors"
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
