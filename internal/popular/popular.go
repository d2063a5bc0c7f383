// Package popular is the contract between the analyzer and the workers:
// the size classes the analyzer found popular, published as one JSON object
// in the state store, which workers read (through a Cache) to make a new
// upload's thumbnails as soon as S3 reports the upload.
package popular

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// Key is the object in the state store where each run publishes the
// popular size classes, for workers that make a new upload's thumbnails as
// soon as S3 reports the upload (see worker and queue.DecodeS3Event).
const Key = layout.PopularClasses

// maxBytes bounds what Read reads.
const maxBytes = 1 << 20

// ErrBad means the published classes cannot be read.
var ErrBad = errors.New("unreadable popular classes")

// Published is what a run publishes: the popular classes, most
// requested first.
type Published struct {
	Generated time.Time    `json:"generated"`
	Window    string       `json:"window"`
	Classes   []ClassShare `json:"classes"`
}

// ClassShare is a size class's requests in the window. Class is as
// thumbkey.ParseClass reads it; one in thumbkey.OwnFormat ("_200x200.*")
// makes each original's thumbnail in the original's format.
type ClassShare struct {
	Class    string  `json:"class"`
	Requests int64   `json:"requests"`
	Share    float64 `json:"share"`
	Popular  bool    `json:"popular"`
}

// Write publishes the popular ones of classes, most requested first, under
// Key; window says what period they were counted over ("7d").
func Write(ctx context.Context, st store.Store, classes []ClassShare, window string, now time.Time) error {
	pc := Published{Generated: now.UTC(), Window: window, Classes: []ClassShare{}}
	for _, c := range classes {
		if c.Popular {
			pc.Classes = append(pc.Classes, c)
		}
	}
	b, err := json.MarshalIndent(pc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode popular classes: %w", err)
	}
	if err := st.Put(ctx, Key, append(b, '\n'), store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s: %w", Key, err)
	}
	return nil
}

// Getter reads an object (store.Store does).
type Getter interface {
	Get(ctx context.Context, key string) (*store.Object, error)
}

// Read reads the popular classes the last run published: suffixes
// such as "_200x200.jpg" or, in each original's own format, "_200x200.*"
// (thumbkey.ParseClass), most requested first. None are published before
// the first run: then it returns none and no error. Classes that do not
// end a thumbnail key are refused (ErrBad).
func Read(ctx context.Context, st Getter) ([]string, error) {
	obj, err := st.Get(ctx, Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Key, err)
	}
	defer obj.Body.Close()
	b, err := store.ReadAll(obj.Body, nil, maxBytes)
	if errors.Is(err, store.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s: %w", ErrBad, Key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Key, err)
	}
	var pc Published
	if err := json.Unmarshal(b, &pc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBad, Key, err)
	}
	out := make([]string, 0, len(pc.Classes))
	for _, c := range pc.Classes {
		if _, err := thumbkey.ParseClass(c.Class); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBad, Key, err)
		}
		out = append(out, c.Class)
	}
	return out, nil
}

// Cache reads the published classes at most once per TTL. It is safe
// for concurrent use.
type Cache struct {
	st  Getter
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	classes []string
	read    time.Time
}

// NewCache returns a cache of the classes published in st; now is its
// clock (time.Now when nil).
func NewCache(st Getter, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{st: st, ttl: ttl, now: now}
}

// Classes returns the popular classes, read again once the TTL has passed
// since the last read. When a read fails after one succeeded, the classes
// read before are kept for another TTL; only a cache that never read any
// returns the error.
func (c *Cache) Classes(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.read.IsZero() && c.now().Sub(c.read) < c.ttl {
		return c.classes, nil
	}
	classes, err := Read(ctx, c.st)
	switch {
	case err != nil && c.read.IsZero():
		return nil, err
	case err != nil:
		c.read = c.now() // keep the classes from before; try again after a TTL
		return c.classes, nil
	}
	c.classes, c.read = classes, c.now()
	return classes, nil
}
