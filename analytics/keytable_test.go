package analytics

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// TestAggregatorKeys: a key first seen in a record not counted (a HEAD) is
// remembered without being added to the state, and counted as a thumbnail
// once a read of it comes; originals are found again by a new aggregator
// over the same state; records whose key the aggregator did not make (Key
// not called) are counted the same; a thumbnail added to the state between
// Key and Add is counted once.
func TestAggregatorKeys(t *testing.T) {
	s := state.NewState()
	a := NewAggregator(s)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	add := func(op, key string, id uint64, viaKey bool) {
		t.Helper()
		rec := accesslog.Record{Time: at, RequestIDHash: id, Operation: op, Key: key, HTTPStatus: 200, ObjectSize: 10}
		if viaKey { // as the parser does
			rec.KeyHash = a.Hash([]byte(key))
			rec.Key = a.Key([]byte(key), rec.KeyHash)
			if rec.Key != key {
				t.Fatalf("Key(%q) = %q", key, rec.Key)
			}
		}
		a.Add(&rec)
	}
	const thumb, orig = "p/a_200x200.webp", "p/a.jpg"
	add(accesslog.OpRESTHeadObject, thumb, 1, true)
	add(accesslog.OpRESTHeadObject, thumb, 2, true)
	if s.Thumbs.Len() != 0 || a.Ignored != 2 {
		t.Fatalf("after HEADs: %d thumbnails, %d ignored; want 0, 2", s.Thumbs.Len(), a.Ignored)
	}
	add(accesslog.OpRESTGetObject, thumb, 3, true)
	add(accesslog.OpRESTGetObject, thumb, 4, true)
	add(accesslog.OpRESTGetObject, thumb, 5, false)
	add(accesslog.OpRESTPutObject, orig, 6, true)
	add(accesslog.OpRESTGetObject, orig, 7, false)
	add(accesslog.OpRESTGetObject, "favicon.ico", 8, true)
	add(accesslog.OpRESTGetObject, "favicon.ico", 9, false)
	th, err := s.ThumbState(thumb)
	if err != nil || th.Reads != 3 || s.Thumbs.Len() != 1 {
		t.Fatalf("%s: %+v, %v, %d thumbnails; want 3 reads, 1 thumbnail", thumb, th, err, s.Thumbs.Len())
	}
	if k := a.Key([]byte(thumb), a.Hash([]byte(thumb))); k != s.Thumbs.Key(0) || a.last.kind != keyThumb {
		t.Errorf("Key(%q) does not hand out the state's string (%v)", thumb, a.last.kind)
	}
	o := s.Originals["p/a"]
	if o == nil || o.Key != orig || o.Direct != 1 || o.Reads != 3 || a.Ignored != 4 || a.Records != 5 {
		t.Fatalf("original %+v, %d ignored, %d counted; want key %q, 1 direct, 3 thumbnail reads, 4, 5", o, a.Ignored, a.Records, orig)
	}
	// a thumbnail the state gains between Key and Add (as State.thumb adds
	// them) is counted, not added twice
	const late = "p/late_100x.webp"
	rec := accesslog.Record{Time: at, RequestIDHash: 10, Operation: accesslog.OpRESTGetObject, KeyHash: a.Hash([]byte(late)), HTTPStatus: 200}
	rec.Key = a.Key([]byte(late), rec.KeyHash)
	s.Thumb(late)
	a.Add(&rec)
	if th, err := s.ThumbState(late); err != nil || th.Reads != 1 || s.Thumbs.Len() != 2 {
		t.Errorf("%s: %+v, %v, %d thumbnails; want 1 read, 2 thumbnails", late, th, err, s.Thumbs.Len())
	}
	// records added in another order than their keys were made: Key of
	// the thumbnail, Key of the original, then both records
	first := accesslog.Record{Time: at, RequestIDHash: 11, Operation: accesslog.OpRESTGetObject, KeyHash: a.Hash([]byte(thumb)), HTTPStatus: 200}
	first.Key = a.Key([]byte(thumb), first.KeyHash)
	second := accesslog.Record{Time: at, RequestIDHash: 12, Operation: accesslog.OpRESTGetObject, KeyHash: a.Hash([]byte(orig)), HTTPStatus: 200}
	second.Key = a.Key([]byte(orig), second.KeyHash)
	a.Add(&first)
	a.Add(&second)
	if th, _ := s.ThumbState(thumb); th.Reads != 4 || o.Direct != 2 {
		t.Errorf("out of order: %s has %d reads, %s %d; want 4 and 2", thumb, th.Reads, orig, o.Direct)
	}
	b := NewAggregator(s)
	if k := b.Key([]byte(orig), b.Hash([]byte(orig))); k != orig || b.last.kind != keyOriginal || b.info[b.last.n].orig != o {
		t.Errorf("new aggregator: Key(%q) = %q, %v", orig, k, b.last.kind)
	}
}
