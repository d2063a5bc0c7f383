package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// memLogs keeps the generated log objects in memory: the generator writes
// them (loggen.Sink) and the analyzer reads them (analytics.LogSource). An
// object is listed once the time its key says S3 delivered it has come.
type memLogs struct {
	now     func() time.Time
	keys    []string // sorted
	objects map[string][]byte
}

func (m *memLogs) WriteObject(_ context.Context, key string, body []byte) error {
	if m.objects == nil {
		m.objects = make(map[string][]byte)
	}
	if _, ok := m.objects[key]; !ok {
		i, _ := slices.BinarySearch(m.keys, key)
		m.keys = slices.Insert(m.keys, i, key)
	}
	m.objects[key] = bytes.Clone(body)
	return nil
}

func (m *memLogs) Get(_ context.Context, key string) (*store.Object, error) {
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	return &store.Object{Attrs: store.Attrs{Key: key, Size: int64(len(b))}, Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (m *memLogs) List(ctx context.Context, prefix, startAfter string, fn func(store.Attrs) error) error {
	for _, k := range m.keys {
		if !strings.HasPrefix(k, prefix) || k <= startAfter {
			continue
		}
		lk, err := accesslog.ParseLogKey(k)
		if err != nil {
			return fmt.Errorf("log object %s: %w", k, err)
		}
		if lk.Time.After(m.now()) {
			continue // not delivered yet
		}
		if err := fn(store.Attrs{Key: k, Size: int64(len(m.objects[k]))}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// genBucket answers for the thumbnail bucket from the generator's model
// of it: every thumbnail it holds carries the thumbnail=yes tag, and its
// originals none.
type genBucket struct{ g *loggen.Generator }

func (b *genBucket) Head(_ context.Context, key string) (store.Attrs, error) {
	written, ok := b.g.Written(key)
	if !ok {
		written, ok = b.g.Uploaded(key)
	}
	if !ok {
		return store.Attrs{}, fmt.Errorf("head %s: %w", key, store.ErrNotFound)
	}
	return store.Attrs{Key: key, LastModified: written}, nil
}

func (b *genBucket) Tags(_ context.Context, key string) (map[string]string, error) {
	if _, ok := b.g.Uploaded(key); ok {
		return map[string]string{}, nil // an original
	}
	if !b.g.Exists(key) {
		return nil, fmt.Errorf("tags %s: %w", key, store.ErrNotFound)
	}
	return thumbtag.Tags(), nil
}

// DeleteIfMatch deletes key: nothing writes the model's bucket while the
// analyzer runs.
func (b *genBucket) DeleteIfMatch(_ context.Context, key, _ string) error {
	b.g.Delete(key)
	return nil
}

// List lists nothing: the replay finds new originals in the logs.
func (b *genBucket) List(context.Context, string, string, func(store.Attrs) error) error {
	return nil
}

// marker is the queue and the workers at once: each job is decoded as a
// worker would and its thumbnail marked as made through the generator's
// Create hook. A job a worker could not make (its original missing, or
// itself a thumbnail; a size the policy refuses) is counted as impossible
// and not made.
type marker struct {
	g          *loggen.Generator
	policy     policy.Policy
	sourceExts []string
	jobs       int
	impossible []string
}

func (m *marker) Send(_ context.Context, bodies [][]byte) error {
	for _, body := range bodies {
		j, err := queue.Decode(body)
		if err != nil {
			return err
		}
		m.jobs++
		if !m.possible(j) {
			m.impossible = append(m.impossible, j.Key)
			continue
		}
		if j.Refresh || !m.g.Exists(j.Key) {
			m.g.Create(j.Key)
		}
	}
	return nil
}

// possible tells whether a worker could make j: a size the policy allows,
// of an original stored (not a thumbnail). A refresh of a thumbnail stored
// rewrites it; of one gone since, makes it again from its original.
func (m *marker) possible(j queue.Job) bool {
	if m.policy.Check(j.Thumb) != nil {
		return false
	}
	if j.Refresh && m.g.Exists(j.Key) {
		return true
	}
	for _, key := range j.Thumb.OriginalKeys(m.sourceExts) {
		if _, ok := m.g.Uploaded(key); ok {
			return true
		}
	}
	return false
}
