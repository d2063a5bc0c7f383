package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// ClassesKey is the object in the state store where each run publishes the
// popular size classes, for workers that make a new upload's thumbnails as
// soon as S3 reports the upload (see worker and queue.DecodeS3Event).
const ClassesKey = layout.PopularClasses

// maxClassesBytes bounds what ReadClasses reads.
const maxClassesBytes = 1 << 20

// ErrBadClasses means the published classes cannot be read.
var ErrBadClasses = errors.New("unreadable popular classes")

// PublishedClasses is what a run publishes: the popular classes, most
// requested first.
type PublishedClasses struct {
	Generated time.Time    `json:"generated"`
	Window    string       `json:"window"`
	Classes   []ClassShare `json:"classes"`
}

// publishClasses writes the popular classes of p to st.
func publishClasses(ctx context.Context, st store.Store, p *Plan, cfg Config, now time.Time) error {
	pc := PublishedClasses{Generated: now.UTC(), Window: fmt.Sprintf("%dd", cfg.windowDays()), Classes: []ClassShare{}}
	for _, c := range p.Classes {
		if c.Popular {
			pc.Classes = append(pc.Classes, c)
		}
	}
	b, err := json.MarshalIndent(pc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode popular classes: %w", err)
	}
	if err := st.Put(ctx, ClassesKey, append(b, '\n'), store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s: %w", ClassesKey, err)
	}
	return nil
}

// Getter reads an object (store.Store does).
type Getter interface {
	Get(ctx context.Context, key string) (*store.Object, error)
}

// ReadClasses reads the popular classes the last run published: suffixes
// such as "_200x200.jpg" or, in each original's own format, "_200x200.*"
// (thumbkey.ParseClass), most requested first. None are published before
// the first run: then it returns none and no error. Classes that do not
// end a thumbnail key are refused (ErrBadClasses).
func ReadClasses(ctx context.Context, st Getter) ([]string, error) {
	obj, err := st.Get(ctx, ClassesKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ClassesKey, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(io.LimitReader(obj.Body, maxClassesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ClassesKey, err)
	}
	if len(b) > maxClassesBytes {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrBadClasses, ClassesKey, maxClassesBytes)
	}
	var pc PublishedClasses
	if err := json.Unmarshal(b, &pc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadClasses, ClassesKey, err)
	}
	out := make([]string, 0, len(pc.Classes))
	for _, c := range pc.Classes {
		if _, err := thumbkey.ParseClass(c.Class); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadClasses, ClassesKey, err)
		}
		out = append(out, c.Class)
	}
	return out, nil
}

// ClassCache reads the published classes at most once per TTL. It is safe
// for concurrent use.
type ClassCache struct {
	st  Getter
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	classes []string
	read    time.Time
}

// NewClassCache returns a cache of the classes published in st; now is its
// clock (time.Now when nil).
func NewClassCache(st Getter, ttl time.Duration, now func() time.Time) *ClassCache {
	if now == nil {
		now = time.Now
	}
	return &ClassCache{st: st, ttl: ttl, now: now}
}

// Classes returns the popular classes, read again once the TTL has passed
// since the last read. When a read fails after one succeeded, the classes
// read before are kept for another TTL; only a cache that never read any
// returns the error.
func (c *ClassCache) Classes(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.read.IsZero() && c.now().Sub(c.read) < c.ttl {
		return c.classes, nil
	}
	classes, err := ReadClasses(ctx, c.st)
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
