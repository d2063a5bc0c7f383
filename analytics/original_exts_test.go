package analytics_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// An AVIF original read only through its AVIF thumbnails exists: the
// analyzer looks for an original under every image extension, as the
// workers look under the thumbnail's own first, and queues the thumbnails
// the workers can make from it.
func TestOriginalUnderThumbnailExt(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bucket := fileStore(t, "")
	for _, k := range []string{"p/a.avif", "p/a_300x300.avif", "p/b.avif", "p/b_200x200.avif"} {
		if err := bucket.Put(ctx, k, []byte("x"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var log testLog
	for i := range 20 {
		for _, k := range []string{"p/a_300x300.avif", "p/b_200x200.avif"} {
			log.add(accesslog.Record{Time: now.Add(-time.Duration(i+2) * time.Hour), Operation: accesslog.OpWebsiteGetObject, Key: k, HTTPStatus: 200, ObjectSize: 10})
		}
	}
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-time.Hour), "C"), log.data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: fileStore(t, ""), Bucket: bucket, Now: func() time.Time { return now }})
	rep, err := a.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, j := range rep.Jobs {
		keys = append(keys, j.Key)
	}
	if !slices.Contains(keys, "p/a_200x200.avif") || rep.MissingOriginals != 0 {
		t.Errorf("jobs %q, %d missing originals; want p/a_200x200.avif queued (p/a.avif exists)", keys, rep.MissingOriginals)
	}
}
