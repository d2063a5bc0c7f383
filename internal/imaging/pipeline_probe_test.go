package imaging

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/h2non/bimg"
	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
)

func rssKB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}

// Thin and extreme aspect images: exact size, no failure.
func TestThinImages(t *testing.T) {
	v := newTestVips(t)
	for _, sz := range [][2]int{{4000, 1}, {1, 4000}, {5000, 3}, {3, 5000}, {2000, 2}, {9, 1}, {1, 9}} {
		src := noiseImage(sz[0], sz[1], 3)
		for _, in := range []struct {
			n string
			d []byte
		}{{"jpeg", encodeJPEG(t, src)}, {"png", encodePNG(t, src)}, {"webp", convert(t, encodeJPEG(t, src), bimg.WEBP)}} {
			for _, o := range []Options{{Width: 100, Height: 100, Format: JPEG}, {Width: 100, Height: 100, Fit: Cover, Format: PNG}, {Width: 37, Height: 0, Format: WebP}, {Width: 300, Height: 300, Enlarge: true, Format: JPEG}, {Width: 100, Height: 100, Fit: Cover, Focus: Attention, Format: JPEG}} {
				key := fmt.Sprintf("%dx%d/%s/%dx%d/%v/%v/%v", sz[0], sz[1], in.n, o.Width, o.Height, o.Fit, o.Focus, o.Enlarge)
				if c := os.Getenv("R14CASE"); c != "" && c != key {
					continue
				}
				if os.Getenv("R14LIST") != "" {
					fmt.Println("CASE", key)
					continue
				}
				_, err := v.Thumbnail(context.Background(), in.d, o)
				if err != nil {
					t.Errorf("%dx%d %s %+v: %v", sz[0], sz[1], in.n, o, err)
				}
			}
		}
	}
}

// Enlarging to many sizes: the affine path's output size.
func TestEnlargeSizes(t *testing.T) {
	v := newTestVips(t)
	bad := 0
	for w := 7; w < 60; w += 3 {
		for h := 5; h < 50; h += 4 {
			src := encodePNG(t, noiseImage(w, h, 1))
			for _, W := range []int{61, 97, 128, 333} {
				for _, fit := range []Fit{Inside, Cover} {
					_, err := v.Thumbnail(context.Background(), src, Options{Width: W, Height: W * 2 / 3, Fit: fit, Enlarge: true, Format: PNG})
					if err != nil {
						bad++
						if bad < 10 {
							t.Errorf("%dx%d -> %d fit %v: %v", w, h, W, fit, err)
						}
					}
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d failures", bad)
	}
}

// TestLeak: the engine, on good, damaged and cut inputs with every kind of
// option, and the pipeline's C error paths run directly, leave nothing
// allocated in libvips.
func TestLeak(t *testing.T) {
	v := newTestVips(t)
	src := imagingtest.Photo(600, 400)
	jpg, png := imagingtest.JPEG(src), imagingtest.PNG(src)
	inputs := map[string][]byte{
		"jpg": jpg, "png": png,
		"webp": convert(t, jpg, bimg.WEBP), "gif": convert(t, jpg, bimg.GIF), "avif": convert(t, jpg, bimg.AVIF),
		"tpng":   encodePNG(t, transparentImage(500, 300)),
		"cutjpg": imagingtest.CutJPEG(jpg), "cutpng": imagingtest.CutPNG(png),
		"short": imagingtest.ShortPNG(3000, 3000),
		"o6":    withMetadata(jpg, 6), "o5": withMetadata(jpg, 5),
	}
	opts := []Options{
		{Width: 120, Height: 80, Format: JPEG},
		{Width: 100, Height: 100, Fit: Cover, Focus: Attention, Format: WebP},
		{Width: 100, Height: 100, Fit: Cover, Focus: Entropy, Format: PNG},
		{Width: 900, Height: 900, Enlarge: true, Format: JPEG},
	}
	round := func() {
		for _, d := range inputs {
			for _, o := range opts {
				v.Thumbnail(context.Background(), d, o)
			}
		}
	}
	// Direct pipeline runs on damaged data that the header checks stop:
	// exercises the C error paths.
	direct := func() {
		for _, d := range [][]byte{jpg[:len(jpg)/2], png[:len(png)/2], []byte("\xff\xd8\xff\xe0garbage"), inputs["avif"][:200]} {
			for _, f := range []Format{JPEG, PNG, WebP, GIF, HEIF} {
				p := pipeline{in: f, loadShrink: 2, boxShrink: 2, width: 50, height: 50, out: JPEG, quality: 80, angle: 90, flip: true, cropW: 10, cropH: 10, interesting: interestingFor(Attention)}
				p.run(d)
			}
		}
	}
	for range 3 {
		round()
		direct()
	}
	runtime.GC()
	m0, r0 := bimg.VipsMemory(), rssKB()
	const N = 6 // libvips tracks every allocation: a leak shows in one round
	for range N {
		round()
		direct()
	}
	runtime.GC()
	m1, r1 := bimg.VipsMemory(), rssKB()
	t.Logf("vips mem %d->%d allocs %d->%d rss %d->%d KB", m0.Memory, m1.Memory, m0.Allocations, m1.Allocations, r0, r1)
	if m1.Memory > m0.Memory+1<<20 || m1.Allocations > m0.Allocations+10 {
		t.Errorf("libvips tracked memory grew: %+v -> %+v", m0, m1)
	}
}
