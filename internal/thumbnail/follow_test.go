package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

var red, green, blue, yellow = testkit.Red, testkit.Green, testkit.Blue, testkit.Yellow

func solidJPEG(t testing.TB, c color.RGBA) []byte { return testkit.SolidJPEG(t, c) }

// colourOf reads the object under key and tells its test colour.
func colourOf(t testing.TB, st store.Store, key string) color.RGBA {
	t.Helper()
	obj, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := testkit.Colour(data)
	if !ok {
		t.Fatalf("%s is none of the test colours", key)
	}
	return c
}

func mustKey(t testing.TB, s string) thumbkey.Key {
	t.Helper()
	k, err := thumbkey.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestFollowOriginal: when an original is replaced, its stored thumbnails
// (and only its: not those of earth_2020.jpg, not an untagged
// earth_30x30.jpg a person uploaded) are made again from the new picture,
// a thumbnail that records no source included; a second pass changes
// nothing; when the original is deleted, its thumbnails are deleted and
// nothing else is.
func TestFollowOriginal(t *testing.T) {
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m := makerOn(t, st)
			putOriginal := func(key string, c color.RGBA) {
				t.Helper()
				if err := st.Put(ctx, key, solidJPEG(t, c), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
					t.Fatal(err)
				}
			}
			putOriginal("p/earth.jpg", red)
			putOriginal("p/earth_2020.jpg", green)
			putOriginal("p/earth_30x30.jpg", yellow) // an original named like a thumbnail
			ours := []string{"p/earth_20x20.jpg", "p/earth_20x20.png", "p/earth_16x_fit.jpg"}
			for _, key := range append(slices.Clone(ours), "p/earth_2020_20x20.jpg") {
				if res, err := m.Ensure(ctx, mustKey(t, key)); err != nil || !res.Stored {
					t.Fatalf("Ensure(%s) = %+v, %v", key, res, err)
				}
			}
			// A thumbnail written before thumbnails recorded their source.
			const legacy = "p/earth_24x24.jpg"
			if err := st.Put(ctx, legacy, solidJPEG(t, red), store.PutOptions{ContentType: "image/jpeg", Tags: thumbtag.Tags()}); err != nil {
				t.Fatal(err)
			}
			ours = append(ours, legacy)
			slices.Sort(ours)

			putOriginal("p/earth.jpg", blue)
			f, err := m.FollowOriginal(ctx, "p/earth.jpg")
			if err != nil {
				t.Fatalf("FollowOriginal after overwrite: %v", err)
			}
			if !slices.Equal(f.Remade, ours) || len(f.Deleted) != 0 {
				t.Errorf("FollowOriginal after overwrite = %+v, want remade %v", f, ours)
			}
			orig, err := st.Head(ctx, "p/earth.jpg")
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range ours {
				if c := colourOf(t, st, key); c != blue {
					t.Errorf("%s is %v after the original became blue", key, c)
				}
				a, err := st.Head(ctx, key)
				if err != nil || a.Metadata[thumbtag.MetaSourceETag] != orig.ETag || a.Metadata[thumbtag.MetaSourceKey] != "p/earth.jpg" {
					t.Errorf("%s records source %v (%v), want p/earth.jpg %s", key, a.Metadata, err, orig.ETag)
				}
				if ok, err := thumbtag.Check(ctx, st, key); !ok || err != nil {
					t.Errorf("%s lost its tag: %v, %v", key, ok, err)
				}
			}
			if c := colourOf(t, st, "p/earth_2020_20x20.jpg"); c != green {
				t.Errorf("the thumbnail of earth_2020.jpg is %v, want green", c)
			}
			if c := colourOf(t, st, "p/earth_30x30.jpg"); c != yellow {
				t.Errorf("the original earth_30x30.jpg is %v, want yellow", c)
			}

			again, err := m.FollowOriginal(ctx, "p/earth.jpg")
			if err != nil || len(again.Changed()) != 0 || again.Current != len(ours) {
				t.Errorf("FollowOriginal again = %+v, %v; want all %d current", again, err, len(ours))
			}

			if err := st.Delete(ctx, "p/earth.jpg"); err != nil {
				t.Fatal(err)
			}
			f, err = m.FollowOriginal(ctx, "p/earth.jpg")
			if err != nil || !slices.Equal(f.Deleted, ours) || len(f.Remade) != 0 {
				t.Errorf("FollowOriginal after delete = %+v, %v; want deleted %v", f, err, ours)
			}
			for _, key := range ours {
				if _, err := st.Head(ctx, key); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s still stored after its original was deleted: %v", key, err)
				}
			}
			for _, key := range []string{"p/earth_2020_20x20.jpg", "p/earth_30x30.jpg", "p/earth_2020.jpg"} {
				if _, err := st.Head(ctx, key); err != nil {
					t.Errorf("%s is gone: %v", key, err)
				}
			}
		})
	}
}

// replaceOnRead is a real store that uploads a new version of an original
// just after a maker has read the old one: the moment between a
// store-back's read of the original and its write of the thumbnail.
type replaceOnRead struct {
	store.Store
	key   string
	body  []byte // nil: delete it
	fired atomic.Bool
}

func (s *replaceOnRead) Get(ctx context.Context, key string) (*store.Object, error) {
	obj, err := s.Store.Get(ctx, key)
	if err != nil || key != s.key || !s.fired.CompareAndSwap(false, true) {
		return obj, err
	}
	data, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil {
		return nil, err
	}
	obj.Body = io.NopCloser(bytes.NewReader(data))
	if s.body == nil {
		err = s.Store.Delete(ctx, key)
	} else {
		err = s.Store.Put(ctx, key, s.body, store.PutOptions{ContentType: "image/jpeg"})
	}
	return obj, err
}

// TestStoreBackRacingChange: a thumbnail made from an original that was
// replaced (or deleted) before its store-back is not left as the old
// picture, even though the change's own handling could not see it yet: it
// is deleted, the answer made of the old picture is not to be cached, and
// the next request makes the thumbnail of the original stored now.
func TestStoreBackRacingChange(t *testing.T) {
	tests := []struct {
		name string
		next []byte // the original's next version; nil: deleted
	}{
		{"replaced", solidJPEG(t, blue)},
		{"deleted", nil},
	}
	for name, open := range testserver.Stores(t) {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				ctx := t.Context()
				st := open(t)
				if err := st.Put(ctx, "earth.jpg", solidJPEG(t, red), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
					t.Fatal(err)
				}
				m := makerOn(t, &replaceOnRead{Store: st, key: "earth.jpg", body: tt.next})
				k := mustKey(t, "earth_20x20.jpg")
				res, err := m.Ensure(ctx, k)
				if err != nil {
					t.Fatalf("Ensure: %v", err)
				}
				if res.Stored || res.SaveErr == nil || res.CacheControl != "no-store" {
					t.Errorf("Ensure: stored %v, save error %v, Cache-Control %q; want not stored, said why, and no-store for the old picture",
						res.Stored, res.SaveErr, res.CacheControl)
				}
				if _, err := st.Head(ctx, "earth_20x20.jpg"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("thumbnail of the old picture still stored: %v", err)
				}
				res, err = m.Ensure(ctx, k)
				switch {
				case tt.next == nil && !errors.Is(err, ErrOriginalMissing):
					t.Errorf("Ensure after the original was deleted: %v, want ErrOriginalMissing", err)
				case tt.next != nil && (err != nil || !res.Stored || res.CacheControl == "no-store"):
					t.Errorf("Ensure after the original was replaced: %+v, %v; want it made and stored", res, err)
				case tt.next != nil:
					if c := colourOf(t, st, "earth_20x20.jpg"); c != blue {
						t.Errorf("stored thumbnail is %v, want the new original's blue", c)
					}
				}
			})
		}
	}
}

// refuseAfterFirst is a gate that lets one resize through, then sheds
// every other (ErrOverloaded), as the responder's Limiter does when its
// slots and queue are full.
type refuseAfterFirst struct{ n atomic.Int64 }

func (g *refuseAfterFirst) Admit(ctx context.Context) (Ticket, error) {
	if g.n.Add(1) > 1 {
		return nil, ErrOverloaded
	}
	return freeTicket{}, nil
}

// freeTicket is a place in no queue: its slot is there at once.
type freeTicket struct{}

func (freeTicket) Acquire(context.Context, time.Duration) (func(), error) { return func() {}, nil }
func (freeTicket) Cancel()                                                {}

func (g *refuseAfterFirst) Reserve(ctx context.Context, bytes int64) (func(), error) {
	return func() {}, nil
}

// TestStoreBackRacingChangeUnderLoad: the README promises that a
// store-back racing the change cannot leave the old picture behind, and
// that holds when the responder is shedding load: bringing the thumbnail
// in line must not need a resize slot, or the thumbnail of the old picture
// would stay stored for good (the change's own event was handled before
// the store-back, so nothing else comes back to it).
func TestStoreBackRacingChangeUnderLoad(t *testing.T) {
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			if err := st.Put(ctx, "earth.jpg", solidJPEG(t, red), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
				t.Fatal(err)
			}
			vips, err := imaging.New(imaging.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMaker(&replaceOnRead{Store: st, key: "earth.jpg", body: solidJPEG(t, blue)}, vips,
				&refuseAfterFirst{}, DefaultConfig(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Ensure(ctx, mustKey(t, "earth_20x20.jpg"))
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			t.Logf("Ensure: stored %v, save error %v", res.Stored, res.SaveErr)
			if _, err := st.Head(ctx, "earth_20x20.jpg"); err != nil {
				return // gone: remade on the next request, fine
			}
			if c := colourOf(t, st, "earth_20x20.jpg"); c != blue {
				t.Errorf("stored thumbnail is %v (the replaced original's red), want it gone or the new blue", c)
			}
		})
	}
}

// failHead is a real store whose HEAD of one key fails as an unreachable
// store does.
type failHead struct {
	store.Store
	key string
}

func (s failHead) Head(ctx context.Context, key string) (store.Attrs, error) {
	if key == s.key {
		return store.Attrs{}, fmt.Errorf("head %s: %w", key, store.ErrUnavailable)
	}
	return s.Store.Head(ctx, key)
}

// TestStoreBackCannotCheckOriginal: when the original cannot be looked at
// again after a store-back, whether it changed is unknown; the thumbnail
// just stored is deleted (a needless delete costs one remake, a thumbnail
// of an old picture would stay until it expires), and the answer is not to
// be cached.
func TestStoreBackCannotCheckOriginal(t *testing.T) {
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			if err := st.Put(ctx, "earth.jpg", solidJPEG(t, red), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
				t.Fatal(err)
			}
			res, err := makerOn(t, failHead{Store: st, key: "earth.jpg"}).Ensure(ctx, mustKey(t, "earth_20x20.jpg"))
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if res.Stored || res.SaveErr == nil || res.CacheControl != "no-store" {
				t.Errorf("Ensure: stored %v, save error %v, Cache-Control %q; want not stored, said why, and no-store",
					res.Stored, res.SaveErr, res.CacheControl)
			}
			if _, err := st.Head(ctx, "earth_20x20.jpg"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("thumbnail still stored: %v", err)
			}
		})
	}
}
