package backfill

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// With --since, an original older than Since is still remembered as
// listed: its thumbnails cost no tag read.
func TestSinceTagReads(t *testing.T) {
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, k := range []string{"p/a.jpg", "p/b.jpg", "p/c.jpg"} {
		if err := st.Put(ctx, k, []byte("x"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, sz := range []string{"_100x100.jpg", "_200x200.jpg", "_300x300.jpg"} {
			if err := st.Put(ctx, k[:len(k)-4]+sz, []byte("x"), store.PutOptions{Tags: thumbtag.Tags()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tags := &tagCounter{Store: st}
	cfg := DefaultConfig()
	cfg.Sizes = mustSizes(t, "200x200")
	cfg.Since = time.Now().Add(time.Hour) // every original is older
	if _, err := newBackfill(t, cfg, tags, fileQueue(t)).FromStore(ctx); err != nil {
		t.Fatal(err)
	}
	if got := tags.asked(); len(got) != 0 {
		t.Errorf("%d tag reads for thumbnails of listed originals (older than --since): %q", len(got), got)
	}
}
