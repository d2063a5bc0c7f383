package analytics_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// An original whose only sight in the logs is a 404 (its page still links
// it after it was deleted) is missing, not known to exist: nothing is
// queued for it.
func TestMissingOriginalSeenBy404(t *testing.T) {
	for _, with404 := range []bool{false, true} {
		t.Run("404 of the original "+strconv.FormatBool(with404), func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			bucket := fileStore(t, "")
			put := func(key string) {
				if err := bucket.Put(ctx, key, []byte("x"), store.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			put("photos/a.jpg")
			put("photos/a_300x300.jpg")
			put("photos/gone_200x200.jpg") // its original photos/gone.jpg was deleted
			var log testLog
			rec := func(key string, status int, ago time.Duration) {
				log.add(accesslog.Record{Time: now.Add(-ago), Operation: accesslog.OpWebsiteGetObject, Key: key, HTTPStatus: status, ObjectSize: 10})
			}
			for i := range 20 {
				rec("photos/a_300x300.jpg", 200, time.Duration(i+2)*time.Hour)
				rec("photos/gone_200x200.jpg", 200, time.Duration(i+2)*time.Hour)
			}
			if with404 {
				rec("photos/gone.jpg", 404, 2*time.Hour)
			}
			logs := fileStore(t, "")
			if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-time.Hour), "C"), log.data, store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			a := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: fileStore(t, ""), Bucket: bucket,
				Now: func() time.Time { return now }})
			rep, err := a.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, j := range rep.Jobs {
				keys = append(keys, j.Key)
			}
			if slices.Contains(keys, "photos/gone_300x300.jpg") || rep.MissingOriginals != 1 {
				t.Errorf("jobs %q, %d missing originals; want photos/gone.jpg found missing and nothing queued for it", keys, rep.MissingOriginals)
			}
		})
	}
}
