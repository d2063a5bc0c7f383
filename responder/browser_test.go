package responder

import (
	"context"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// browser is a headless Chromium that records the HTTP answers its page
// loads get.
type browser struct {
	ctx context.Context

	mu        sync.Mutex
	redirects []string       // "302 URL" of every 3xx answer
	statuses  map[string]int // final status by URL
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	cctx := testserver.Chromium(t, 90*time.Second)
	b := &browser{ctx: cctx, statuses: map[string]int{}}
	err := chromedp.Listen(cctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if r := ev.RedirectResponse; r != nil {
				b.redirects = append(b.redirects, fmt.Sprintf("%d %s", r.Status, r.URL))
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 300 && ev.Response.Status < 400 {
				b.redirects = append(b.redirects, fmt.Sprintf("%d %s", ev.Response.Status, ev.Response.URL))
			}
			b.statuses[ev.Response.URL] = int(ev.Response.Status)
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(cctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network.enable: %v", err)
	}
	// Every load asks the server: the second load must show what the
	// store answers, not what the browser kept.
	if _, err := chromedp.Call(cctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatalf("network.setCacheDisabled: %v", err)
	}
	return b
}

// loaded is what the page saw of one image.
type loaded struct {
	Src string `json:"src"`
	W   int    `json:"w"`
	H   int    `json:"h"`
}

// load opens url, waits for every image to finish loading and returns what
// each decoded to, with the redirects and final statuses seen meanwhile.
func (b *browser) load(t *testing.T, url string) (imgs []loaded, redirects []string, statuses map[string]int) {
	t.Helper()
	b.mu.Lock()
	b.redirects, b.statuses = nil, map[string]int{}
	b.mu.Unlock()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	imgs, err := chromedp.Run(b.ctx, chromedp.Poll[[]loaded](
		`[...document.images].every(i => i.complete) && [...document.images].map(i => ({src: i.src, w: i.naturalWidth, h: i.naturalHeight}))`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("wait for the images: %v", err)
	}
	// Copies: events (a favicon, say) may still arrive.
	b.mu.Lock()
	defer b.mu.Unlock()
	return imgs, slices.Clone(b.redirects), maps.Clone(b.statuses)
}

// TestFirstViewInChromium: a page of missing thumbnails through the local
// front. Without --serve-misses-directly each image costs a 302 and a second
// request; with it the browser sees no redirect at all, and every image
// decodes at its size. The second load is served from the store: the
// thumbnails are stored, and nothing is resized again.
func TestFirstViewInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	thumbs := []struct {
		key  string
		w, h int
	}{
		{"kleiber_200x200.jpg", 200, 200},
		{"kleiber_300x_fit.jpg", 300, 169},
		{"kleiber_150x150@2x.jpg", 300, 300},
		{"kleiber_120x80.webp", 120, 80},
		{"photos/grey_100x.png", 100, 67},
		{"photos/grey_64x64_fill.webp", 64, 64},
	}
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "photos"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range map[string][]byte{"kleiber.jpg": samplePhoto(t), "photos/grey.png": imagingtest.PNG(imagingtest.Photo(600, 400))} {
				if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st, err := store.NewFile(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Front = true
			cfg.ServeMissesDirectly = direct
			s := newStack(t, st, thumbnail.DefaultConfig(), cfg)

			var page strings.Builder
			page.WriteString("<!doctype html><title>thumbnails</title><body>\n")
			for _, th := range thumbs {
				fmt.Fprintf(&page, "<img src=\"%s\" alt=\"\">\n", html.EscapeString(s.srv.URL+"/"+th.key))
			}
			site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprint(w, page.String())
			}))
			t.Cleanup(site.Close)
			b := newBrowser(t)

			check := func(load string, imgs []loaded, statuses map[string]int) {
				t.Helper()
				if len(imgs) != len(thumbs) {
					t.Fatalf("%s: %d images on the page, want %d", load, len(imgs), len(thumbs))
				}
				for i, th := range thumbs {
					if imgs[i].W != th.w || imgs[i].H != th.h {
						t.Errorf("%s: %s decoded at %dx%d, want %dx%d", load, th.key, imgs[i].W, imgs[i].H, th.w, th.h)
					}
					if code := statuses[s.srv.URL+"/"+th.key]; code != http.StatusOK {
						t.Errorf("%s: %s answered %d, want 200", load, th.key, code)
					}
				}
			}

			imgs, redirects, statuses := b.load(t, site.URL)
			if direct && len(redirects) != 0 {
				t.Errorf("first load: %d redirects, want none: %v", len(redirects), redirects)
			}
			if !direct && len(redirects) != len(thumbs) {
				// The detector sees the redirects the mode removes.
				t.Errorf("first load without the mode: %d redirects, want one per image: %v", len(redirects), redirects)
			}
			if direct {
				check("first load", imgs, statuses)
			}
			for i, th := range thumbs {
				if imgs[i].W != th.w || imgs[i].H != th.h {
					t.Errorf("first load: %s decoded at %dx%d, want %dx%d", th.key, imgs[i].W, imgs[i].H, th.w, th.h)
				}
			}
			if got := s.resizer.made.Load(); got != int64(len(thumbs)) {
				t.Fatalf("first load made %d thumbnails, want %d", got, len(thumbs))
			}

			// What the store holds, read back and decoded apart from the
			// responder: each thumbnail, tagged.
			for _, th := range thumbs {
				data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(th.key)))
				if err != nil {
					t.Fatalf("%s not stored: %v", th.key, err)
				}
				if w, h := anySize(t, data); w != th.w || h != th.h {
					t.Errorf("stored %s is %dx%d, want %dx%d", th.key, w, h, th.w, th.h)
				}
				if tags, err := st.Tags(context.Background(), th.key); err != nil || tags["thumbnail"] != "yes" {
					t.Errorf("stored %s: tags %v, %v", th.key, tags, err)
				}
			}

			// The second load: from the store, no redirect, no resize.
			front200 := testutil.ToFloat64(s.metrics.requests.WithLabelValues("front", "200"))
			imgs, redirects, statuses = b.load(t, site.URL)
			if len(redirects) != 0 {
				t.Errorf("second load: redirects %v", redirects)
			}
			check("second load", imgs, statuses)
			if got := s.resizer.made.Load(); got != int64(len(thumbs)) {
				t.Errorf("after the second load %d thumbnails made in all, want %d (no second resize)", got, len(thumbs))
			}
			if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("front", "200")) - front200; got != float64(len(thumbs)) {
				t.Errorf("second load: the front answered %v images 200, want %d (the browser's cache is off)", got, len(thumbs))
			}
			if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("resize", "200")); direct && got != 0 {
				t.Errorf("/resize answered %v times in direct mode", got)
			}
		})
	}
}
