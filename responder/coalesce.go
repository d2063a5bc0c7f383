package responder

import (
	"fmt"
	"sync"

	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// coalescer runs one flight per key: concurrent requests for the same missing
// thumbnail share one resize and one store-back. Flights run detached from
// the requests that started them, so a client that hangs up does not cancel
// the work the others wait for; wait blocks until every flight has ended.
type coalescer struct {
	mu      sync.Mutex
	flights map[string]*flight
	running sync.WaitGroup
}

type flight struct {
	done chan struct{}
	res  *thumbnail.Result
	err  error
}

// do starts fn as the flight for key, or joins the one already running.
// joined reports whether the caller joined another request's flight.
func (c *coalescer) do(key string, fn func() (*thumbnail.Result, error)) (f *flight, joined bool) {
	c.mu.Lock()
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		return f, true
	}
	if c.flights == nil {
		c.flights = make(map[string]*flight)
	}
	f = &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.running.Add(1)
	c.mu.Unlock()

	go func() {
		defer c.running.Done()
		defer close(f.done)
		defer func() {
			c.mu.Lock()
			delete(c.flights, key)
			c.mu.Unlock()
		}()
		defer func() {
			if p := recover(); p != nil {
				f.err = fmt.Errorf("thumbnail %s: panic: %v", key, p)
			}
		}()
		f.res, f.err = fn()
	}()
	return f, false
}

// wait blocks until every running flight has ended.
func (c *coalescer) wait() { c.running.Wait() }
