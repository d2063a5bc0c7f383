package responder

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrOverloaded means every resize slot is busy and the wait queue is full:
// the request is shed with 503 and Retry-After rather than queued without
// bound.
var ErrOverloaded = errors.New("too many thumbnails being made, try again shortly")

// Limiter bounds concurrent resizes with a bounded wait queue. It implements
// thumbnail.Gate.
type Limiter struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
}

// NewLimiter allows slots resizes at once and queueLen more to wait.
func NewLimiter(slots, queueLen int) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(slots, 1)), maxWaiting: int64(max(queueLen, 0))}
}

// Acquire takes a slot, waiting in the queue if there is room in it, and
// fails with ErrOverloaded if there is not.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-l.slots }
	select {
	case l.slots <- struct{}{}:
		return release, nil
	default:
	}
	if l.waiting.Add(1) > l.maxWaiting {
		l.waiting.Add(-1)
		return nil, ErrOverloaded
	}
	defer l.waiting.Add(-1)
	select {
	case l.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
