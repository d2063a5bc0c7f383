package thumbnail

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// ErrOverloaded means every resize slot is busy and the wait queue is full:
// the responder sheds the request (503 with Retry-After) rather than queue
// it without bound; a worker retries the job later.
var ErrOverloaded = errors.New("too many thumbnails being made, try again shortly")

// ErrTooMuchMemory means decoding the original alone needs more memory than
// the whole budget (--max-memory): it can never be made here. It wraps
// ErrOriginalTooLarge.
var ErrTooMuchMemory = fmt.Errorf("%w: decoding it needs more memory than the limit", ErrOriginalTooLarge)

// DefaultMaxMemory is the default memory budget of the resizes in flight:
// with the process's own share it keeps peak RSS under 500 MB (see the
// README's measurements).
const DefaultMaxMemory = 384 << 20

// Limiter bounds concurrent resizes with a bounded wait queue: a Gate. The
// responder sizes its queue to shed load; a worker, whose jobs in flight
// may outnumber the CPUs (to overlap store reads and writes), gives every
// job a place in the queue so the CPU-bound part runs one per CPU.
//
// It also holds the memory budget: a resize reserves what decoding its
// original will hold (imaging's Cost) before it starts, and waits while the
// resizes in flight hold too much of it.
type Limiter struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	memory     *semaphore.Weighted
	maxMemory  int64
}

// NewLimiter allows slots resizes at once and queueLen more to wait, with
// memory bytes of decoding in flight (0: no bound).
func NewLimiter(slots, queueLen int, memory int64) *Limiter {
	l := &Limiter{slots: make(chan struct{}, max(slots, 1)), maxWaiting: int64(max(queueLen, 0)), maxMemory: memory}
	if memory > 0 {
		l.memory = semaphore.NewWeighted(memory)
	}
	return l
}

// Reserve takes bytes of the memory budget, waiting (first come, first
// served) while the resizes in flight hold too much of it; it fails at once
// with ErrTooMuchMemory when bytes exceed the whole budget.
func (l *Limiter) Reserve(ctx context.Context, bytes int64) (release func(), err error) {
	if l.memory == nil {
		return func() {}, nil
	}
	if bytes > l.maxMemory {
		return nil, fmt.Errorf("%w: about %d MB, the limit is %d MB", ErrTooMuchMemory, bytes>>20, l.maxMemory>>20)
	}
	if err := l.memory.Acquire(ctx, bytes); err != nil {
		return nil, err
	}
	return func() { l.memory.Release(bytes) }, nil
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

func (g patientGate) Reserve(ctx context.Context, bytes int64) (func(), error) {
	return g.l.Reserve(ctx, bytes)
}

func (g patientGate) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.l.slots <- struct{}{}:
		return func() { <-g.l.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
