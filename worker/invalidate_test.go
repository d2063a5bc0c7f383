package worker_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/s3thumb/s3thumb/internal/cdn"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/worker"
)

// TestFollowInvalidatesCloudFront: with a CloudFront distribution, the
// thumbnails a replaced original's event remade are invalidated (one
// CreateInvalidation naming their paths, at a recording endpoint on
// 127.0.0.1); when CloudFront refuses, the failure is counted and logged
// and the event is still done, not retried.
func TestFollowInvalidatesCloudFront(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		want   string // the outcome counted
	}{
		{"ok", http.StatusCreated, "ok"},
		{"refused", http.StatusServiceUnavailable, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var paths [][]string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				var batch struct {
					Items []string `xml:"Paths>Items>Path"`
				}
				if r.Method != http.MethodPost || r.URL.Path != "/2020-05-31/distribution/E2EXAMPLE/invalidation" || xml.Unmarshal(body, &batch) != nil {
					t.Errorf("request %s %s %s: want a CreateInvalidation of E2EXAMPLE", r.Method, r.URL.Path, body)
				}
				mu.Lock()
				paths = append(paths, batch.Items)
				mu.Unlock()
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(tc.status)
				if tc.status == http.StatusCreated {
					io.WriteString(w, `<Invalidation><Id>I1</Id><Status>InProgress</Status></Invalidation>`)
					return
				}
				io.WriteString(w, `<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error></ErrorResponse>`)
			}))
			t.Cleanup(srv.Close)
			inv, err := cdn.NewCloudFront(cloudfront.New(cloudfront.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), RetryMaxAttempts: 1}), "E2EXAMPLE", "")
			if err != nil {
				t.Fatal(err)
			}

			s := newFileSetup(t, queue.Options{})
			s.putFile(t, "p/earth.jpg", testkit.SolidJPEG(t, testkit.Red))
			maker := newMaker(t, s.store, nil)
			for _, key := range []string{"p/earth_20x20.jpg", "p/earth_40x_fit.png"} {
				k, _ := thumbkey.Parse(key)
				if _, err := maker.Ensure(context.Background(), k); err != nil {
					t.Fatal(err)
				}
			}
			cfg := fastConfig()
			cfg.Invalidator = inv
			r := startWorker(t, cfg, s.q, maker)
			s.putFile(t, "p/earth.jpg", testkit.SolidJPEG(t, testkit.Blue))
			sendRaw(t, s.q, s3Event(t, "ObjectCreated:Put", "any", "p/earth.jpg"))
			testkit.WaitFor(t, 30*time.Second, "the event done", func() bool {
				return jobs(t, r.reg, worker.Done, worker.ReasonFollowed) == 1
			})
			if n := metric(t, r.reg, "s3thumb_worker_cdn_invalidations_total", map[string]string{"outcome": tc.want}); n != 1 {
				t.Errorf("invalidations %s = %v, want 1", tc.want, n)
			}
			time.Sleep(2 * cfg.RetryBackoff) // a retry would be delivered by now
			r.stop(t)
			if n := totalJobs(t, r.reg); n != 1 {
				t.Errorf("%d deliveries handled, want 1: the event is not retried", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) != 1 || !slices.Equal(slices.Sorted(slices.Values(paths[0])), []string{"/p/earth_20x20.jpg", "/p/earth_40x_fit.png"}) {
				t.Errorf("invalidations requested %q, want one of the two remade thumbnails", paths)
			}
		})
	}
}
