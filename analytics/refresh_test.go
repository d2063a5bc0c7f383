package analytics_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestRefreshBeforeExpiry: with a lifecycle rule of ExpireDays, the
// thumbnails still read whose expiry falls within the next two days are
// queued as refreshes, once; those written recently, read too rarely, or
// gone are not. A thumbnail written before the logs begin has its write
// time learned by a HEAD; one the HEAD finds gone is made again.
func TestRefreshBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	// A directory store whose thumbnails were written in the past (moving
	// a file's time back would make its sidecar, and so its tag, stale).
	bucket := backdated{Store: fileStore(t, ""), written: map[string]time.Time{}}
	put := func(key string, written time.Time) {
		t.Helper()
		if err := bucket.Put(ctx, key, []byte("thumbnail"), store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}}); err != nil {
			t.Fatal(err)
		}
		bucket.written[key] = written
	}
	var log []byte
	n := 0
	var add func(at time.Time, op, key string)
	add = func(at time.Time, op, key string) {
		n++
		rec := &accesslog.Record{
			Bucket: "b", Time: at, RequestID: strconv.Itoa(n), Operation: op,
			Key: key, HTTPStatus: 200, ObjectSize: 9, BytesSent: 9,
		}
		rec.RemoteIP, rec.UserAgent = "192.0.2."+strconv.Itoa(1+n%5), "Mozilla/5.0" // visitors, in turn
		if op == accesslog.OpRESTPutObject {
			rec.UserAgent = "aws-sdk-go-v2/1.41.0 os/linux lang/go#1.26 app/s3thumb" // the responder's write
			add(at, accesslog.OpRESTGetObject, strings.Split(key, "_")[0]+".jpg")    // of the original
		}
		log = accesslog.AppendS3(log, rec, accesslog.S3FieldsLatest)
	}
	reads := func(key string, count int) {
		for i := range count {
			add(now.Add(-time.Duration(i+1)*12*time.Hour), accesslog.OpWebsiteGetObject, key)
		}
	}
	// due: written 9 days ago, so the 10-day rule expires it at the
	// midnight after tomorrow noon; read 10 times this week.
	add(now.Add(-9*day), accesslog.OpRESTPutObject, "photos/due_200x200.jpg")
	reads("photos/due_200x200.jpg", 10)
	// fresh: written 2 days ago.
	add(now.Add(-2*day), accesslog.OpRESTPutObject, "photos/fresh_200x200.jpg")
	reads("photos/fresh_200x200.jpg", 10)
	// rare: due, but read once in 9 days: let the rule have it.
	add(now.Add(-9*day), accesslog.OpRESTPutObject, "photos/rare_200x200.jpg")
	reads("photos/rare_200x200.jpg", 1)
	// expired: due, read, then expired by the rule: not refreshed, made
	// again as any missing thumbnail that is read.
	add(now.Add(-9*day), accesslog.OpRESTPutObject, "photos/expired_200x200.jpg")
	reads("photos/expired_200x200.jpg", 10)
	add(now.Add(-time.Hour), accesslog.OpExpireObject, "photos/expired_200x200.jpg")
	// old and young: written before the logs begin; HEAD tells, and so
	// it does of their originals (and vanished's).
	for _, key := range []string{"photos/old.jpg", "photos/young.jpg", "photos/vanished.jpg"} {
		if err := bucket.Put(ctx, key, []byte("original"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("photos/old_200x200.jpg", now.Add(-9*day-time.Hour))
	reads("photos/old_200x200.jpg", 10)
	put("photos/young_200x200.jpg", now.Add(-3*day))
	reads("photos/young_200x200.jpg", 10)
	// vanished: read, but HEAD finds it gone: made again.
	reads("photos/vanished_200x200.jpg", 10)

	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now, "A1"), log, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	q, err := queue.OpenFile(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stateStore := fileStore(t, "")
	cfg := analytics.DefaultConfig()
	cfg.ExpireDays = 10
	cfg.MinExpected = 1 // rare's one read in 9 days is 0.8 expected in the next week
	a := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: stateStore, Bucket: bucket, Queue: q, Now: func() time.Time { return now }})
	rep, err := a.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refreshed, made []string
	msgs, err := q.Receive(ctx, queue.MaxBatch, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		j, err := queue.Decode(m.Body)
		if err != nil {
			t.Fatalf("job %q: %v", m.Body, err)
		}
		if j.Refresh {
			refreshed = append(refreshed, j.Key)
		} else {
			made = append(made, j.Key)
		}
	}
	slices.Sort(refreshed)
	if want := []string{"photos/due_200x200.jpg", "photos/old_200x200.jpg"}; !slices.Equal(refreshed, want) {
		t.Errorf("refreshes queued for %q, want %q", refreshed, want)
	}
	slices.Sort(made)
	if want := []string{"photos/expired_200x200.jpg", "photos/vanished_200x200.jpg"}; !slices.Equal(made, want) {
		t.Errorf("jobs queued for %q, want %q", made, want)
	}
	if rep.Refreshes != 2 || rep.Heads != 6 || rep.TagChecks != 1 {
		t.Errorf("report: %d refreshes, %d heads, %d tag checks; want 2, 6 (old, young, vanished and their originals) and 1 (old's)",
			rep.Refreshes, rep.Heads, rep.TagChecks)
	}
	s := loadState(t, stateStore)
	if th, err := s.ThumbState("photos/due_200x200.jpg"); err != nil || th.Refresh != now.Unix() {
		t.Errorf("state of the refreshed thumbnail: %+v, %v; want its refresh time", th, err)
	}

	// The next run, before the logs show the rewrites, queues nothing again.
	now = now.Add(2 * time.Hour)
	rep, err = a.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refreshes != 0 || rep.Heads != 0 {
		t.Errorf("second run: %d refreshes, %d heads; want none", rep.Refreshes, rep.Heads)
	}

	// Without a lifecycle rule, nothing is refreshed.
	cfg.ExpireDays = 0
	rep, err = newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: fileStore(t, ""), Bucket: bucket, Now: func() time.Time { return now }}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refreshes != 0 {
		t.Errorf("with no lifecycle rule: %d refreshes, want none", rep.Refreshes)
	}
}

// backdated is a real store whose objects in written report that write
// time.
type backdated struct {
	store.Store
	written map[string]time.Time
}

func (b backdated) Head(ctx context.Context, key string) (store.Attrs, error) {
	a, err := b.Store.Head(ctx, key)
	if w, ok := b.written[key]; ok && err == nil {
		a.LastModified = w
	}
	return a, err
}
