package analytics_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestWhoAsksMakesPopularity: the same requests make sizes popular and
// originals hot when many visitors ask, and nothing when one client, or
// crawlers, ask them all; crawlers' requests are reported apart.
func TestWhoAsksMakesPopularity(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		client   func(i int) (ip, agent string)
		popular  bool
		crawlers bool
		counted  int64 // of one original's 10 requests over two days, as demand
	}{
		{"many visitors", func(i int) (string, string) { return "198.51.100." + strconv.Itoa(i%40), "Mozilla/5.0" }, true, false, 10},
		{"one client", func(int) (string, string) { return "198.51.100.7", "Mozilla/5.0" }, false, false, 6}, // 3 a day
		{"two clients", func(i int) (string, string) { return "198.51.100." + strconv.Itoa(i%2), "Mozilla/5.0" }, false, false, 10},
		{"crawlers", func(i int) (string, string) {
			return "66.249.66." + strconv.Itoa(i%40), "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
		}, false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			bucket := fileStore(t, "")
			var log testLog
			i := 0
			for o := range 20 {
				orig := "p/img" + strconv.Itoa(o)
				if err := bucket.Put(ctx, orig+".jpg", []byte("x"), store.PutOptions{}); err != nil {
					t.Fatal(err)
				}
				for r := range 10 {
					i++
					ip, agent := tc.client(i)
					log.add(accesslog.Record{Time: now.Add(-time.Duration(r+1) * 3 * time.Hour), Operation: accesslog.OpWebsiteGetObject,
						Key: orig + "_200x200.jpg", HTTPStatus: 200, ObjectSize: 10, RemoteIP: ip, UserAgent: agent})
				}
			}
			logs := fileStore(t, "")
			if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-time.Hour), "C"), log.data, store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			st := fileStore(t, "")
			rep, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: st, Bucket: bucket,
				Now: func() time.Time { return now }}).Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			popular := false
			for _, c := range rep.Classes {
				popular = popular || c.Popular
			}
			if popular != tc.popular {
				t.Errorf("classes %+v: popular %v, want %v", rep.Classes, popular, tc.popular)
			}
			if !tc.popular && len(rep.Jobs) > 0 {
				t.Errorf("%d jobs queued (%s, ...), want none", len(rep.Jobs), rep.Jobs[0].Key)
			}
			if o := loadState(t, st).Originals["p/img0"]; o == nil || o.Reads+o.Misses != tc.counted {
				t.Errorf("original p/img0: %+v; want %d requests counted as demand", o, tc.counted)
			}
			if tc.crawlers != (rep.Crawler == 200 && rep.Requests == 0 && rep.CrawlerShare == 1) {
				t.Errorf("%d crawler requests (share %.2f), %d requests; want crawlers %v", rep.Crawler, rep.CrawlerShare, rep.Requests, tc.crawlers)
			}
		})
	}
}
