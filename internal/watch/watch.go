// Package watch gives a directory store the event notifications an S3
// bucket sends: a Watcher lists the store every interval and queues, for
// each image object created, replaced or removed since the last listing,
// the very message S3 would send (an s3:ObjectCreated:Put or
// s3:ObjectRemoved:Delete event notification), so that workers handle a
// file replaced by hand exactly as they handle an upload to S3.
package watch

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// Bucket is the bucket name the events name: a directory store has none,
// and workers on one read events of any bucket.
const Bucket = "local"

// Lister lists a store's objects (store.Store does).
type Lister interface {
	List(ctx context.Context, prefix, startAfter string, fn func(store.Attrs) error) error
}

// Sender queues messages (queue.Queue does).
type Sender interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// Watcher turns changes of a store's image objects into S3 event
// notifications on a queue. Create it with New; Run it once.
type Watcher struct {
	st  Lister
	q   Sender
	log *slog.Logger
	// seen is each image object's ETag at the last listing; nil before the
	// first.
	seen map[string]string
}

// New returns a watcher of st that queues events on q.
func New(st Lister, q Sender, log *slog.Logger) *Watcher {
	return &Watcher{st: st, q: q, log: log}
}

// Run lists the store every interval until ctx ends. The first listing
// only learns what is there: changes made while nothing watched are not
// seen here; `s3thumb enqueue --stale-only` finds them.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := w.Scan(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("could not look for changed originals", "err", err)
		} else if n > 0 {
			w.log.Info("queued events for changed objects", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Scan lists the store once and queues an event for each image object
// created, replaced (another ETag) or removed since the previous Scan,
// and returns how many it queued. The first Scan queues none. When the
// events cannot be queued, the next Scan tries them again.
func (w *Watcher) Scan(ctx context.Context) (int, error) {
	now := make(map[string]string, len(w.seen))
	err := w.st.List(ctx, "", "", func(a store.Attrs) error {
		if _, ok := thumbkey.ParseOriginal(a.Key); ok {
			now[a.Key] = a.ETag
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("watch: %w", err)
	}
	if w.seen == nil {
		w.seen = now
		return 0, nil
	}
	at := time.Now()
	var bodies [][]byte
	for key, etag := range now {
		if old, ok := w.seen[key]; !ok || old != etag {
			bodies = append(bodies, queue.EncodeS3Event(Bucket, "ObjectCreated:Put", key, at))
		}
	}
	for key := range w.seen {
		if _, ok := now[key]; !ok {
			bodies = append(bodies, queue.EncodeS3Event(Bucket, "ObjectRemoved:Delete", key, at))
		}
	}
	for batch := range slices.Chunk(bodies, queue.MaxBatch) {
		if err := w.q.Send(ctx, batch); err != nil {
			return 0, fmt.Errorf("watch: queue events: %w", err)
		}
	}
	w.seen = now
	return len(bodies), nil
}
