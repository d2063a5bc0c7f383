package worker_test

import (
	"context"
	"errors"
	"image/color"
	"io"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/worker"
)

// colourIn reads key from st and tells its test colour; ok is false when
// it is missing or none of them.
func colourIn(ctx context.Context, st store.Store, key string) (color.RGBA, bool) {
	obj, err := st.Get(ctx, key)
	if err != nil {
		return color.RGBA{}, false
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		return color.RGBA{}, false
	}
	return testkit.Colour(data)
}

// TestFollowEventsSQS: the S3 event S3 sends when an original is
// overwritten has a worker remake its stored thumbnails from the new
// picture, and the one S3 sends when it is deleted (a delete, or a delete
// marker in a versioned bucket) has it delete them; the thumbnails of
// earth_2020.jpg and an untagged earth_30x30.jpg are left alone. The store
// is versitygw, the queue fauxqs; the events are S3's JSON, as S3 would
// send them (neither server sends notifications).
func TestFollowEventsSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s3srv := testserver.VersityGW(t)
	sqsSrv := testserver.Fauxqs(t)
	s3srv.CreateBucket(t, "images")
	queueURL, _ := sqsSrv.CreateQueue(t, "events", 5*time.Second, 3)
	q, err := queue.NewSQS(ctx, sqsSrv.Client(), queueURL, queue.Options{VisibilityTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bucket := store.NewS3(s3srv.Client(), "images", "photos/")
	upload := func(key string, c color.RGBA) {
		t.Helper()
		if err := bucket.Put(ctx, key, testkit.SolidJPEG(t, c), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
			t.Fatal(err)
		}
	}
	upload("earth.jpg", testkit.Red)
	upload("earth_2020.jpg", testkit.Green)
	upload("earth_30x30.jpg", testkit.Yellow)
	maker := newMaker(t, bucket, nil)
	thumbs := []string{"earth_20x20.jpg", "earth_40x_fit.png"}
	for _, key := range append(thumbs, "earth_2020_20x20.jpg") {
		k, err := thumbkey.Parse(key)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := maker.Ensure(ctx, k); err != nil || !res.Stored {
			t.Fatalf("Ensure(%s) = %+v, %v", key, res, err)
		}
	}
	cfg := fastConfig()
	cfg.UploadBucket, cfg.UploadPrefix = "images", "photos/"
	r := startWorker(t, cfg, q, maker)

	upload("earth.jpg", testkit.Blue)
	sent := time.Now()
	sendRaw(t, q, s3Event(t, "ObjectCreated:Put", "images", "photos/earth.jpg"))
	testkit.WaitFor(t, time.Minute, "thumbnails remade blue", func() bool {
		for _, key := range thumbs {
			if c, ok := colourIn(ctx, bucket, key); !ok || c != testkit.Blue {
				return false
			}
		}
		return true
	})
	t.Logf("overwrite event sent to remade thumbnails stored: %v", time.Since(sent))
	// The message is settled just after the writes.
	testkit.WaitFor(t, 10*time.Second, "the event settled as "+worker.ReasonFollowed, func() bool {
		return jobs(t, r.reg, worker.Done, worker.ReasonFollowed) == 1
	})
	for key, want := range map[string]color.RGBA{"earth_2020_20x20.jpg": testkit.Green, "earth_30x30.jpg": testkit.Yellow} {
		if c, ok := colourIn(ctx, bucket, key); !ok || c != want {
			t.Errorf("%s is %v (%v), want %v: it is not earth.jpg's", key, c, ok, want)
		}
	}

	if err := bucket.Delete(ctx, "earth.jpg"); err != nil {
		t.Fatal(err)
	}
	sendRaw(t, q, s3Event(t, "ObjectRemoved:DeleteMarkerCreated", "images", "photos/earth.jpg"))
	testkit.WaitFor(t, time.Minute, "thumbnails deleted", func() bool {
		for _, key := range thumbs {
			if _, err := bucket.Head(ctx, key); !errors.Is(err, store.ErrNotFound) {
				return false
			}
		}
		return true
	})
	r.stop(t)
	for _, key := range []string{"earth_2020_20x20.jpg", "earth_30x30.jpg", "earth_2020.jpg"} {
		if _, err := bucket.Head(ctx, key); err != nil {
			t.Errorf("%s: %v; want it kept", key, err)
		}
	}
	if visible, inFlight := sqsSrv.Counts(t, queueURL); visible+inFlight != 0 {
		t.Errorf("queue holds %d messages, want none", visible+inFlight)
	}
}

// TestFollowEventOfUntaggedKey: an upload event for a key named like a
// thumbnail of an existing original but without the tag (a person's
// banner_1200x630.jpg beside banner.jpg) does not delete or rewrite it, and
// the thumbnails of banner.jpg still follow banner.jpg only.
func TestFollowEventOfUntaggedKey(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	s.putFile(t, "banner.jpg", testkit.SolidJPEG(t, testkit.Red))
	s.putFile(t, "banner_40x40.jpg", testkit.SolidJPEG(t, testkit.Yellow)) // a person's, untagged
	maker := newMaker(t, s.store, nil)
	k, _ := thumbkey.Parse("banner_20x20.jpg")
	if _, err := maker.Ensure(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	r := startWorker(t, fastConfig(), s.q, maker)
	s.putFile(t, "banner.jpg", testkit.SolidJPEG(t, testkit.Blue))
	sendRaw(t, s.q, s3Event(t, "ObjectCreated:Put", "any", "banner.jpg"))
	testkit.WaitFor(t, 30*time.Second, "the event", func() bool { return totalJobs(t, r.reg) >= 1 })
	r.stop(t)
	ctx := context.Background()
	if c, ok := colourIn(ctx, s.store, "banner_20x20.jpg"); !ok || c != testkit.Blue {
		t.Errorf("banner_20x20.jpg is %v (%v), want blue", c, ok)
	}
	if c, ok := colourIn(ctx, s.store, "banner_40x40.jpg"); !ok || c != testkit.Yellow {
		t.Errorf("the untagged banner_40x40.jpg is %v (%v), want it as uploaded", c, ok)
	}
}
