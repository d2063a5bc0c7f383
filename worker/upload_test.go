package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/worker"
)

// s3Event is an S3 event notification of one record, as S3 sends it to a
// queue: the key URL-encoded, spaces as "+".
func s3Event(t testing.TB, eventName, bucket, key string) []byte {
	t.Helper()
	rec := map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
		"eventTime": time.Now().UTC().Format(time.RFC3339Nano), "eventName": eventName,
		"s3": map[string]any{
			"s3SchemaVersion": "1.0", "configurationId": "s3thumb-uploads",
			"bucket": map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
			"object": map[string]any{"key": url.QueryEscape(key), "size": 2048, "sequencer": "0055AED6DCD90281E5"},
		},
	}
	b, err := json.Marshal(map[string]any{"Records": []any{rec}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// staticClasses is a ClassSource for tests.
type staticClasses []string

func (c staticClasses) Classes(context.Context) ([]string, error) { return c, nil }

// TestUploadEvents: an S3 event for an original makes its popular classes;
// events for thumbnails, S3's test event and a second event for the same
// upload make nothing; a class the policy refuses is left out; an upload
// that is not an image fails for good; a malformed event is dead-lettered.
func TestUploadEvents(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	s.putFile(t, "photos/new photo.jpg", tinyJPEG(t, 64, 48))
	s.putFile(t, "photos/corrupt.jpg", []byte("this is not an image"))
	st := newCountingStore(s.store)
	cfg := fastConfig()
	cfg.Concurrency = 1 // the second event for the upload comes after the first
	cfg.UploadClasses = staticClasses{"_200x200.jpg", "_100x.webp", "_9000x.jpg"}
	sendRaw(t, s.q,
		s3Event(t, "ObjectCreated:Put", "photos", "photos/new photo.jpg"),
		s3Event(t, "ObjectCreated:Put", "photos", "photos/new photo_200x200.jpg"),
		[]byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-27T08:00:00.000Z","Bucket":"photos"}`),
		s3Event(t, "ObjectCreated:Put", "photos", "photos/new photo.jpg"),
		s3Event(t, "ObjectCreated:Copy", "photos", "photos/corrupt.jpg"),
		s3Event(t, "ObjectCreated:Put", "photos", "photos/notes.txt"),
		[]byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"photos"},"object":{"key":"100%.jpg"}}}]}`),
	)
	r := startWorker(t, cfg, s.q, newMaker(t, st, nil))
	testkit.WaitFor(t, 30*time.Second, "7 messages", func() bool { return totalJobs(t, r.reg) >= 7 })
	r.stop(t)

	for k, n := range map[[2]string]int{
		{string(worker.Done), worker.ReasonUpload}:                1,
		{string(worker.Skipped), worker.ReasonExists}:             1,
		{string(worker.Skipped), worker.ReasonNotOriginal}:        3,
		{string(worker.Failed), worker.ReasonUnsupportedImage}:    1,
		{string(worker.Failed), worker.ReasonMalformed}:           1,
		{string(worker.Skipped), worker.ReasonNoClasses}:          0,
		{string(worker.Retried), worker.ReasonError}:              0,
		{string(worker.Failed), worker.ReasonSizeNotAllowed}:      0,
		{string(worker.Done), worker.ReasonMade}:                  0,
		{string(worker.Skipped), worker.ReasonStoredByAnother}:    0,
		{string(worker.Retried), worker.ReasonStoreBack}:          0,
		{string(worker.Failed), worker.ReasonOriginalMissing}:     0,
		{string(worker.Failed), worker.ReasonOriginalTooLarge}:    0,
		{string(worker.Retried), worker.ReasonInterrupted}:        0,
		{string(worker.Failed), worker.ReasonInvalidKey}:          0,
		{string(worker.Failed), worker.ReasonTooManyPixels}:       0,
		{string(worker.Retried), worker.ReasonTimeout}:            0,
		{string(worker.Failed), worker.ReasonInvalidOptions}:      0,
		{string(worker.Done), worker.ReasonRefreshed}:             0,
		{string(worker.Done), "nonexistent reason, for the test"}: 0,
	} {
		if got := jobs(t, r.reg, worker.Outcome(k[0]), k[1]); got != n {
			t.Errorf("jobs{outcome=%s,reason=%s} = %d, want %d", k[0], k[1], got, n)
		}
	}
	got := st.writes()
	if len(got) != 2 || got["photos/new photo_200x200.jpg"] != 1 || got["photos/new photo_100x.webp"] != 1 {
		t.Errorf("writes = %v, want the upload's two allowed classes once each", got)
	}
}

// TestUploadEventsWithoutClasses: with no classes to make, an upload event
// is removed and nothing is made; a ClassSource that fails has the message
// retried.
func TestUploadEventsWithoutClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		classes worker.ClassSource
		outcome worker.Outcome
		reason  string
	}{
		{"no source", nil, worker.Skipped, worker.ReasonNoClasses},
		{"none published", staticClasses{}, worker.Skipped, worker.ReasonNoClasses},
		{"source fails", failingClasses{}, worker.Retried, worker.ReasonError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newFileSetup(t, queue.Options{})
			s.putFile(t, "a.jpg", tinyJPEG(t, 64, 48))
			st := newCountingStore(s.store)
			cfg := fastConfig()
			cfg.UploadClasses = tt.classes
			sendRaw(t, s.q, s3Event(t, "ObjectCreated:Put", "photos", "a.jpg"))
			r := startWorker(t, cfg, s.q, newMaker(t, st, nil))
			testkit.WaitFor(t, 30*time.Second, "the event", func() bool { return totalJobs(t, r.reg) >= 1 })
			r.stop(t)
			if got := jobs(t, r.reg, tt.outcome, tt.reason); got < 1 {
				t.Errorf("jobs{outcome=%s,reason=%s} = %d, want at least 1", tt.outcome, tt.reason, got)
			}
			if got := st.writes(); len(got) != 0 {
				t.Errorf("writes = %v, want none", got)
			}
		})
	}
}

type failingClasses struct{}

func (failingClasses) Classes(context.Context) ([]string, error) {
	return nil, errors.New("injected: 503 SlowDown")
}

// TestUploadEventsSQS: an S3 event message on an SQS queue (fauxqs) makes
// the popular classes published in the analyzer's state in S3 (versitygw)
// for the uploaded original, tagged, in a store under a prefix; events for
// another bucket or for keys outside the prefix make nothing.
func TestUploadEventsSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s3srv := testserver.VersityGW(t)
	sqsSrv := testserver.Fauxqs(t)
	s3srv.CreateBucket(t, "images")
	s3srv.CreateBucket(t, "logs")
	queueURL, _ := sqsSrv.CreateQueue(t, "uploads", 5*time.Second, 3)
	q, err := queue.NewSQS(ctx, sqsSrv.Client(), queueURL, queue.Options{VisibilityTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bucket := store.NewS3(s3srv.Client(), "images", "photos/")
	state := store.NewS3(s3srv.Client(), "logs", "s3thumb-state/")
	if err := bucket.Put(ctx, "summer day.jpg", tinyJPEG(t, 64, 48), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	published, err := json.Marshal(popular.Published{Classes: []popular.ClassShare{
		{Class: "_200x200.jpg", Share: 0.6, Popular: true}, {Class: "_400x.webp", Share: 0.3, Popular: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := state.Put(ctx, popular.Key, published, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.UploadClasses = popular.NewCache(state, time.Minute, nil)
	cfg.UploadBucket, cfg.UploadPrefix = "images", "photos/"
	sendRaw(t, q,
		s3Event(t, "ObjectCreated:Put", "images", "photos/summer day.jpg"),
		s3Event(t, "ObjectCreated:Put", "elsewhere", "photos/summer day.jpg"),
		s3Event(t, "ObjectCreated:Put", "images", "drafts/summer day.jpg"))
	r := startWorker(t, cfg, q, newMaker(t, bucket, nil))
	testkit.WaitFor(t, 30*time.Second, "the three events", func() bool { return totalJobs(t, r.reg) >= 3 })
	r.stop(t)
	if done, outside := jobs(t, r.reg, worker.Done, worker.ReasonUpload), jobs(t, r.reg, worker.Skipped, worker.ReasonOutsideStore); done != 1 || outside != 2 {
		t.Errorf("events: %d done, %d outside the store; want 1 and 2", done, outside)
	}
	// Keys relative to the store's prefix.
	for _, key := range []string{"summer day_200x200.jpg", "summer day_400x.webp"} {
		tags, err := bucket.Tags(ctx, key)
		if err != nil || tags["thumbnail"] != "yes" {
			t.Errorf("%s: tags %v, %v; want it stored with thumbnail=yes", key, tags, err)
		}
	}
	if visible, inFlight := sqsSrv.Counts(t, queueURL); visible+inFlight != 0 {
		t.Errorf("queue holds %d messages, want none", visible+inFlight)
	}
}

// TestOriginalNamedLikeThumbnail: an original whose name fits the thumbnail
// grammar (banner_1200x630.jpg, no banner.jpg, no tag) is an original to
// the worker: its upload event makes its popular classes, a refresh job
// naming it fails without writing, and a job to make it finds it stored.
// It stays byte for byte as uploaded, untagged.
func TestOriginalNamedLikeThumbnail(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	photo := tinyJPEG(t, 64, 48)
	s.putFile(t, "photos/banner_1200x630.jpg", photo)
	st := newCountingStore(s.store)
	cfg := fastConfig()
	cfg.Concurrency = 1
	cfg.UploadClasses = staticClasses{"_200x200.jpg"}
	refresh, err := queue.Encode(queue.Job{Key: "photos/banner_1200x630.jpg", Reason: "refresh", Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, s.q, s3Event(t, "ObjectCreated:Put", "photos", "photos/banner_1200x630.jpg"), refresh)
	sendJobs(t, s.q, "photos/banner_1200x630.jpg")
	r := startWorker(t, cfg, s.q, newMaker(t, st, nil))
	testkit.WaitFor(t, 30*time.Second, "3 messages", func() bool { return totalJobs(t, r.reg) >= 3 })
	r.stop(t)
	for k, n := range map[[2]string]int{
		{string(worker.Done), worker.ReasonUpload}:       1,
		{string(worker.Failed), worker.ReasonIsOriginal}: 1,
		{string(worker.Skipped), worker.ReasonExists}:    1,
	} {
		if got := jobs(t, r.reg, worker.Outcome(k[0]), k[1]); got != n {
			t.Errorf("jobs{outcome=%s,reason=%s} = %d, want %d", k[0], k[1], got, n)
		}
	}
	if got := st.writes(); len(got) != 1 || got["photos/banner_1200x630_200x200.jpg"] != 1 {
		t.Errorf("writes = %v, want only the original's thumbnail", got)
	}
	obj, err := s.store.Get(t.Context(), "photos/banner_1200x630.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if got, _ := io.ReadAll(obj.Body); !bytes.Equal(got, photo) {
		t.Error("the original's bytes changed")
	}
	if tags, err := s.store.Tags(t.Context(), "photos/banner_1200x630.jpg"); err != nil || len(tags) != 0 {
		t.Errorf("the original's tags = %v, %v; want none", tags, err)
	}
}

// TestUploadEventOwnFormat: a class in each original's own format makes a
// PNG original's thumbnail as PNG and IMG_0042.JPG's as .JPG.
func TestUploadEventOwnFormat(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	s.putFile(t, "cam/IMG_0042.JPG", tinyJPEG(t, 64, 48))
	s.putFile(t, "art/logo.png", tinyPNG(t, 64, 48))
	st := newCountingStore(s.store)
	cfg := fastConfig()
	cfg.UploadClasses = staticClasses{"_32x32.*", "_16x.webp"}
	sendRaw(t, s.q, s3Event(t, "ObjectCreated:Put", "photos", "cam/IMG_0042.JPG"), s3Event(t, "ObjectCreated:Put", "photos", "art/logo.png"))
	r := startWorker(t, cfg, s.q, newMaker(t, st, nil))
	testkit.WaitFor(t, 30*time.Second, "2 messages", func() bool { return totalJobs(t, r.reg) >= 2 })
	r.stop(t)
	got := st.writes()
	for _, key := range []string{"cam/IMG_0042_32x32.JPG", "cam/IMG_0042_16x.webp", "art/logo_32x32.png", "art/logo_16x.webp"} {
		if got[key] != 1 {
			t.Errorf("writes = %v, want %s once", got, key)
		}
	}
	obj, err := s.store.Get(t.Context(), "art/logo_32x32.png")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if _, format, err := image.Decode(obj.Body); err != nil || format != "png" {
		t.Errorf("art/logo_32x32.png decodes as %q, %v; want a PNG", format, err)
	}
}
