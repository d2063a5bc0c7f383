package store_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// TestS3Prefix checks that keys are joined to the URL's prefix with exactly
// one "/", and that the store sees nothing outside its prefix.
func TestS3Prefix(t *testing.T) {
	srv := testserver.VersityGW(t)
	srv.CreateBucket(t, "prefixed")
	raw := srv.Client()
	// Keys that share the prefix's text but are not under the prefix "pre/fix/".
	for _, k := range []string{"other.jpg", "pre/fixture.jpg", "pre/fi.jpg"} {
		_, err := raw.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("prefixed"), Key: aws.String(k), Body: strings.NewReader(k)})
		if err != nil {
			t.Fatalf("PutObject(%q): %v", k, err)
		}
	}
	for _, url := range []string{"s3://prefixed/pre/fix", "s3://prefixed/pre/fix/", "s3://prefixed//pre/fix//"} {
		s := openS3(t, srv, url, store.Options{})
		if s.String() != "s3://prefixed/pre/fix" {
			t.Errorf("Open(%q).String() = %q, want s3://prefixed/pre/fix", url, s.String())
		}
		put(t, s, "k.jpg", "k", store.PutOptions{})
		if _, err := raw.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("prefixed"), Key: aws.String("pre/fix/k.jpg")}); err != nil {
			t.Errorf("%s: object not at pre/fix/k.jpg: %v", url, err)
		}
		if got := keys(list(t, s, "", "")); !slices.Equal(got, []string{"k.jpg"}) {
			t.Errorf("%s: List = %q, want only [k.jpg]", url, got)
		}
	}
	whole := openS3(t, srv, "s3://prefixed", store.Options{})
	want := []string{"other.jpg", "pre/fi.jpg", "pre/fix/k.jpg", "pre/fixture.jpg"}
	if got := keys(list(t, whole, "", "")); !slices.Equal(got, want) {
		t.Errorf("List of the whole bucket = %q, want %q", got, want)
	}
}

// recorder passes requests on to the real server and keeps a copy of each.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestS3PutHeaders checks the headers Put sends, which versitygw does not
// all read back (it reports every storage class as STANDARD).
func TestS3PutHeaders(t *testing.T) {
	srv := testserver.VersityGW(t)
	srv.CreateBucket(t, "headers")
	rec := &recorder{}
	s := openS3(t, srv, "s3://headers/p", store.Options{HTTPClient: &http.Client{Transport: rec}})
	put(t, s, "dir/a b_200x.webp", "x", store.PutOptions{
		ContentType:  "image/webp",
		CacheControl: "max-age=60",
		StorageClass: "STANDARD_IA",
		Tags:         map[string]string{"thumbnail": "yes", "made by": "s3thumb 1+1"},
		IfNoneMatch:  true,
	})
	var putReq *http.Request
	for _, r := range rec.reqs {
		if r.Method == http.MethodPut {
			putReq = r
		}
	}
	if putReq == nil {
		t.Fatalf("no PUT among %d requests: the HTTP client option was not used", len(rec.reqs))
	}
	if got := putReq.URL.EscapedPath(); got != "/headers/p/dir/a%20b_200x.webp" {
		t.Errorf("PUT path = %s, want /headers/p/dir/a%%20b_200x.webp", got)
	}
	for name, want := range map[string]string{
		"Content-Type":        "image/webp",
		"Cache-Control":       "max-age=60",
		"X-Amz-Storage-Class": "STANDARD_IA",
		"X-Amz-Tagging":       "made%20by=s3thumb%201%2B1&thumbnail=yes",
		"If-None-Match":       "*",
	} {
		if got := putReq.Header.Get(name); got != want {
			t.Errorf("PUT %s: %q, want %q", name, got, want)
		}
	}
	// The access logs tell s3thumb's writes from uploads by this.
	if ua := putReq.Header.Get("User-Agent"); !thumbtag.ByAgent(ua) {
		t.Errorf("PUT User-Agent %q does not name s3thumb (app/%s)", ua, thumbtag.Agent)
	}
	tags, err := s.Tags(t.Context(), "dir/a b_200x.webp")
	if err != nil || tags["made by"] != "s3thumb 1+1" || tags["thumbnail"] != "yes" {
		t.Errorf("Tags = %q, %v; want the tags written", tags, err)
	}
}

// TestS3MetadataIsASCII: S3 wants user metadata in US-ASCII (AWS answers a
// raw UTF-8 x-amz-meta-* value 403 SignatureDoesNotMatch), so Put sends a
// value that is not as RFC 2047 encoded-words, and Get and Head decode them,
// also when the server sends them back encoded, as AWS does.
func TestS3MetadataIsASCII(t *testing.T) {
	srv := testserver.VersityGW(t)
	srv.CreateBucket(t, "meta")
	rec := &recorder{}
	s := openS3(t, srv, "s3://meta", store.Options{HTTPClient: &http.Client{Transport: rec}})
	const original = "photos/2026/Grüße aus Köln.jpg"
	put(t, s, "a_1x1.jpg", "x", store.PutOptions{Metadata: map[string]string{"s3thumb-source-key": original}})
	var sent string
	for _, r := range rec.reqs {
		if r.Method == http.MethodPut {
			sent = r.Header.Get("X-Amz-Meta-S3thumb-Source-Key")
		}
	}
	if sent == "" || strings.ContainsFunc(sent, func(r rune) bool { return r > '~' || r < ' ' }) {
		t.Fatalf("x-amz-meta-s3thumb-source-key sent as %q, want printable US-ASCII", sent)
	}
	// As AWS answers: the value stored decoded, returned encoded.
	_, err := srv.Client().PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String("meta"), Key: aws.String("b_1x1.jpg"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"s3thumb-source-key": "=?UTF-8?B?R3LDvMOfZQ==?="},
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"a_1x1.jpg": original, "b_1x1.jpg": "Grüße"} {
		if a, err := s.Head(t.Context(), key); err != nil || a.Metadata["s3thumb-source-key"] != want {
			t.Errorf("Head(%s) source key = %q, %v; want %q", key, a.Metadata["s3thumb-source-key"], err, want)
		}
	}
}

// TestS3Failures checks that a missing bucket or wrong credentials are
// errors, never ErrNotFound (which would turn a configuration fault into
// 404s).
func TestS3Failures(t *testing.T) {
	srv := testserver.VersityGW(t)
	srv.CreateBucket(t, "exists")
	put(t, openS3(t, srv, "s3://exists", store.Options{}), "a.jpg", "a", store.PutOptions{})

	noBucket := openS3(t, srv, "s3://no-such-bucket", store.Options{})
	badCreds := *srv
	badCreds.SecretKey = "wrong"
	denied := openS3(t, &badCreds, "s3://exists", store.Options{})
	for name, s := range map[string]store.Store{"missing bucket": noBucket, "wrong secret": denied} {
		if err := s.Ping(t.Context()); err == nil {
			t.Errorf("%s: Ping succeeded", name)
		}
		if _, err := s.Get(t.Context(), "a.jpg"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Get: %v, want an error other than ErrNotFound", name, err)
		} else if !strings.Contains(err.Error(), "a.jpg") {
			t.Errorf("%s: Get error %q does not name the key", name, err)
		}
		if err := s.Put(t.Context(), "b.jpg", []byte("b"), store.PutOptions{IfNoneMatch: true}); err == nil || errors.Is(err, store.ErrExists) {
			t.Errorf("%s: Put: %v, want an error other than ErrExists", name, err)
		}
		if err := s.List(t.Context(), "", "", func(store.Attrs) error { return nil }); err == nil {
			t.Errorf("%s: List succeeded", name)
		}
	}
}

// TestOpenNeedsRegion checks that Open says so when no region is configured
// anywhere, rather than failing later on every request.
func TestOpenNeedsRegion(t *testing.T) {
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(env, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	_, err := store.Open(t.Context(), "s3://bucket", store.Options{})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("Open without a region: %v, want an error about the region", err)
	}
	if _, err := store.Open(t.Context(), "s3://bucket", store.Options{Region: "eu-west-1"}); err != nil {
		t.Errorf("Open with a region: %v", err)
	}
}

// TestS3Unavailable: a store whose endpoint refuses connections, or
// answers 503, fails with ErrUnavailable (a client should try again later),
// never ErrNotFound.
func TestS3Unavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}))
	defer busy.Close()
	for name, endpoint := range map[string]string{"refused": refused, "503 SlowDown": busy.URL} {
		s := openS3(t, &testserver.S3{Endpoint: endpoint, Region: "us-east-1", AccessKey: "k", SecretKey: "s"}, "s3://photos", store.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		_, err := s.Get(ctx, "a.jpg")
		cancel()
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Get: %v, want ErrUnavailable", name, err)
		}
		if err := s.Put(t.Context(), "b.jpg", []byte("b"), store.PutOptions{IfMatch: `"abc"`}); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrChanged) {
			t.Errorf("%s: Put with IfMatch: %v, want ErrUnavailable, not ErrChanged", name, err)
		}
	}
}
