package thumbnail

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiterSheds(t *testing.T) {
	l := NewLimiter(1, 1)
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
