package thumbnail

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestLimiterStress: jobs that time out, cancel and release twice leave the
// limiter with every slot back, nobody admitted or queued, and never more
// than its slots at work.
func TestLimiterStress(t *testing.T) {
	l := NewLimiter(2, 5, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	inside, maxInside := 0, 0
	for i := range 400 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
			defer cancel()
			tk, err := l.Admit(ctx)
			if err != nil {
				return
			}
			if i%7 == 0 {
				tk.Cancel()
				return
			}
			rel, err := tk.Acquire(ctx, time.Duration(rand.IntN(100))*time.Millisecond)
			if err != nil {
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(200 * time.Microsecond)
			mu.Lock()
			inside--
			mu.Unlock()
			rel()
			rel()
		})
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free != 2 || l.admitted != 0 || l.queue.Len() != 0 || l.waiting.Load() != 0 || maxInside > 2 {
		t.Fatalf("after: free %d admitted %d queue %d waiting %d maxInside %d", l.free, l.admitted, l.queue.Len(), l.waiting.Load(), maxInside)
	}
}
