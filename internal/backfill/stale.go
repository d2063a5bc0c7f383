package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// The events Stale queues: the ones S3 sends when an original is replaced
// or deleted, which workers answer by making its thumbnails follow it.
const (
	eventCreated = "ObjectCreated:Put"
	eventRemoved = "ObjectRemoved:Delete"
)

// Stale lists the thumbnails under the prefix (after StartAfter), for a
// bucket that sends no event notifications, and queues, for each original
// whose stored thumbnails were not made of the version stored now, the S3
// event notification S3 would have sent when it changed: ObjectCreated:Put
// for an original replaced, ObjectRemoved:Delete for one gone. Workers
// answer it as they answer S3's own (thumbnail.Maker.FollowOriginal): one
// message per original, whatever the number of its stale thumbnails.
//
// A key is a thumbnail when the grammar reads it as one and it carries the
// thumbnail tag; it is stale when the original it records (thumbtag.MadeOf:
// the source ETag, or, when it records none, its last write against the
// original's) is not the one stored now, found as a worker finds it (its
// own extension, then SourceExts). The tag is read only of keys that look
// stale: an untagged one is an original named like a thumbnail (counted in
// Untagged), and nothing is queued for it. The originals of a thumbnail
// are taken from the listing when they sort into it (photo.jpg sorts
// before photo_200x200.jpg), else looked up.
func (b *Backfill) Stale(ctx context.Context) (Result, error) {
	if len(b.cfg.SourceExts) == 0 {
		return Result{}, errors.New("backfill: no source extensions to look for originals under")
	}
	s := &staleCheck{b: b, queued: map[string]bool{}}
	return b.run(ctx, func(ctx context.Context, emit func(key string, jobs []job) error) error {
		return b.store.List(ctx, b.cfg.Prefix, b.cfg.StartAfter, func(a store.Attrs) error {
			b.listed.Add(1)
			if o, ok := thumbkey.ParseOriginal(a.Key); ok {
				s.listed.add(o.Stem(), a)
			}
			k, err := thumbkey.Parse(a.Key)
			if err != nil {
				b.ignored.Add(1)
				return emit(a.Key, nil)
			}
			return emit(a.Key, []job{{key: a.Key, origin: s.candidate(k)}})
		})
	}, s.check)
}

// staleCheck holds what Stale learns as it lists.
type staleCheck struct {
	b      *Backfill
	listed listedOriginals

	mu     sync.Mutex
	queued map[string]bool // event keys queued (or claimed) so far
}

// origin is where the original of a thumbnail may be: each key in order,
// with its attributes when the listing has shown whether it exists.
type origin struct {
	stem   string // folder and name
	keys   []string
	known  []bool
	listed []*store.Attrs
}

// candidate says where k's original may be, from what was listed.
func (s *staleCheck) candidate(k thumbkey.Key) *origin {
	keys := k.OriginalKeys(s.b.cfg.SourceExts)
	o := &origin{stem: k.Dir + k.Name, keys: keys, known: make([]bool, len(keys)), listed: make([]*store.Attrs, len(keys))}
	for i, key := range keys {
		// A key the listing had to pass through (it sorts before k, which
		// every original of k does) is known: listed, or not there.
		if strings.HasPrefix(key, s.b.cfg.Prefix) && key > s.b.cfg.StartAfter {
			o.known[i] = true
			o.listed[i] = s.listed.get(key)
		}
	}
	return o
}

// check decides whether the thumbnail of j is stale, and returns the job
// that queues its original's event, or nil when there is none to queue
// (current, untagged, or its original's event claimed already).
func (s *staleCheck) check(ctx context.Context, j job) (*job, error) {
	b := s.b
	thumb, err := b.store.Head(ctx, j.key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil // deleted since it was listed
	case err != nil:
		return nil, fmt.Errorf("look up %s: %w", j.key, err)
	}
	b.checked.Add(1)
	orig, found, err := s.original(ctx, j.origin)
	if err != nil {
		return nil, err
	}
	if found && thumbtag.MadeOf(thumb.Version(), orig.Version()) {
		return nil, nil
	}
	isThumb, err := thumbtag.Check(ctx, b.store, j.key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case !isThumb:
		b.untagged.Add(1)
		b.log.DebugContext(ctx, "not a thumbnail (no thumbnail tag): left alone", "key", j.key)
		return nil, nil
	}
	b.stale.Add(1)
	event, key := eventCreated, orig.Key
	if !found {
		// Named by the first of the source extensions: every thumbnail of
		// the stem may be made of it, so the worker follows them all.
		event, key = eventRemoved, j.origin.stem+"."+b.cfg.SourceExts[0]
	}
	s.mu.Lock()
	claimed := s.queued[key]
	s.queued[key] = true
	s.mu.Unlock()
	if claimed {
		return nil, nil
	}
	if !found {
		b.gone.Add(1)
	}
	b.log.InfoContext(ctx, "stale thumbnail: its original's event is queued", "thumbnail", j.key, "original", key, "event", event)
	return &job{key: key, event: event, seq: j.seq,
		body: queue.EncodeS3Event(b.cfg.EventBucket, event, b.cfg.EventKeyPrefix+key, time.Now())}, nil
}

// original finds the original of a thumbnail as a worker does: the first
// of the keys that exists. found is false when none does, or when the
// first found is itself a thumbnail (tagged), which is never an original.
func (s *staleCheck) original(ctx context.Context, o *origin) (attrs store.Attrs, found bool, err error) {
	for i, key := range o.keys {
		switch {
		case o.known[i] && o.listed[i] == nil:
			continue
		case o.known[i]:
			attrs = *o.listed[i]
		default:
			attrs, err = s.b.store.Head(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return attrs, false, fmt.Errorf("look up original %s: %w", key, err)
			}
		}
		if _, err := thumbkey.Parse(key); err != nil {
			return attrs, true, nil // not named like a thumbnail: an original
		}
		isThumb, err := thumbtag.Check(ctx, s.b.store, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return attrs, false, err
		}
		return attrs, !isThumb, nil
	}
	return store.Attrs{}, false, nil
}

// listedOriginals remembers the originals listed recently, by key. A
// listing is in key order, and every thumbnail key of a stem sorts between
// stem+"_" and stem+"`", so an original is forgotten once the listing has
// passed that.
type listedOriginals struct {
	byKey map[string]listedOriginal
	added int
}

type listedOriginal struct {
	stem  string
	attrs store.Attrs
}

func (l *listedOriginals) add(stem string, a store.Attrs) {
	if l.byKey == nil {
		l.byKey = map[string]listedOriginal{}
	}
	if l.added++; l.added%pruneEvery == 0 {
		for key, o := range l.byKey {
			if o.stem+"`" < a.Key {
				delete(l.byKey, key)
			}
		}
	}
	l.byKey[a.Key] = listedOriginal{stem: stem, attrs: a}
}

func (l *listedOriginals) get(key string) *store.Attrs {
	o, ok := l.byKey[key]
	if !ok {
		return nil
	}
	return &o.attrs
}
