package responder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/h2non/bimg"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// originHost is the Host header CloudFront sends to a custom origin: the
// origin's own domain name, not the site's.
const originHost = "imgpro.example.com"

// do sends method to url with Host set to host, without following
// redirects, and returns the answer and its body.
func do(t *testing.T, method, rawURL, host string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// getObject reads key from the bucket with the S3 client, independently of
// the responder; ok is false when there is no such key.
func getObject(t *testing.T, client *s3.Client, bucket, key string) (data []byte, out *s3.GetObjectOutput, ok bool) {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, nil, false
	}
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	data, err = io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data, out, true
}

// anySize decodes an image's header with libvips (the standard library has
// no WebP decoder) and returns its size.
func anySize(t *testing.T, data []byte) (int, int) {
	t.Helper()
	size, err := bimg.NewImage(data).Size()
	if err != nil {
		t.Fatalf("answer is not a decodable image: %v", err)
	}
	return size.Width, size.Height
}

// TestServeMissesDirectlyOnS3 is the responder as the secondary origin of a
// CloudFront origin group, on its own listener without the front: the
// bucket (here versitygw) has no object under a thumbnail's key, so the CDN
// asks the responder for the same path, which answers with the thumbnail
// itself and stores it back; the bucket then has it. Only thumbnails are
// answered on that path: originals, objects that are not thumbnails and
// keys outside the grammar are 404, and /resize and the probes still work.
func TestServeMissesDirectlyOnS3(t *testing.T) {
	gw := testserver.VersityGW(t)
	gw.CreateBucket(t, "site")
	ctx := context.Background()
	client := gw.Client()
	photo := samplePhoto(t)
	for key, data := range map[string][]byte{"photos/kleiber.jpg": photo, "social/banner_1200x630.jpg": photo} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("site"), Key: aws.String(key), Body: bytes.NewReader(data), ContentType: aws.String("image/jpeg"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.ServeMissesDirectly = true
	s := newStack(t, newS3Store(t, gw, "site"), thumbnail.DefaultConfig(), cfg)

	// The miss, as CloudFront fails over to it: the thumbnail in one answer.
	const key = "photos/kleiber_200x200.jpg"
	if _, _, ok := getObject(t, client, "site", key); ok {
		t.Fatalf("%s exists before the first request", key)
	}
	resp, body := do(t, http.MethodGet, s.srv.URL+"/"+key, originHost)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("GET /%s = %d %s %q, want 200 image/jpeg", key, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if w, h := imageSize(t, body); w != 200 || h != 200 {
		t.Fatalf("thumbnail is %dx%d, want 200x200", w, h)
	}
	if resp.Header.Get("Cache-Control") != "public, max-age=86400" || resp.Header.Get("ETag") == "" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("headers of the direct answer: %v", resp.Header)
	}
	// Stored back: the bucket answers the next request with the same bytes.
	stored, out, ok := getObject(t, client, "site", key)
	if !ok || !bytes.Equal(stored, body) || aws.ToString(out.ETag) != resp.Header.Get("ETag") || aws.ToString(out.CacheControl) != "public, max-age=86400" {
		t.Fatalf("stored back: present %v, same bytes %v, ETag %q vs answered %q", ok, bytes.Equal(stored, body), aws.ToString(out.ETag), resp.Header.Get("ETag"))
	}
	tags, err := client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("site"), Key: aws.String(key)})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "thumbnail" || aws.ToString(tags.TagSet[0].Value) != "yes" {
		t.Fatalf("tags = %+v, %v; want thumbnail=yes", tags, err)
	}
	// Asked again (a second edge, before it knows), served from the store.
	resp, again := do(t, http.MethodGet, s.srv.URL+"/"+key, originHost)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(again, body) || s.resizer.made.Load() != 1 {
		t.Fatalf("second request = %d, same bytes %v, resizes %d (want 1)", resp.StatusCode, bytes.Equal(again, body), s.resizer.made.Load())
	}

	// CloudFront fails over HEAD requests too: made, stored, no body.
	resp, body = do(t, http.MethodHead, s.srv.URL+"/photos/kleiber_120x_fit.webp", originHost)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/webp" || len(body) != 0 || resp.ContentLength <= 0 {
		t.Fatalf("HEAD = %d %s, %d body bytes, length %d", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), resp.ContentLength)
	}
	if webp, _, ok := getObject(t, client, "site", "photos/kleiber_120x_fit.webp"); !ok || int64(len(webp)) != resp.ContentLength {
		t.Fatalf("HEAD's thumbnail stored: %v, %d bytes for Content-Length %d", ok, len(webp), resp.ContentLength)
	}

	// Concurrent misses for one key share one resize and one write.
	puts, made := s.store.puts.Load(), s.resizer.made.Load()
	var wg sync.WaitGroup
	bodies := make([][]byte, 20)
	for i := range bodies {
		wg.Go(func() {
			resp, body := do(t, http.MethodGet, s.srv.URL+"/photos/kleiber_77x77.jpg", originHost)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("concurrent miss: %d %q", resp.StatusCode, body)
			}
			bodies[i] = body
		})
	}
	wg.Wait()
	if s.resizer.made.Load()-made != 1 || s.store.puts.Load()-puts != 1 {
		t.Fatalf("20 concurrent misses: %d resizes, %d writes; want 1 and 1", s.resizer.made.Load()-made, s.store.puts.Load()-puts)
	}

	// Nothing but thumbnails is answered on this path; nothing is written.
	puts, made = s.store.puts.Load(), s.resizer.made.Load()
	tests := []struct {
		path string
		code int
		msg  string
	}{
		{"/photos/kleiber.jpg", 404, "not a thumbnail key"},                   // an original
		{"/social/banner_1200x630.jpg", 404, "not found"},                     // an original named like a thumbnail
		{"/photos/missing.txt", 404, "not a thumbnail key"},                   // not a thumbnail key
		{"/photos/none_200x200.jpg", 404, "original not found"},               // no original
		{"/photos/kleiber_5000x5000.jpg", 403, "size not allowed"},            // the policy
		{"/photos/a%5Cb_10x10.jpg", 400, "invalid key"},                       // unsafe
		{"/", 404, "name a thumbnail"},                                        // nothing named
		{"/photos/kleiber_200x200_10x10.jpg", 400, "original is a thumbnail"}, // a thumbnail's thumbnail
	}
	for _, tt := range tests {
		resp, body := do(t, http.MethodGet, s.srv.URL+tt.path, originHost)
		if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.msg) || bytes.Contains(body, photo[:64]) {
			t.Errorf("GET %s = %d %q, want %d with %q", tt.path, resp.StatusCode, body, tt.code, tt.msg)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: error answered with Cache-Control %q, want no-store (a CDN must not keep it)", tt.path, resp.Header.Get("Cache-Control"))
		}
	}
	if s.store.puts.Load() != puts || s.resizer.made.Load() != made {
		t.Errorf("refused requests wrote %d objects and made %d resizes", s.store.puts.Load()-puts, s.resizer.made.Load()-made)
	}

	// The other routes are unchanged.
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `s3thumb_http_requests_total{code="200",route="direct"}`} {
		resp, body := do(t, http.MethodGet, s.srv.URL+path, originHost)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
	resp, body = do(t, http.MethodGet, s.srv.URL+"/resize?src=photos/kleiber_90x60.jpg", originHost)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/resize = %d %q", resp.StatusCode, body)
	}
	if w, h := imageSize(t, body); w != 90 || h != 60 {
		t.Fatalf("/resize thumbnail is %dx%d", w, h)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("resize", "200")); got != 1 {
		t.Errorf("requests{route=resize,code=200} = %v, want 1", got)
	}
}

// TestServeMissesDirectlyOff: without the mode and without the front the
// responder answers nothing at /KEY, as before.
func TestServeMissesDirectlyOff(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{"earth.jpg": samplePhoto(t)})
	s := newStack(t, st, thumbnail.DefaultConfig(), DefaultConfig())
	resp, _ := do(t, http.MethodGet, s.srv.URL+"/earth_200x200.jpg", originHost)
	if resp.StatusCode != http.StatusNotFound || s.resizer.made.Load() != 0 {
		t.Fatalf("GET /KEY without the mode = %d with %d resizes, want 404 and none", resp.StatusCode, s.resizer.made.Load())
	}
}

// TestFrontServesMissesDirectly: the front with the mode answers a missing
// thumbnail with the thumbnail, not a 302, stores it, and serves the next
// request from the store; it still serves every stored object, originals
// included, as the bucket's website does.
func TestFrontServesMissesDirectly(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{"earth.jpg": samplePhoto(t), "grey.png": imagingtest.PNG(imagingtest.Photo(600, 400))})
	cfg := DefaultConfig()
	cfg.Front = true
	cfg.ServeMissesDirectly = true
	s := newStack(t, st, thumbnail.DefaultConfig(), cfg)

	for _, tt := range []struct {
		key, ctype string
		w, h       int
	}{
		{"earth_200x200@2x.webp", "image/webp", 400, 400},
		{"grey_100x.png", "image/png", 100, 67},
	} {
		resp, body := do(t, http.MethodGet, s.srv.URL+"/"+tt.key, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.ctype || resp.Header.Get("Location") != "" {
			t.Fatalf("front miss %s = %d %s (Location %q), want 200 %s", tt.key, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), tt.ctype)
		}
		if w, h := anySize(t, body); w != tt.w || h != tt.h {
			t.Fatalf("%s is %dx%d, want %dx%d", tt.key, w, h, tt.w, tt.h)
		}
		obj, err := st.Get(context.Background(), tt.key)
		if err != nil {
			t.Fatalf("%s not stored: %v", tt.key, err)
		}
		stored, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		tags, err := st.Tags(context.Background(), tt.key)
		if !bytes.Equal(stored, body) || err != nil || tags["thumbnail"] != "yes" {
			t.Fatalf("%s stored: same bytes %v, tags %v %v", tt.key, bytes.Equal(stored, body), tags, err)
		}
		resp, again := do(t, http.MethodGet, s.srv.URL+"/"+tt.key, "")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(again, body) {
			t.Fatalf("front hit %s = %d, same bytes %v", tt.key, resp.StatusCode, bytes.Equal(again, body))
		}
	}
	if s.resizer.made.Load() != 2 {
		t.Fatalf("resizes = %d, want 2", s.resizer.made.Load())
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("front", "302")); got != 0 {
		t.Fatalf("%v redirects", got)
	}
	// The front still serves originals (the operator asked for the front)
	// and answers 404 for a missing key that is not a thumbnail's.
	resp, body := do(t, http.MethodGet, s.srv.URL+"/earth.jpg", "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, samplePhoto(t)) {
		t.Fatalf("front original = %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodGet, s.srv.URL+"/nothing.jpg", "")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("front missing non-thumbnail = %d, want 404", resp.StatusCode)
	}
	if _, err := st.Head(context.Background(), "nothing.jpg"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("something was stored: %v", err)
	}
}

// recordedLog keeps the front's access log records.
type recordedLog struct {
	mu   sync.Mutex
	recs []accesslog.Record
}

func (l *recordedLog) Log(rec *accesslog.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, *rec)
}

// TestDirectMissIsAMissInTheAccessLog: the analyzer reads the front's
// access log to count hits and misses (the report's hit ratio, misses
// avoided, a thumbnail known gone). With --serve-misses-directly the
// first view of a missing thumbnail is answered 200 like a hit, but it is
// a miss, and the analyzer must count it as one.
func TestDirectMissIsAMissInTheAccessLog(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{"earth.jpg": samplePhoto(t)})
	log := &recordedLog{}
	cfg := DefaultConfig()
	cfg.Front = true
	cfg.ServeMissesDirectly = true
	cfg.AccessLog = log
	s := newStack(t, st, thumbnail.DefaultConfig(), cfg)
	for range 2 { // a miss, then a hit
		if resp, body := do(t, http.MethodGet, s.srv.URL+"/earth_200x200.jpg", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET = %d %q", resp.StatusCode, body)
		}
	}
	if s.resizer.made.Load() != 1 {
		t.Fatalf("resizes = %d, want 1 (the first request was a miss)", s.resizer.made.Load())
	}
	// The front logs a request after answering it: wait for both records.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		log.mu.Lock()
		n := len(log.recs)
		log.mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
	}
	stt := state.NewState()
	agg := analytics.NewAggregator(stt)
	log.mu.Lock()
	for i := range log.recs {
		t.Logf("logged: %s %s %d", log.recs[i].Operation, log.recs[i].Key, log.recs[i].HTTPStatus)
		agg.Add(&log.recs[i])
	}
	log.mu.Unlock()
	var hits, misses int64
	for _, d := range stt.Days {
		hits += d.Hits
		misses += d.Misses
	}
	if misses != 1 || hits != 1 {
		t.Errorf("the analyzer counts %d hits and %d misses of a miss then a hit, want 1 and 1", hits, misses)
	}
}
