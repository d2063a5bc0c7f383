package responder

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/h2non/bimg"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// acceptStack is the front on a file store holding the sample photograph as
// kleiber.jpg and an original named like a thumbnail, banner_100x100.jpg,
// offering formats.
func acceptStack(t *testing.T, formats ...thumbkey.Format) (*stack, []byte) {
	t.Helper()
	banner := samplePhoto(t)
	st := fileStoreWith(t, map[string][]byte{"kleiber.jpg": samplePhoto(t), "banner_100x100.jpg": banner})
	cfg := DefaultConfig()
	cfg.Front = true
	cfg.AcceptFormats = formats
	return newStack(t, st, thumbnail.DefaultConfig(), cfg), banner
}

// getAccept GETs path on the stack with an Accept header ("" for none), without
// following redirects.
func getAccept(t *testing.T, s *stack, path, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, b.Bytes()
}

// TestFrontAcceptFormats: with AcceptFormats the front answers a JPEG
// thumbnail key in the format the Accept header names, through the normal
// redirect to /resize (which makes and stores that format), with Vary:
// Accept; it serves an original named like a thumbnail as it is; without
// AcceptFormats nothing changes.
func TestFrontAcceptFormats(t *testing.T) {
	const chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, banner := acceptStack(t, thumbkey.WebP)

	// curl: JPEG, still with Vary (the answer depends on Accept).
	resp, _ := getAccept(t, s, "/kleiber_200x200.jpg", "*/*")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/resize?src=kleiber_200x200.jpg" || resp.Header.Get("Vary") != "Accept" {
		t.Fatalf("curl: %d Location %q Vary %q; want 302 to the jpg with Vary: Accept", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Vary"))
	}
	// Chrome: WebP (AVIF is not offered), made through /resize.
	resp, _ = getAccept(t, s, "/kleiber_200x200.jpg", chrome)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/resize?src=kleiber_200x200.webp" || resp.Header.Get("Vary") != "Accept" {
		t.Fatalf("chrome: %d Location %q Vary %q; want 302 to the webp with Vary: Accept", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Vary"))
	}
	resp, body := getAccept(t, s, "/resize?src=kleiber_200x200.webp", chrome)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/webp" {
		t.Fatalf("resize: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := s.store.Head(context.Background(), "kleiber_200x200.webp"); err != nil {
		t.Fatalf("the webp was not stored: %v", err)
	}
	if _, err := s.store.Head(context.Background(), "kleiber_200x200.jpg"); err == nil {
		t.Fatal("a jpg was stored, though nobody was answered with one")
	}
	// Stored now: the front serves it under the jpg key.
	resp, body = getAccept(t, s, "/kleiber_200x200.jpg", chrome)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/webp" || resp.Header.Get("Vary") != "Accept" {
		t.Fatalf("stored webp: %d %s Vary %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Vary"))
	}
	if info, err := vips.Probe(body); err != nil || info.Format != imaging.WebP || info.Width != 200 || info.Height != 200 {
		t.Fatalf("stored webp is %+v, %v; want a 200x200 WebP", info, err)
	}
	// An original named like a thumbnail is never swapped for another format.
	resp, body = getAccept(t, s, "/banner_100x100.jpg", chrome)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(body, banner) {
		t.Fatalf("original named like a thumbnail: %d %s, %d bytes; want the original", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	// Keys not naming JPEG, and originals, do not vary.
	for _, path := range []string{"/kleiber.jpg", "/kleiber_200x200.png"} {
		if resp, _ := getAccept(t, s, path, chrome); resp.Header.Get("Vary") != "" {
			t.Errorf("%s: Vary %q, want none", path, resp.Header.Get("Vary"))
		}
	}

	// Off: the jpg, no Vary.
	off, _ := acceptStack(t)
	resp, _ = getAccept(t, off, "/kleiber_200x200.jpg", chrome)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/resize?src=kleiber_200x200.jpg" || resp.Header.Get("Vary") != "" {
		t.Fatalf("off: %d Location %q Vary %q; want 302 to the jpg, no Vary", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Vary"))
	}
}

// TestFrontAcceptFormatsInChromium: a page with <img
// src=".../kleiber_200x200.jpg"> gets AVIF from the front offering webp and
// avif (Chromium names both), WebP when only webp is offered, and JPEG with
// the flag off; each decodes at 200 pixels wide. Twice: the first visit
// goes through /resize, the second is served from the store.
func TestFrontAcceptFormatsInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	tests := []struct {
		name    string
		formats []thumbkey.Format
		want    string
	}{
		{"avif,webp", []thumbkey.Format{thumbkey.WebP, thumbkey.AVIF}, "image/avif"},
		{"webp", []thumbkey.Format{thumbkey.WebP}, "image/webp"},
		{"off", nil, "image/jpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := acceptStack(t, tt.formats...)
			page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, `<!doctype html><title>t</title><img id="photo" src="%s/kleiber_200x200.jpg">`, s.srv.URL)
			}))
			defer page.Close()

			cctx := testserver.Chromium(t, 60*time.Second)

			var mu sync.Mutex
			var types, varies []string // of the final answers for the image
			var redirectVary []string  // of the front's redirects
			err := chromedp.Listen(cctx, func(ev any) {
				mu.Lock()
				defer mu.Unlock()
				switch ev := ev.(type) {
				case *network.EventRequestWillBeSent:
					if r := ev.RedirectResponse; r != nil && strings.Contains(r.URL, "kleiber_200x200") {
						redirectVary = append(redirectVary, fmt.Sprint(r.Headers["Vary"]))
					}
				case *network.EventResponseReceived:
					if strings.Contains(ev.Response.URL, "kleiber_200x200") {
						types = append(types, ev.Response.MimeType)
						varies = append(varies, fmt.Sprint(ev.Response.Headers["Vary"]))
					}
				}
			})
			if err != nil {
				t.Fatalf("start chromium: %v", err)
			}
			if _, err := chromedp.Call(cctx, network.Enable, network.EnableParams{}); err != nil {
				t.Fatalf("network.enable: %v", err)
			}
			if _, err := chromedp.Call(cctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
				t.Fatalf("disable the cache: %v", err)
			}
			for visit := 1; visit <= 2; visit++ {
				if err := chromedp.Do(cctx, chromedp.Navigate(page.URL)); err != nil {
					t.Fatalf("visit %d: %v", visit, err)
				}
				width, err := chromedp.Run(cctx, chromedp.Evaluate[int](`new Promise((resolve, reject) => {
					const img = document.getElementById("photo");
					const done = () => img.naturalWidth > 0 ? resolve(img.naturalWidth) : reject(new Error("the image did not decode"));
					if (img.complete) { done(); } else { img.onload = done; img.onerror = done; }
				})`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatalf("visit %d: %v", visit, err)
				}
				if width != 200 {
					t.Errorf("visit %d: naturalWidth %d, want 200", visit, width)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(types) != 2 || types[0] != tt.want || types[1] != tt.want {
				t.Errorf("the image came as %q, want %s twice", types, tt.want)
			}
			wantVary := "Accept"
			if tt.formats == nil {
				wantVary = "<nil>"
			}
			if len(redirectVary) != 1 || redirectVary[0] != wantVary || len(varies) != 2 || varies[1] != wantVary {
				t.Errorf("Vary of the redirect %q and of the answers %q, want %s on the redirect and the stored answer", redirectVary, varies, wantVary)
			}
			ext := strings.TrimPrefix(tt.want, "image/")
			if ext == "jpeg" {
				ext = "jpg"
			}
			if _, err := s.store.Head(context.Background(), "kleiber_200x200."+ext); err != nil {
				t.Errorf("kleiber_200x200.%s was not stored: %v", ext, err)
			}
		})
	}
}

// TestAcceptFormatsKeepsTheOriginal: a request for kleiber_20x20.jpg asks
// for a thumbnail of kleiber.jpg. Answered in WebP by Accept, it must not
// become the thumbnail kleiber_20x20.webp when the grammar makes that of
// another original, kleiber.webp (a thumbnail's own extension comes first
// among its originals): that is another picture than the one the page
// named.
func TestAcceptFormatsKeepsTheOriginal(t *testing.T) {
	st := fileStoreWith(t, map[string][]byte{
		"kleiber.jpg":  testkit.SolidJPEG(t, testkit.Red),
		"kleiber.webp": solidWebP(t, testkit.Blue),
	})
	cfg := DefaultConfig()
	cfg.Front = true
	cfg.ServeMissesDirectly = true
	cfg.AcceptFormats = []thumbkey.Format{thumbkey.WebP}
	s := newStack(t, st, thumbnail.DefaultConfig(), cfg)

	resp, body := getAccept(t, s, "/kleiber_20x20.jpg", "image/webp,*/*")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET = %d %q", resp.StatusCode, body)
	}
	png, err := bimg.NewImage(body).Convert(bimg.PNG)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := testkit.Colour(png)
	if !ok || c != testkit.Red {
		t.Errorf("kleiber_20x20.jpg answered (%s) with colour %v, %v; want the red of kleiber.jpg", resp.Header.Get("Content-Type"), c, ok)
	}
}

func solidWebP(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	out, err := bimg.NewImage(testkit.SolidJPEG(t, c)).Convert(bimg.WEBP)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
