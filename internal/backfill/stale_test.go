package backfill

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// staleBucket fills st with originals and thumbnails in every state Stale
// tells apart, and returns the events it must queue, sorted.
func staleBucket(t *testing.T, st store.Store) []string {
	t.Helper()
	ctx := t.Context()
	put := func(key, body string, opts store.PutOptions) store.Attrs {
		t.Helper()
		if err := st.Put(ctx, key, []byte(body), opts); err != nil {
			t.Fatal(err)
		}
		a, err := st.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	thumbOf := func(orig store.Attrs) store.PutOptions {
		return store.PutOptions{Tags: thumbtag.Tags(), Metadata: thumbtag.SourceMeta(orig.Key, orig.ETag)}
	}
	tagged := store.PutOptions{Tags: thumbtag.Tags()}

	// Written before their originals: a thumbnail recording no source is
	// stale when its original was written after it (Last-Modified counts
	// whole seconds); an untagged object named like a thumbnail is an
	// original, whatever its date, and nothing is queued for it.
	put("p/legacy_200x200.jpg", "t", tagged)
	put("p/person_300x300.jpg", "o", store.PutOptions{})
	time.Sleep(1100 * time.Millisecond)
	put("p/legacy.jpg", "o", store.PutOptions{})
	put("p/current-legacy.jpg", "o", store.PutOptions{})
	put("p/person.jpg", "o", store.PutOptions{})
	time.Sleep(1100 * time.Millisecond)
	put("p/current-legacy_200x200.jpg", "t", tagged) // written after it

	// Replaced after its two thumbnails were made: one message for both.
	old := put("p/replaced.jpg", "v1", store.PutOptions{})
	put("p/replaced_200x200.jpg", "t", thumbOf(old))
	put("p/replaced_400x_fit.webp", "t", thumbOf(old)) // no replaced.webp: made of replaced.jpg
	put("p/replaced.jpg", "v2", store.PutOptions{})
	// Made of the original stored now.
	cur := put("p/current.png", "o", store.PutOptions{})
	put("p/current_200x200.png", "t", thumbOf(cur))
	put("p/current_100x.webp", "t", thumbOf(cur))
	// Its original deleted: one message for both.
	gone := put("p/gone.jpg", "o", store.PutOptions{})
	put("p/gone_200x200.jpg", "t", thumbOf(gone))
	put("p/gone_200x200.webp", "t", thumbOf(gone))
	if err := st.Delete(ctx, "p/gone.jpg"); err != nil {
		t.Fatal(err)
	}
	// An original named like a thumbnail of nothing stored.
	put("p/banner_1200x630.jpg", "o", store.PutOptions{})
	return []string{
		"ObjectCreated:Put p/legacy.jpg",
		"ObjectCreated:Put p/replaced.jpg",
		"ObjectRemoved:Delete p/gone.jpg",
	}
}

// events takes every message out of q and returns them as "EVENT KEY",
// sorted, failing on anything but an S3 event the workers read.
func events(t *testing.T, q queue.Queue, bucket string) []string {
	t.Helper()
	var got []string
	for {
		msgs, err := q.Receive(context.Background(), queue.MaxBatch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			slices.Sort(got)
			return got
		}
		for _, m := range msgs {
			c, err := queue.DecodeContent(m.Body)
			if err != nil || c.Job != nil || len(c.Uploads) != 1 {
				t.Fatalf("queued %s: %+v, %v; want one S3 event", m.Body, c, err)
			}
			u := c.Uploads[0]
			if u.Bucket != bucket || time.Since(u.Time) > time.Minute {
				t.Errorf("event %s: want bucket %q and a recent time", m.Body, bucket)
			}
			name := "ObjectCreated:Put"
			if u.Removed {
				name = "ObjectRemoved:Delete"
			}
			got = append(got, name+" "+u.Key)
			if err := q.Delete(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStale: on a directory store and on versitygw, Stale queues one event
// per original whose thumbnails are stale (replaced: created; deleted:
// removed), nothing for current thumbnails, and nothing for untagged keys
// named like thumbnails, whose objects it leaves as they are; a second run
// after the workers would have followed them queues nothing new for the
// current ones.
func TestStale(t *testing.T) {
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			want := staleBucket(t, st)
			before := snapshot(t, st)
			q := fileQueue(t)
			cfg := DefaultConfig()
			cfg.EventBucket, cfg.EventKeyPrefix = "images", "site/"
			cfg.Prefix = "p/"
			res, err := newBackfill(t, cfg, st, q).Stale(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got := events(t, q, "images")
			for i := range want {
				name, key, _ := strings.Cut(want[i], " ")
				want[i] = name + " site/" + key
			}
			if !slices.Equal(got, want) {
				t.Errorf("queued\n%q\nwant\n%q", got, want)
			}
			// 10 of the 15 keys are named like thumbnails: 5 stale (two
			// of replaced.jpg, two of gone.jpg, legacy's), 2 untagged.
			wantCounts := Counts{Listed: 15, Ignored: 5, Queued: 3, Checked: 10, Stale: 5, Gone: 1, Untagged: 2}
			if res.Counts != wantCounts {
				t.Errorf("counts %+v, want %+v", res.Counts, wantCounts)
			}
			if after := snapshot(t, st); !maps.Equal(before, after) {
				t.Errorf("the store changed: before %v, after %v", before, after)
			}

			// A prefix that leaves the original out of the listing: it is
			// looked up.
			cfg.Prefix = "p/replaced_"
			res, err = newBackfill(t, cfg, st, q).Stale(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := events(t, q, "images"), []string{"ObjectCreated:Put site/p/replaced.jpg"}; !slices.Equal(got, want) {
				t.Errorf("with --prefix p/replaced_: queued %q, want %q", got, want)
			}
			if want := (Counts{Listed: 2, Queued: 1, Checked: 2, Stale: 2}); res.Counts != want {
				t.Errorf("with --prefix p/replaced_: counts %+v, want %+v", res.Counts, want)
			}
		})
	}
}

// snapshot is every object's key and ETag.
func snapshot(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	if err := st.List(t.Context(), "", "", func(a store.Attrs) error { m[a.Key] = a.ETag; return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}
