package main

import (
	"context"
	"encoding/xml"
	"errors"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// TestEnqueueStaleOnly: a bucket without event notifications on versitygw,
// under a prefix, and an SQS queue on fauxqs. Thumbnails are made by a
// worker; then one original is replaced and one deleted behind its back.
// `enqueue --stale-only` queues exactly those two originals' events, once
// each (a dry run first queues nothing), and leaves current thumbnails and
// an untagged key named like a thumbnail alone; the worker, draining the
// queue, remakes the replaced original's thumbnails in its new colour and
// deletes the gone one's. A second run finds nothing stale.
func TestEnqueueStaleOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	s3srv := testserver.VersityGW(t)
	sqsSrv := testserver.Fauxqs(t)
	awsEnv(t, s3srv.AccessKey, s3srv.SecretKey)
	s3srv.CreateBucket(t, "images")
	queueURL, dlqURL := sqsSrv.CreateQueue(t, "thumbs", 30*time.Second, 5)
	st := store.NewS3(s3srv.Client(), "images", "site/")
	ctx := context.Background()
	put := func(key string, c color.RGBA) {
		t.Helper()
		if err := st.Put(ctx, key, testkit.SolidJPEG(t, c), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
			t.Fatal(err)
		}
	}
	colour := func(key string) (color.RGBA, bool) {
		obj, err := st.Get(ctx, key)
		if err != nil {
			return color.RGBA{}, false
		}
		defer obj.Body.Close()
		b, err := io.ReadAll(obj.Body)
		if err != nil {
			return color.RGBA{}, false
		}
		return testkit.Colour(b)
	}
	// A person's upload named like a thumbnail of p/keep.jpg, written
	// before it: it looks stale by its date, but it is an original.
	put("p/keep_40x40.jpg", testkit.Yellow)
	time.Sleep(1100 * time.Millisecond)
	for _, key := range []string{"p/keep.jpg", "p/replace.jpg", "p/delete.jpg"} {
		put(key, testkit.Red)
	}

	common := []string{"--store", "s3://images/site", "--s3-endpoint", s3srv.Endpoint, "--s3-path-style",
		"--queue", "sqs://thumbs", "--sqs-endpoint", sqsSrv.Endpoint}
	w := startWorkerProc(t, bin, append([]string{"work", "--concurrency", "2", "--metrics-listen", "127.0.0.1:0"}, common...)...)
	code, out, errOut := enqueueRun(ctx, nil, append([]string{"enqueue", "--sizes", "40x40,20x_fit"}, common...)...)
	if code != exitOK {
		t.Fatalf("enqueue: exit %d\n%s\n%s", code, out, errOut)
	}
	thumbs := []string{"p/keep_20x_fit.jpg", "p/replace_40x40.jpg", "p/replace_20x_fit.jpg", "p/delete_40x40.jpg", "p/delete_20x_fit.jpg"}
	testkit.WaitFor(t, 60*time.Second, "the thumbnails made", func() bool {
		for _, key := range thumbs {
			if c, ok := colour(key); !ok || c != testkit.Red {
				return false
			}
		}
		return sqsSrv.Len(t, queueURL) == 0
	})
	keepThumb, err := st.Head(ctx, "p/keep_20x_fit.jpg")
	if err != nil {
		t.Fatal(err)
	}

	// Nothing changed yet: nothing is stale (the untagged key is counted).
	code, out, errOut = enqueueRun(ctx, nil, append([]string{"enqueue", "--stale-only"}, common...)...)
	if code != exitOK || !strings.Contains(out, "originals queued       0\n") || !strings.Contains(out, "untagged (originals)   1\n") {
		t.Fatalf("enqueue --stale-only before any change: exit %d\n%s\n%s", code, out, errOut)
	}

	// Behind the bucket's back: no event notification reaches the queue.
	w.terminate(t)
	put("p/replace.jpg", testkit.Blue)
	if err := st.Delete(ctx, "p/delete.jpg"); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = enqueueRun(ctx, nil, append([]string{"enqueue", "--stale-only", "--dry-run"}, common...)...)
	if code != exitOK || out != "ObjectRemoved:Delete p/delete.jpg\nObjectCreated:Put p/replace.jpg\n" ||
		!strings.Contains(errOut, "would queue (dry run)  2\n") || sqsSrv.Len(t, queueURL) != 0 {
		t.Fatalf("enqueue --stale-only --dry-run: exit %d, %d messages queued\n%s\n%s", code, sqsSrv.Len(t, queueURL), out, errOut)
	}
	code, out, errOut = enqueueRun(ctx, nil, append([]string{"enqueue", "--stale-only"}, common...)...)
	for _, line := range []string{"thumbnails checked     6\n", "stale                  4\n", "untagged (originals)   1\n", "originals queued       2\n", "gone (queued removed)  1\n"} {
		if code != exitOK || !strings.Contains(out, line) {
			t.Fatalf("enqueue --stale-only: exit %d, want %q in\n%s\n%s", code, line, out, errOut)
		}
	}
	if n := sqsSrv.Len(t, queueURL); n != 2 {
		t.Fatalf("%d messages queued, want 2: one per original", n)
	}

	// The worker invalidates what it changed in a CloudFront distribution:
	// a recording endpoint on 127.0.0.1 stands in for CloudFront.
	var mu sync.Mutex
	var invalidated []string
	cf := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var batch struct {
			Quantity int      `xml:"Paths>Quantity"`
			Items    []string `xml:"Paths>Items>Path"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/2020-05-31/distribution/E2EXAMPLE/invalidation" ||
			!strings.Contains(r.Header.Get("Authorization"), "/us-east-1/cloudfront/aws4_request") ||
			xml.Unmarshal(body, &batch) != nil || batch.Quantity != len(batch.Items) {
			t.Errorf("CloudFront request %s %s %q: want a signed CreateInvalidation of E2EXAMPLE", r.Method, r.URL.Path, body)
		}
		mu.Lock()
		invalidated = append(invalidated, batch.Items...)
		mu.Unlock()
		rw.WriteHeader(http.StatusCreated)
		io.WriteString(rw, `<Invalidation><Id>I1</Id><Status>InProgress</Status></Invalidation>`)
	}))
	defer cf.Close()
	w = startWorkerProc(t, bin, append([]string{"work", "--concurrency", "2", "--metrics-listen", "127.0.0.1:0",
		"--cloudfront-distribution-id", "E2EXAMPLE", "--cloudfront-endpoint", cf.URL}, common...)...)
	testkit.WaitFor(t, 60*time.Second, "the thumbnails to follow their originals", func() bool {
		for _, key := range []string{"p/replace_40x40.jpg", "p/replace_20x_fit.jpg"} {
			if c, ok := colour(key); !ok || c != testkit.Blue {
				return false
			}
		}
		for _, key := range []string{"p/delete_40x40.jpg", "p/delete_20x_fit.jpg"} {
			if _, err := st.Head(ctx, key); !errors.Is(err, store.ErrNotFound) {
				return false
			}
		}
		return sqsSrv.Len(t, queueURL) == 0
	})
	jobs := w.jobs(t)
	w.terminate(t)
	if jobs["done"] != 2 || sum(jobs) != 2 {
		t.Errorf("worker jobs %v: want the 2 events done", jobs)
	}
	if n := sqsSrv.Len(t, dlqURL); n != 0 {
		t.Errorf("%d messages dead-lettered", n)
	}
	mu.Lock()
	slices.Sort(invalidated)
	if want := []string{"/site/p/delete_20x_fit.jpg", "/site/p/delete_40x40.jpg", "/site/p/replace_20x_fit.jpg", "/site/p/replace_40x40.jpg"}; !slices.Equal(invalidated, want) {
		t.Errorf("CloudFront invalidated %q, want %q", invalidated, want)
	}
	mu.Unlock()
	if c, ok := colour("p/keep_40x40.jpg"); !ok || c != testkit.Yellow {
		t.Errorf("the untagged p/keep_40x40.jpg is %v (%v), want yellow as uploaded", c, ok)
	}
	if a, err := st.Head(ctx, "p/keep_20x_fit.jpg"); err != nil || a.ETag != keepThumb.ETag {
		t.Errorf("the current p/keep_20x_fit.jpg was rewritten or lost: %+v, %v", a, err)
	}
	code, out, errOut = enqueueRun(ctx, nil, append([]string{"enqueue", "--stale-only"}, common...)...)
	if code != exitOK || !strings.Contains(out, "originals queued       0\n") || !strings.Contains(out, "stale                  0\n") {
		t.Fatalf("enqueue --stale-only after the worker: exit %d\n%s\n%s", code, out, errOut)
	}
}
