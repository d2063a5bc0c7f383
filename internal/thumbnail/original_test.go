package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// uploadHook is a real store that uploads a new version of a key (as a
// person would, untagged) just after the key's tags are first read: the
// moment between a refresh's checks and its write.
type uploadHook struct {
	store.Store
	key   string
	body  []byte
	fired atomic.Bool
}

func (h *uploadHook) Tags(ctx context.Context, key string) (map[string]string, error) {
	tags, err := h.Store.Tags(ctx, key)
	if err == nil && key == h.key && h.fired.CompareAndSwap(false, true) {
		if err := h.Store.Put(ctx, key, h.body, store.PutOptions{ContentType: "image/jpeg"}); err != nil {
			return nil, err
		}
	}
	return tags, err
}

// TestOriginalNamedLikeThumbnail: an original whose name fits the thumbnail
// grammar (banner_1200x630.jpg, with no banner.jpg) is never rewritten,
// re-tagged or replaced: not by a refresh, not by a request for it. A
// thumbnail that an upload replaced between a refresh's read and its write
// is left as the upload wrote it.
func TestOriginalNamedLikeThumbnail(t *testing.T) {
	photo := samplePhoto(t)
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m := makerOn(t, st)
			const key = "social/banner_1200x630.jpg"
			if err := st.Put(ctx, key, photo, store.PutOptions{ContentType: "image/jpeg"}); err != nil {
				t.Fatal(err)
			}
			before, err := st.Head(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := thumbkey.Parse(key)

			if _, err := m.Refresh(ctx, k); !errors.Is(err, ErrUntagged) {
				t.Errorf("Refresh of an untagged original: %v, want ErrUntagged", err)
			}
			if res, err := m.Ensure(ctx, k); err != nil || res.Existing == nil || res.Stored {
				t.Errorf("Ensure of an original's key = %+v, %v; want it found and left alone", res, err)
			}
			assertUntouched(t, st, key, photo, before)

			// A thumbnail replaced by an upload while it is refreshed.
			const thumb = "social/kleiber_200x200.jpg"
			if err := st.Put(ctx, "social/kleiber.jpg", photo, store.PutOptions{ContentType: "image/jpeg"}); err != nil {
				t.Fatal(err)
			}
			tk, _ := thumbkey.Parse(thumb)
			if res, err := m.Ensure(ctx, tk); err != nil || !res.Stored {
				t.Fatalf("Ensure(%s) = %+v, %v", thumb, res, err)
			}
			hook := &uploadHook{Store: st, key: thumb, body: photo}
			hm := makerOn(t, hook)
			if _, err := hm.Refresh(ctx, tk); !errors.Is(err, ErrChanged) {
				t.Fatalf("Refresh with an upload in between: %v, want ErrChanged", err)
			}
			uploaded, err := st.Head(ctx, thumb)
			if err != nil {
				t.Fatal(err)
			}
			assertUntouched(t, st, thumb, photo, uploaded)
		})
	}
}

// assertUntouched checks that key holds body byte for byte, with no tags,
// and was not written since before was read.
func assertUntouched(t *testing.T, st store.Store, key string, body []byte, before store.Attrs) {
	t.Helper()
	obj, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("%s: %d bytes stored, want the original's %d, unchanged", key, len(got), len(body))
	}
	if obj.ETag != before.ETag || !obj.LastModified.Equal(before.LastModified) {
		t.Errorf("%s was written again: %+v, before %+v", key, obj.Attrs, before)
	}
	if tags, err := st.Tags(t.Context(), key); err != nil || len(tags) != 0 {
		t.Errorf("%s: tags %v, %v; want none", key, tags, err)
	}
}

// TestThumbnailOfThumbnail: a key whose original is a stored thumbnail
// (tagged) is refused, on a directory store and on versitygw; an untagged
// original with such a name makes thumbnails.
func TestThumbnailOfThumbnail(t *testing.T) {
	photo := samplePhoto(t)
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m := makerOn(t, st)
			for _, key := range []string{"earth.jpg", "banner_1200x630.jpg"} {
				if err := st.Put(ctx, key, photo, store.PutOptions{ContentType: "image/jpeg"}); err != nil {
					t.Fatal(err)
				}
			}
			for _, tt := range []struct {
				key  string
				want error
			}{
				{"earth_100x100.jpg", nil},
				{"earth_100x100_20x20.jpg", ErrThumbnailOfThumbnail},
				{"banner_1200x630_20x20.jpg", nil},
				{"earth_100x100_20x20_10x.jpg", ErrOriginalMissing},
			} {
				k, _ := thumbkey.Parse(tt.key)
				res, err := m.Ensure(ctx, k)
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Errorf("Ensure(%s) = %+v, %v; want %v", tt.key, res, err, tt.want)
				}
			}
			if _, err := st.Head(ctx, "earth_100x100_20x20.jpg"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a thumbnail of a thumbnail was stored: %v", err)
			}
		})
	}
}

// samplePhoto is the sample photograph (1600x900).
func samplePhoto(t *testing.T) []byte {
	t.Helper()
	photo, err := os.ReadFile("../../scripts/sample/kleiber.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return photo
}

// makerOn is a maker with the default config and the real engine on st.
func makerOn(t *testing.T, st Store) *Maker {
	t.Helper()
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMaker(st, vips, nil, DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
