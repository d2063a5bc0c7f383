package responder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// fakeMaker answers Ensure from a function and counts the calls.
type fakeMaker struct {
	calls  atomic.Int64
	ensure func(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error)
}

// IsThumbnail takes every stored object for a thumbnail.
func (m *fakeMaker) IsThumbnail(context.Context, string) (bool, error) { return true, nil }

// OriginalOf names the original under the thumbnail's own extension.
func (m *fakeMaker) OriginalOf(_ context.Context, k thumbkey.Key) (string, error) {
	return k.Original(k.Ext), nil
}

func (m *fakeMaker) Ensure(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error) {
	m.calls.Add(1)
	return m.ensure(ctx, k)
}

// mapStore is an in-memory Store for the handlers' unit tests.
type mapStore map[string]string

func (s mapStore) Get(_ context.Context, key string) (*store.Object, error) {
	body, ok := s[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	return &store.Object{
		Attrs: store.Attrs{Key: key, Size: int64(len(body)), ETag: `"etag-` + key + `"`, ContentType: "image/jpeg"},
		Body:  io.NopCloser(strings.NewReader(body)),
	}, nil
}

func (s mapStore) Tags(_ context.Context, key string) (map[string]string, error) {
	if _, ok := s[key]; !ok {
		return nil, store.ErrNotFound
	}
	return map[string]string{}, nil // untagged: an original
}

func (s mapStore) Ping(context.Context) error { return nil }

func made(k thumbkey.Key) *thumbnail.Result {
	return &thumbnail.Result{
		Key:         k.String(),
		Image:       imaging.Image{Data: []byte("thumbnail of " + k.String()), Format: imaging.JPEG},
		ContentType: "image/jpeg",
		ETag:        `"abc"`,
	}
}

func newTestServer(t *testing.T, cfg Config, m Maker, st Store) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, m, st, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, reg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, reg
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestResizeStatuses(t *testing.T) {
	tests := []struct {
		name   string
		target string
		err    error
		code   int
		body   string
	}{
		{"made", "/resize?src=a_10x10.jpg", nil, 200, "thumbnail of a_10x10.jpg"},
		{"php path", "/resize.php?src=a_10x10.jpg", nil, 200, "thumbnail of a_10x10.jpg"},
		{"leading slash", "/resize?src=/a_10x10.jpg", nil, 200, "thumbnail of a_10x10.jpg"},
		{"no src", "/resize", nil, 400, "missing src"},
		{"not a thumbnail", "/resize?src=a.jpg", nil, 400, "not a thumbnail key"},
		{"escape", "/resize?src=../a_10x10.jpg", nil, 400, "invalid key"},
		{"size", "/resize?src=a_10x10.jpg", fmt.Errorf("x: %w", policy.ErrSizeNotAllowed), 403, "size not allowed"},
		{"missing", "/resize?src=a_10x10.jpg", fmt.Errorf("x: %w", thumbnail.ErrOriginalMissing), 404, "original not found"},
		{"bytes", "/resize?src=a_10x10.jpg", fmt.Errorf("x: %w", thumbnail.ErrOriginalTooLarge), 413, "original too large"},
		{"pixels", "/resize?src=a_10x10.jpg", fmt.Errorf("x: %w", imaging.ErrTooManyPixels), 422, "too many pixels"},
		{"corrupt", "/resize?src=a_10x10.jpg", fmt.Errorf("x: %w", imaging.ErrUnsupportedImage), 422, "unsupported or corrupt"},
		{"overloaded", "/resize?src=a_10x10.jpg", thumbnail.ErrOverloaded, 503, "try again"},
		{"timeout", "/resize?src=a_10x10.jpg", context.DeadlineExceeded, 504, "deadline"},
		{"store down", "/resize?src=a_10x10.jpg", errors.New("get: connection refused"), 500, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeMaker{ensure: func(_ context.Context, k thumbkey.Key) (*thumbnail.Result, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return made(k), nil
			}}
			srv, _ := newTestServer(t, DefaultConfig(), m, mapStore{})
			rec := get(t, srv, tt.target)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("GET %s = %d %q; want %d with %q", tt.target, rec.Code, rec.Body.String(), tt.code, tt.body)
			}
			if tt.code == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if tt.code >= 400 && rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("error answer Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestFallbackImage(t *testing.T) {
	m := &fakeMaker{ensure: func(context.Context, thumbkey.Key) (*thumbnail.Result, error) {
		return nil, thumbnail.ErrOriginalMissing
	}}
	cfg := DefaultConfig()
	cfg.Fallback = &Fallback{Data: []byte("PLACEHOLDER"), ContentType: "image/png"}
	srv, _ := newTestServer(t, cfg, m, mapStore{})
	rec := get(t, srv, "/resize?src=a_10x10.jpg")
	if rec.Code != 404 || rec.Body.String() != "PLACEHOLDER" || rec.Header().Get("Content-Type") != "image/png" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}

func TestCoalescing(t *testing.T) {
	release := make(chan struct{})
	m := &fakeMaker{ensure: func(_ context.Context, k thumbkey.Key) (*thumbnail.Result, error) {
		<-release
		return made(k), nil
	}}
	srv, reg := newTestServer(t, DefaultConfig(), m, mapStore{})
	const n = 50
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() { codes[i] = get(t, srv, "/resize?src=a_10x10.jpg").Code })
	}
	// Let every request join the flight before it ends.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(srv.metrics.coalesced) < n-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := m.calls.Load(); got != 1 {
		t.Fatalf("Ensure called %d times for %d concurrent requests, want 1", got, n)
	}
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: status %d", i, c)
		}
	}
	if got := testutil.ToFloat64(srv.metrics.coalesced); got != n-1 {
		t.Fatalf("coalesced metric = %v, want %d", got, n-1)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

func TestFlightOutlivesClient(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	m := &fakeMaker{ensure: func(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error) {
		close(started)
		<-release
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		finished.Store(true)
		return made(k), nil
	}}
	srv, _ := newTestServer(t, DefaultConfig(), m, mapStore{})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/resize?src=a_10x10.jpg", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() { srv.ServeHTTP(httptest.NewRecorder(), req); close(done) }()
	<-started
	cancel()
	<-done
	close(release)
	srv.Wait()
	if !finished.Load() {
		t.Fatal("the flight was cancelled with its client; it must finish and store back")
	}
}

func TestFront(t *testing.T) {
	st := mapStore{"a.jpg": "ORIGINAL", "a_10x10.jpg": "THUMB"}
	m := &fakeMaker{ensure: func(_ context.Context, k thumbkey.Key) (*thumbnail.Result, error) { return made(k), nil }}
	cfg := DefaultConfig()
	cfg.Front = true
	srv, _ := newTestServer(t, cfg, m, st)
	tests := []struct {
		target   string
		header   []string
		code     int
		body     string
		location string
	}{
		{"/a.jpg", nil, 200, "ORIGINAL", ""},
		{"/a_10x10.jpg", nil, 200, "THUMB", ""},
		{"/a_10x10.jpg", []string{"If-None-Match", `"etag-a_10x10.jpg"`}, 304, "", ""},
		{"/a_20x20.jpg", nil, 302, "", "/resize?src=a_20x20.jpg"},
		{"/photos/b%20c_20x20@2x.webp", nil, 302, "", "/resize?src=photos/b+c_20x20%402x.webp"},
		{"/b.jpg", nil, 404, "no object b.jpg", ""},
		{"/", nil, 404, "name an object", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := get(t, srv, tt.target, tt.header...)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("GET %s = %d %q, want %d %q", tt.target, rec.Code, rec.Body.String(), tt.code, tt.body)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Fatalf("Location = %q, want %q", got, tt.location)
			}
			if tt.code == 302 && rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatal("redirect may be cached")
			}
		})
	}
	if m.calls.Load() != 0 {
		t.Fatal("the front made a thumbnail itself")
	}
}
