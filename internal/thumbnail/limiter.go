package thumbnail

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrOverloaded means every resize slot is busy and the wait queue is full:
// the responder sheds the request (503 with Retry-After) rather than queue
// it without bound; a worker retries the job later.
var ErrOverloaded = errors.New("too many thumbnails being made, try again shortly")

// Limiter bounds concurrent resizes with a bounded wait queue: a Gate. The
// responder sizes its queue to shed load; a worker, whose jobs in flight
// may outnumber the CPUs (to overlap store reads and writes), gives every
// job a place in the queue so the CPU-bound part runs one per CPU.
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

// Patient returns a gate on the same slots that never sheds: its callers
// wait for a slot however many others wait. In-process workers use it, so
// that their jobs share the responder's slots without being shed (and
// without taking the places in the queue that requests need).
func (l *Limiter) Patient() Gate { return patientGate{l} }

type patientGate struct{ l *Limiter }

func (g patientGate) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.l.slots <- struct{}{}:
		return func() { <-g.l.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
