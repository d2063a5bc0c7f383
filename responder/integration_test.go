package responder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// countingStore counts the calls that reach a real store.
type countingStore struct {
	store.Store
	gets, puts atomic.Int64
	failPuts   bool
}

func (s *countingStore) Get(ctx context.Context, key string) (*store.Object, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Put(ctx context.Context, key string, body []byte, opts store.PutOptions) error {
	s.puts.Add(1)
	if s.failPuts {
		return fmt.Errorf("put %s: simulated outage", key)
	}
	return s.Store.Put(ctx, key, body, opts)
}

// countingResizer counts the thumbnails the real engine makes, each after
// delay (a slow original).
type countingResizer struct {
	*imaging.Vips
	made  atomic.Int64
	delay time.Duration
}

func (r *countingResizer) Thumbnail(ctx context.Context, data []byte, opts imaging.Options) (imaging.Image, error) {
	r.made.Add(1)
	time.Sleep(r.delay)
	return r.Vips.Thumbnail(ctx, data, opts)
}

// stack is a responder wired to a real store and the real engine.
type stack struct {
	srv     *httptest.Server
	store   *countingStore
	resizer *countingResizer
	metrics *metrics
}

func newStack(t *testing.T, st store.Store, tcfg thumbnail.Config, cfg Config) *stack {
	t.Helper()
	return newStackLog(t, st, tcfg, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// fileStoreWith is a file store in a new folder holding files (name:
// contents).
func fileStoreWith(t *testing.T, files map[string][]byte) *store.FileStore {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newStackLog is newStack logging to log.
func newStackLog(t *testing.T, st store.Store, tcfg thumbnail.Config, cfg Config, log *slog.Logger) *stack {
	t.Helper()
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{store: &countingStore{Store: st}, resizer: &countingResizer{Vips: vips}}
	maker, err := thumbnail.NewMaker(s.store, s.resizer, thumbnail.NewLimiter(2, 100, thumbnail.DefaultMaxMemory), tcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rs, err := New(cfg, maker, s.store, log, reg, reg)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(rs)
	s.metrics = rs.metrics
	t.Cleanup(func() { s.srv.Close(); rs.Wait() })
	return s
}

func samplePhoto(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../scripts/sample/kleiber.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fetch GETs url without following redirects.
func fetch(t *testing.T, rawURL string, host string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
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

func imageSize(t *testing.T, data []byte) (int, int) {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("answer is not a decodable image: %v", err)
	}
	return cfg.Width, cfg.Height
}

func newS3Store(t *testing.T, srv *testserver.S3, bucket string) store.Store {
	t.Helper()
	return store.NewS3(srv.Client(), bucket, "")
}

func TestResponderOnS3(t *testing.T) {
	gw := testserver.VersityGW(t)
	gw.CreateBucket(t, "site")
	ctx := context.Background()
	client := gw.Client()
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("site"), Key: aws.String("photos/kleiber.jpg"),
		Body: bytes.NewReader(samplePhoto(t)), ContentType: aws.String("image/jpeg"),
	}); err != nil {
		t.Fatal(err)
	}
	st := newS3Store(t, gw, "site")
	s := newStack(t, st, thumbnail.DefaultConfig(), DefaultConfig())

	// The first request resizes, answers and stores back with the tag.
	resp, body := fetch(t, s.srv.URL+"/resize?src=photos/kleiber_200x200.jpg", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("first request: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if w, h := imageSize(t, body); w != 200 || h != 200 {
		t.Fatalf("thumbnail is %dx%d, want 200x200 (fill)", w, h)
	}
	if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != "public, max-age=86400" || resp.ContentLength != int64(len(body)) {
		t.Fatalf("headers: %v", resp.Header)
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("site"), Key: aws.String("photos/kleiber_200x200.jpg")})
	if err != nil {
		t.Fatalf("thumbnail not stored: %v", err)
	}
	if aws.ToString(head.ContentType) != "image/jpeg" || aws.ToString(head.CacheControl) != "public, max-age=86400" || aws.ToInt64(head.ContentLength) != int64(len(body)) {
		t.Fatalf("stored attributes: type %q, cache %q, length %d", aws.ToString(head.ContentType), aws.ToString(head.CacheControl), aws.ToInt64(head.ContentLength))
	}
	tags, err := client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("site"), Key: aws.String("photos/kleiber_200x200.jpg")})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "thumbnail" || aws.ToString(tags.TagSet[0].Value) != "yes" {
		t.Fatalf("tags = %+v, %v; want thumbnail=yes", tags, err)
	}

	// The second request is served from the store, without a resize.
	resp2, body2 := fetch(t, s.srv.URL+"/resize?src=photos/kleiber_200x200.jpg", "")
	if resp2.StatusCode != 200 || !bytes.Equal(body, body2) || s.resizer.made.Load() != 1 || s.store.puts.Load() != 1 {
		t.Fatalf("second request: %d, same bytes %v, resizes %d, puts %d", resp2.StatusCode, bytes.Equal(body, body2), s.resizer.made.Load(), s.store.puts.Load())
	}

	// 50 concurrent requests for one missing key: one resize, one write.
	var wg sync.WaitGroup
	bodies := make([][]byte, 50)
	for i := range bodies {
		wg.Go(func() {
			resp, body := fetch(t, s.srv.URL+"/resize?src=photos/kleiber_300x_fit.webp", "")
			if resp.StatusCode != 200 {
				t.Errorf("concurrent request: %d %q", resp.StatusCode, body)
			}
			bodies[i] = body
		})
	}
	wg.Wait()
	if s.resizer.made.Load() != 2 || s.store.puts.Load() != 2 {
		t.Fatalf("50 concurrent requests made %d resizes and %d writes in all, want 2 and 2", s.resizer.made.Load(), s.store.puts.Load())
	}
	for _, b := range bodies {
		if !bytes.Equal(b, bodies[0]) {
			t.Fatal("concurrent requests got different bytes")
		}
	}
}

func TestStoreBackFailureStillAnswers(t *testing.T) {
	gw := testserver.VersityGW(t)
	gw.CreateBucket(t, "site")
	if _, err := gw.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("site"), Key: aws.String("kleiber.jpg"), Body: bytes.NewReader(samplePhoto(t)),
	}); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, newS3Store(t, gw, "site"), thumbnail.DefaultConfig(), DefaultConfig())
	s.store.failPuts = true
	resp, body := fetch(t, s.srv.URL+"/resize?src=kleiber_120x80.jpg", "")
	if resp.StatusCode != 200 {
		t.Fatalf("store-back failure turned into %d %q", resp.StatusCode, body)
	}
	if w, h := imageSize(t, body); w != 120 || h != 80 {
		t.Fatalf("thumbnail is %dx%d", w, h)
	}
	if s.store.puts.Load() != 1 {
		t.Fatalf("puts = %d, want 1 attempt", s.store.puts.Load())
	}
}

// TestWebsiteRedirectFlow is the 2017 design's own test, through s3rver's
// website endpoint with a 404 routing rule pointing at the responder.
func TestWebsiteRedirectFlow(t *testing.T) {
	// The responder must exist before the routing rule can name its host.
	var handler atomic.Pointer[http.Handler]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")
	website := `<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <IndexDocument><Suffix>index.html</Suffix></IndexDocument>
  <RoutingRules><RoutingRule>
    <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
    <Redirect><HostName>` + host + `</HostName><ReplaceKeyPrefixWith>resize?src=</ReplaceKeyPrefixWith><HttpRedirectCode>302</HttpRedirectCode></Redirect>
  </RoutingRule></RoutingRules>
</WebsiteConfiguration>`
	s3r := testserver.S3rver(t, "site", website)
	if _, err := s3r.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("site"), Key: aws.String("earth.jpg"), Body: bytes.NewReader(samplePhoto(t)), ContentType: aws.String("image/jpeg"),
	}); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, newS3Store(t, s3r, "site"), thumbnail.DefaultConfig(), DefaultConfig())
	h := http.Handler(s.srv.Config.Handler)
	handler.Store(&h)

	websiteURL := s3r.WebsiteEndpoint + "/earth_200x200.jpg"
	resp, _ := fetch(t, websiteURL, s3r.WebsiteHost("site"))
	want := "http://" + host + "/resize?src=earth_200x200.jpg"
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("website miss = %d Location %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, body := fetch(t, resp.Header.Get("Location"), "")
	if resp.StatusCode != 200 {
		t.Fatalf("responder = %d %q", resp.StatusCode, body)
	}
	if w, h := imageSize(t, body); w != 200 || h != 200 {
		t.Fatalf("thumbnail is %dx%d, want 200x200", w, h)
	}
	resp, again := fetch(t, websiteURL, s3r.WebsiteHost("site"))
	if resp.StatusCode != 200 || !bytes.Equal(again, body) {
		t.Fatalf("second website request = %d (same bytes: %v), want 200 from the bucket", resp.StatusCode, bytes.Equal(again, body))
	}
	if s.resizer.made.Load() != 1 {
		t.Fatalf("resizes = %d, want 1", s.resizer.made.Load())
	}
}

// TestFrontFlow is the same flow through the responder's own front on a
// local directory, as `make run` serves it.
func TestFrontFlow(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{"earth.jpg": samplePhoto(t)})
	cfg := DefaultConfig()
	cfg.Front = true
	s := newStack(t, st, thumbnail.DefaultConfig(), cfg)

	resp, _ := fetch(t, s.srv.URL+"/earth_200x200@2x.webp", "")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/resize?src=earth_200x200%402x.webp" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("front miss = %d %v", resp.StatusCode, resp.Header)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := fetch(t, s.srv.URL+loc.String(), "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/webp" || !bytes.HasPrefix(body, []byte("RIFF")) {
		t.Fatalf("resize = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, again := fetch(t, s.srv.URL+"/earth_200x200@2x.webp", "")
	if resp.StatusCode != 200 || !bytes.Equal(again, body) || resp.Header.Get("Content-Type") != "image/webp" {
		t.Fatalf("front hit = %d %s, same bytes %v", resp.StatusCode, resp.Header.Get("Content-Type"), bytes.Equal(again, body))
	}
	tags, err := st.Tags(context.Background(), "earth_200x200@2x.webp")
	if err != nil || tags["thumbnail"] != "yes" {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	if s.resizer.made.Load() != 1 {
		t.Fatalf("resizes = %d, want 1", s.resizer.made.Load())
	}
	// A conditional request for the stored thumbnail is answered 304.
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/earth_200x200@2x.webp", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	r304, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r304.Body.Close()
	if r304.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match = %d, want 304", r304.StatusCode)
	}
}

// TestBadOriginals: every bad original gets a clear answer and nothing is
// stored; a refused size never touches the original.
func TestBadOriginals(t *testing.T) {
	photo := samplePhoto(t)
	whole := imagingtest.Photo(600, 400)
	files := map[string][]byte{
		"empty.jpg":     nil,
		"truncated.jpg": photo[:len(photo)/2],
		"text.jpg":      []byte("this is not an image\n"),
		"svg.png":       []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`),
		"big.jpg":       photo,
		// Damaged: sound headers, pixel data missing.
		"cut.jpg":   imagingtest.CutJPEG(imagingtest.JPEG(whole)),
		"cut.png":   imagingtest.CutPNG(imagingtest.PNG(whole)),
		"short.png": imagingtest.ShortPNG(7000, 7000),
		// 50 megapixels of RGBA 16-bit, interlaced: 600 MB to decode,
		// over the whole memory budget.
		"deep.png": imagingtest.HeaderPNG(7071, 7071, 16, 6, 1),
	}
	st := fileStoreWith(t, files)
	// A stored thumbnail, whose own thumbnails are refused.
	if err := st.Put(context.Background(), "small_10x10.jpg", imagingtest.JPEG(imagingtest.Photo(10, 10)), store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}}); err != nil {
		t.Fatal(err)
	}
	tcfg := thumbnail.DefaultConfig()
	tcfg.MaxSourceBytes = int64(len(photo) - 1)
	tcfg.Policy.AllowedSizes, _ = policy.ParseSizes("100x100")
	s := newStack(t, st, tcfg, DefaultConfig())
	tests := []struct {
		key  string
		code int
		msg  string
	}{
		{"empty_100x100.jpg", 422, "unsupported or corrupt image"},
		{"truncated_100x100.jpg", 422, "unsupported or corrupt image"},
		{"text_100x100.jpg", 422, "unsupported or corrupt image"},
		{"svg_100x100.png", 422, "unsupported or corrupt image"},
		{"big_100x100.jpg", 413, "original too large"},
		{"none_100x100.jpg", 404, "original not found"},
		{"big_101x100.jpg", 403, "size not allowed"},
		{"cut_100x100.jpg", 422, "damaged image data: VipsJpeg: Corrupt JPEG data"},
		{"cut_100x100.png", 422, "damaged image data"},
		{"short_100x100.png", 422, "damaged image data"},
		{"small_10x10_100x100.jpg", 400, "its original is a thumbnail"},
		{"deep_100x100.png", 413, "needs more memory than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			gets := s.store.gets.Load()
			resp, body := fetch(t, s.srv.URL+"/resize?src="+tt.key, "")
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.msg) || strings.Count(string(body), "\n") != 1 {
				t.Fatalf("%s = %d %q, want %d with %q on one line", tt.key, resp.StatusCode, body, tt.code, tt.msg)
			}
			if _, err := st.Head(context.Background(), tt.key); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: something was stored (%v)", tt.key, err)
			}
			if tt.code == 403 && s.store.gets.Load() != gets {
				t.Fatal("a refused size read the original")
			}
		})
	}
	if s.store.puts.Load() != 0 {
		t.Fatalf("%d writes for bad originals", s.store.puts.Load())
	}
	for reason, n := range map[string]float64{"damaged_image": 3, "unsupported_image": 4, "original_too_large": 1, "too_much_memory": 1, "original_missing": 1, "size_not_allowed": 1} {
		if got := testutil.ToFloat64(s.metrics.failures.WithLabelValues(reason)); got != n {
			t.Errorf("s3thumb_http_failures_total{reason=%q} = %v, want %v", reason, got, n)
		}
	}
}

// TestClientThatStopsReading: a client that asks for a large object and
// never reads it does not hold the handler (and the open file) past the
// request timeout.
func TestClientThatStopsReading(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{"big.bin": bytes.Repeat([]byte("x"), 64<<20)})
	cfg := DefaultConfig()
	cfg.Front = true
	cfg.RequestTimeout = 300 * time.Millisecond
	s := newStack(t, st, thumbnail.DefaultConfig(), cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// The handler returns (and is counted) once its write deadline passes.
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(s.metrics.requests.WithLabelValues("front", "200")) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the handler is still writing to a client that stopped reading")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOriginalNamedLikeThumbnail: a request for an original whose name fits
// the thumbnail grammar (banner_1200x630.jpg, no banner.jpg) answers the
// original and writes nothing, on a directory store and on versitygw; its
// own thumbnails are made from it.
func TestOriginalNamedLikeThumbnail(t *testing.T) {
	gw := testserver.VersityGW(t)
	gw.CreateBucket(t, "site")
	dir, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	photo := samplePhoto(t)
	for name, st := range map[string]store.Store{"file": dir, "versitygw": newS3Store(t, gw, "site")} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			const key = "social/banner_1200x630.jpg"
			if err := st.Put(ctx, key, photo, store.PutOptions{ContentType: "image/jpeg"}); err != nil {
				t.Fatal(err)
			}
			before, err := st.Head(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			s := newStack(t, st, thumbnail.DefaultConfig(), DefaultConfig())
			for _, path := range []string{"/resize?src=" + key, "/" + key} {
				resp, body := fetch(t, s.srv.URL+path, "")
				if resp.StatusCode == http.StatusOK && !bytes.Equal(body, photo) {
					t.Errorf("GET %s: 200 with %d bytes, not the original's %d", path, len(body), len(photo))
				}
			}
			if s.store.puts.Load() != 0 || s.resizer.made.Load() != 0 {
				t.Errorf("%d writes and %d resizes for requests of an original", s.store.puts.Load(), s.resizer.made.Load())
			}
			resp, body := fetch(t, s.srv.URL+"/resize?src=social/banner_1200x630_200x200.jpg", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("its own thumbnail: %d %q", resp.StatusCode, body)
			}
			if w, h := imageSize(t, body); w != 200 || h != 200 {
				t.Errorf("its own thumbnail is %dx%d", w, h)
			}
			after, err := st.Head(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			tags, err := st.Tags(ctx, key)
			if err != nil || len(tags) != 0 || after.ETag != before.ETag || !after.LastModified.Equal(before.LastModified) {
				t.Errorf("the original changed: %+v (tags %v, %v), before %+v", after, tags, err, before)
			}
		})
	}
}

// TestFrontActiveContent: a writable store must not become stored XSS on
// the image host: every object is served with nosniff, and anything that
// is not a raster image (HTML, SVG, JSON, text) sandboxed.
func TestFrontActiveContent(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{
		"page.html": []byte(`<script>document.cookie</script>`),
		"logo.svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"data.json": []byte(`{}`),
		"earth.jpg": samplePhoto(t),
	})
	cfg := DefaultConfig()
	cfg.Front = true
	s := newStack(t, st, thumbnail.DefaultConfig(), cfg)
	for path, sandboxed := range map[string]bool{"/page.html": true, "/logo.svg": true, "/data.json": true, "/earth.jpg": false} {
		resp, _ := fetch(t, s.srv.URL+path, "")
		if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, nosniff %q", path, resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
		}
		if got := resp.Header.Get("Content-Security-Policy") == "sandbox"; got != sandboxed {
			t.Errorf("%s (%s): sandboxed %v, want %v", path, resp.Header.Get("Content-Type"), got, sandboxed)
		}
	}
}

// TestStoreDown: when the store cannot be reached, a request is answered
// 503 with Retry-After (try again, nothing is wrong with the request) and
// readiness says so without the dial error; every refusal is one log line
// with its key, status and reason.
func TestStoreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	gw := &testserver.S3{Endpoint: "http://" + addr, Region: "us-east-1", AccessKey: "k", SecretKey: "s"}
	var logs testkit.SyncBuffer
	s := newStackLog(t, newS3Store(t, gw, "site"), thumbnail.DefaultConfig(), DefaultConfig(), slog.New(slog.NewTextHandler(&logs, nil)))

	resp, body := fetch(t, s.srv.URL+"/resize?src=photos/earth_200x200.jpg", "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), addr) {
		t.Errorf("resize with the store down = %d (Retry-After %q) %q; want 503 with Retry-After, no dial error", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = fetch(t, s.srv.URL+"/readyz", "")
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != "store not reachable" {
		t.Errorf("/readyz = %d %q, want 503 \"store not reachable\"", resp.StatusCode, body)
	}
	fetch(t, s.srv.URL+"/resize?src=photos/earth_99999x99999.jpg", "")
	fetch(t, s.srv.URL+"/resize?src=../x_1x1.jpg", "")
	fetch(t, s.srv.URL+"/resize", "")
	out := logs.String()
	for _, want := range []string{
		`level=ERROR msg="request refused" key=photos/earth_200x200.jpg path=/resize status=503 reason=store_unavailable`,
		`level=INFO msg="request refused" key=photos/earth_99999x99999.jpg path=/resize status=403 reason=size_not_allowed`,
		`level=INFO msg="request refused" key=../x_1x1.jpg path=/resize status=400 reason=invalid_key`,
		`level=INFO msg="request refused" key="" path=/resize status=400 reason=invalid_key`,
	} {
		if strings.Count(out, want) != 1 {
			t.Errorf("log has %d lines with %q; want 1\n%s", strings.Count(out, want), want, out)
		}
	}
	if got := testutil.ToFloat64(s.metrics.failures.WithLabelValues("store_unavailable")); got != 1 {
		t.Errorf("failures{store_unavailable} = %v, want 1", got)
	}
}

// TestResizeAfterDeadline: a resize that ends after its request's deadline
// is still stored (the work is paid for), and the log does not claim the
// thumbnail was served when its store-back fails.
func TestResizeAfterDeadline(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{"earth.jpg": samplePhoto(t)})
	cfg := DefaultConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	var logs testkit.SyncBuffer
	s := newStackLog(t, st, thumbnail.DefaultConfig(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	s.resizer.delay = 400 * time.Millisecond

	resp, _ := fetch(t, s.srv.URL+"/resize?src=earth_100x100.jpg", "")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("a resize past the deadline = %d, want 504", resp.StatusCode)
	}
	testkit.WaitFor(t, 5*time.Second, "it", func() bool { _, err := st.Head(context.Background(), "earth_100x100.jpg"); return err == nil })

	s.store.failPuts = true
	fetch(t, s.srv.URL+"/resize?src=earth_120x120.jpg", "")
	testkit.WaitFor(t, 5*time.Second, "it", func() bool { return strings.Contains(logs.String(), "store-back failed") })
	if out := logs.String(); strings.Contains(out, "served") {
		t.Errorf("the log claims a thumbnail nobody received was served:\n%s", out)
	}
}
