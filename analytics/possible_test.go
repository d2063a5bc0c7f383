package analytics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// TestOnlyPossibleJobs is the local loop as a browser drives it through
// the front: legitimate sizes of stored originals, a size the serving
// policy refuses (_99999x99999 and one over --max-dimension), thumbnails of
// an original that does not exist (the front's 404 of the thumbnail and
// of the original), and a thumbnail of a thumbnail. Every job the analyzer
// queues must be one a worker can make: a thumbnail key, of a size the
// policy allows, of an original stored and not tagged a thumbnail.
func TestOnlyPossibleJobs(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bucket := fileStore(t, "")
	put := func(key string, opts store.PutOptions) {
		if err := bucket.Put(ctx, key, []byte("x"), opts); err != nil {
			t.Fatal(err)
		}
	}
	originals := []string{"p/a", "p/b", "p/c", "p/d"}
	for _, o := range originals {
		put(o+".jpg", store.PutOptions{})
	}
	put("p/a_200x200.jpg", store.PutOptions{Tags: map[string]string{thumbtag.Key: thumbtag.Value}})
	var log testLog
	rec := func(key string, status int, ago time.Duration) {
		log.add(accesslog.Record{Time: now.Add(-ago), Operation: accesslog.OpWebsiteGetObject, Key: key, HTTPStatus: status,
			ObjectSize: 10, RemoteIP: "127.0.0.1", UserAgent: "Mozilla/5.0"})
	}
	for i := range 30 {
		ago := time.Duration(i+2) * time.Hour
		for _, o := range originals {
			rec(o+"_200x200.jpg", 200, ago)
			rec(o+"_99999x99999.jpg", 302, ago) // refused by --allowed-sizes and --max-dimension
			rec(o+"_3000x3000.jpg", 302, ago)   // over --max-dimension
		}
		rec("p/a_200x200_100x100.jpg", 302, ago) // a thumbnail's thumbnail
		rec("p/gone_200x200.jpg", 302, ago)      // no such original
		rec("p/gone_100x100.jpg", 302, ago)
		rec("p/gone.jpg", 404, ago)
	}
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-time.Hour), "C"), log.data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := analytics.DefaultConfig()
	cfg.Policy = policy.Policy{MaxDimension: 2048}
	cfg.MinClients = 1 // one browser, as in the local demo
	rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: fileStore(t, ""), Bucket: bucket,
		Now: func() time.Time { return now }}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Jobs) == 0 {
		t.Fatal("no jobs: want the legitimate sizes' (100x100 of b, c, d at least)")
	}
	for _, j := range rep.Jobs {
		k, err := thumbkey.Parse(j.Key)
		if err != nil {
			t.Errorf("job %s: not a thumbnail key: %v", j.Key, err)
			continue
		}
		if err := cfg.Policy.Check(k); err != nil {
			t.Errorf("job %s: %v", j.Key, err)
		}
		found := false
		for _, o := range k.OriginalKeys(cfg.SourceExts) {
			if _, err := bucket.Head(ctx, o); errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				t.Fatal(err)
			}
			if isThumb, err := thumbtag.Check(ctx, bucket, o); err != nil || isThumb {
				t.Errorf("job %s: its original %s is a thumbnail (%v)", j.Key, o, err)
			}
			found = true
			break
		}
		if !found {
			t.Errorf("job %s: no original stored", j.Key)
		}
	}
	if rep.RefusedRequests == 0 {
		t.Errorf("the report counts no requests for refused sizes")
	}
}
