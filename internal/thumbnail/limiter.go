package thumbnail

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
// with the process's own share (the originals read, the Go heap) peak RSS
// stayed under 600 MB in the README's measurements, 16 clients asking for
// 20 MP progressive JPEGs.
const DefaultMaxMemory = 384 << 20

// Order is how the resizes waiting for a slot are ordered.
type Order int

const (
	// OrderArrival serves waiting resizes first come, first served: the
	// default. It gives the lowest tail latency under overload, where the
	// tail is the largest originals: on the benchmark (8 clients, 2 CPUs,
	// 20 photographs of 2 to 20 MP) its p99 was 120-143 ms against
	// OrderShortest's 199-221 for 200-pixel thumbnails and 470 against 647
	// ms for 1024-wide ones, for a p50 of 62 against 55 and 176 against
	// 157 ms.
	OrderArrival Order = iota
	// OrderShortest gives a free slot to the waiting resize whose
	// estimated work ends soonest, with ageing: each waits as if it had
	// arrived ageing times its estimated work later (SetOrder). A small
	// photo then overtakes a large one that arrived less than ageing times
	// the large one's work before it, and every resize is served after at
	// most the ones that arrived before its arrival plus ageing times its
	// work: none starves. It lowers the median latency and raises the
	// tail (see OrderArrival).
	OrderShortest
)

// DefaultAgeing is OrderShortest's default factor: a resize estimated at
// 100 ms is ordered as if it had arrived 100 ms after it did. Larger
// factors favour small originals more and keep large ones waiting longer
// (the benchmark's p99, made of the large ones, grew with 4).
const DefaultAgeing = 1.0

// ParseOrder reads "shortest" or "arrival".
func ParseOrder(s string) (Order, error) {
	switch s {
	case "shortest":
		return OrderShortest, nil
	case "arrival":
		return OrderArrival, nil
	}
	return 0, fmt.Errorf("queue order %q: want shortest or arrival", s)
}

// Limiter bounds concurrent resizes with a bounded wait queue: a Gate. The
// responder sizes its queue to shed load; a worker, whose jobs in flight
// may outnumber the CPUs (to overlap store reads and writes), gives every
// job a place in the queue so the CPU-bound part runs one per CPU.
//
// A job is admitted first (Admit: a place among those that may wait, shed
// when there is none), reads its original, and then waits for a slot with
// the work its header promises (Ticket.Acquire); the slots go to the
// waiting jobs in the limiter's Order.
//
// It also holds the memory budget: a resize reserves what decoding its
// original will hold (imaging's Cost) before it starts, and waits while the
// resizes in flight hold too much of it.
type Limiter struct {
	mu    sync.Mutex
	free  int       // slots not held
	queue waitQueue // jobs waiting for a slot
	epoch time.Time // arrival times are counted from here
	order Order
	// ageing is OrderShortest's factor (see DefaultAgeing).
	ageing float64
	// admitted counts the jobs admitted and not yet released: holding a
	// slot, waiting for one, or reading their original before they ask.
	admitted  int64
	maxAdmit  int64
	waiting   atomic.Int64 // jobs in the queue
	seq       uint64
	memory    *semaphore.Weighted
	maxMemory int64
}

// NewLimiter allows slots resizes at once and queueLen more to wait, with
// memory bytes of decoding in flight (0: no bound), serving the waiting
// ones in arrival order (see SetOrder).
func NewLimiter(slots, queueLen int, memory int64) *Limiter {
	slots = max(slots, 1)
	l := &Limiter{free: slots, epoch: time.Now(), ageing: DefaultAgeing, maxAdmit: int64(slots) + int64(max(queueLen, 0)), maxMemory: memory}
	if memory > 0 {
		l.memory = semaphore.NewWeighted(memory)
	}
	return l
}

// SetOrder sets the order of the waiting queue and, for OrderShortest, the
// ageing factor (at least 0; 0 orders by estimated work alone, which can
// starve a large original under a steady stream of small ones). Call it
// before use.
func (l *Limiter) SetOrder(o Order, ageing float64) {
	l.order, l.ageing = o, max(ageing, 0)
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
// fails with ErrOverloaded if there is not. It is Admit and then the
// ticket's Acquire with no estimate of the work (served in arrival order
// among such jobs).
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	t, err := l.Admit(ctx)
	if err != nil {
		return nil, err
	}
	return t.Acquire(ctx, 0)
}

// Admit gives the job a place among those holding or waiting for a slot,
// or fails with ErrOverloaded when every place is taken. The ticket must
// be used (Acquire) or given back (Cancel) once.
func (l *Limiter) Admit(ctx context.Context) (Ticket, error) {
	return l.admit(ctx, true)
}

func (l *Limiter) admit(ctx context.Context, shed bool) (Ticket, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if shed {
		if l.admitted >= l.maxAdmit {
			return nil, ErrOverloaded
		}
		l.admitted++
	}
	return &ticket{l: l, arrival: time.Since(l.epoch), counted: shed}, nil
}

// Ticket is an admitted job's place: Acquire waits for a slot.
type Ticket interface {
	// Acquire waits for a slot, served in the limiter's order by work,
	// the job's estimated duration (0: unknown).
	Acquire(ctx context.Context, work time.Duration) (release func(), err error)
	// Cancel gives the place back without taking a slot.
	Cancel()
}

type ticket struct {
	l       *Limiter
	arrival time.Duration
	// counted is set for a job that took one of the places (a patient
	// one waits beside them).
	counted bool
	done    bool
}

// leaveLocked gives the job's place back.
func (t *ticket) leaveLocked() {
	if t.counted {
		t.l.admitted--
	}
}

func (t *ticket) Cancel() {
	if t.done {
		return
	}
	t.done = true
	t.l.mu.Lock()
	t.leaveLocked()
	t.l.mu.Unlock()
}

func (t *ticket) Acquire(ctx context.Context, work time.Duration) (func(), error) {
	if t.done {
		return nil, errors.New("thumbnail: ticket used twice")
	}
	t.done = true
	l := t.l
	l.mu.Lock()
	if l.free > 0 && l.queue.Len() == 0 {
		l.free--
		l.mu.Unlock()
		return t.releaser(), nil
	}
	key := t.arrival
	if l.order == OrderShortest {
		key += time.Duration(l.ageing * float64(work))
	}
	w := &waiter{key: key, seq: l.seq, ready: make(chan struct{})}
	l.seq++
	heap.Push(&l.queue, w)
	l.waiting.Add(1)
	l.mu.Unlock()
	select {
	case <-w.ready:
		return t.releaser(), nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.index < 0 { // granted as the context ended: give the slot on
			l.releaseLocked()
		} else {
			heap.Remove(&l.queue, w.index)
			l.waiting.Add(-1)
		}
		t.leaveLocked()
		return nil, ctx.Err()
	}
}

// releaser returns the release of the job's slot, callable once.
func (t *ticket) releaser() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			t.l.mu.Lock()
			t.l.releaseLocked()
			t.leaveLocked()
			t.l.mu.Unlock()
		})
	}
}

// releaseLocked hands a slot to the first waiting job, or frees it.
func (l *Limiter) releaseLocked() {
	if l.queue.Len() == 0 {
		l.free++
		return
	}
	w := heap.Pop(&l.queue).(*waiter)
	l.waiting.Add(-1)
	close(w.ready)
}

// waiter is a job waiting for a slot; index is its place in the heap, -1
// once it has been given a slot.
type waiter struct {
	key   time.Duration
	seq   uint64
	ready chan struct{}
	index int
}

// waitQueue is a min-heap of waiters by key, then arrival.
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(i, j int) bool {
	return q[i].key < q[j].key || (q[i].key == q[j].key && q[i].seq < q[j].seq)
}
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*q = old[:len(old)-1]
	return w
}

// Patient returns a gate on the same slots that never sheds: its callers
// wait for a slot however many others wait. In-process workers use it, so
// that their jobs share the responder's slots without being shed (and
// without taking the places in the queue that requests need).
func (l *Limiter) Patient() PatientGate { return PatientGate{l} }

// PatientGate is Limiter.Patient's gate.
type PatientGate struct{ l *Limiter }

// Reserve takes bytes of the shared memory budget.
func (g PatientGate) Reserve(ctx context.Context, bytes int64) (func(), error) {
	return g.l.Reserve(ctx, bytes)
}

// Admit gives the job a place, always.
func (g PatientGate) Admit(ctx context.Context) (Ticket, error) { return g.l.admit(ctx, false) }

// Acquire waits for a slot with no estimate of the work.
func (g PatientGate) Acquire(ctx context.Context) (release func(), err error) {
	t, err := g.l.admit(ctx, false)
	if err != nil {
		return nil, err
	}
	return t.Acquire(ctx, 0)
}
