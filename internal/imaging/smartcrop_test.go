package imaging

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/h2non/bimg"
)

// subjectImage draws a w×h flat grey image with a detailed, saturated
// subject (a checkerboard of red and blue 8-pixel squares, whose mix,
// purple, is saturated too) in the
// rectangle r: where a smart crop must look, away from the centre.
func subjectImage(w, h int, r image.Rectangle) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	grey := color.RGBA{128, 128, 128, 255}
	colours := []color.RGBA{{230, 20, 20, 255}, {20, 20, 230, 255}}
	for y := range h {
		for x := range w {
			c := grey
			if (image.Point{x, y}).In(r) {
				c = colours[(x/8+y/8)%len(colours)]
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// saturated reports whether a pixel is part of the subject: the grey
// background has no saturation, every subject colour has a lot.
func saturated(c color.Color) bool {
	r, g, b := rgb8(c)
	return max(r, g, b)-min(r, g, b) > 100
}

// subjectPixels counts the subject's pixels in m.
func subjectPixels(m image.Image) int {
	n := 0
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if saturated(m.At(x, y)) {
				n++
			}
		}
	}
	return n
}

// TestSmartCropKeepsSubject: on images whose subject sits near one edge,
// the centred crop (fill) misses it and the attention and entropy crops
// keep all of it, in exactly the box asked for, whatever the input and
// output formats and the EXIF orientation.
func TestSmartCropKeepsSubject(t *testing.T) {
	v := newTestVips(t)
	// 1200×400 scaled to 600×200 for a 200×200 box: the subject (200×200
	// at x 30-230) becomes 100×100 at x 15-115, the centred crop keeps x
	// 200-400.
	wide := subjectImage(1200, 400, image.Rect(30, 100, 230, 300))
	// 400×1200, the subject near the bottom edge.
	tall := subjectImage(400, 1200, image.Rect(100, 960, 300, 1160))
	wideJPEG := encodeJPEG(t, wide)
	inputs := []struct {
		name string
		data []byte
	}{
		{"wide jpeg", wideJPEG},
		{"wide png", encodePNG(t, wide)},
		{"wide webp", convert(t, wideJPEG, bimg.WEBP)},
		{"tall jpeg", encodeJPEG(t, tall)},
		// Stored turned a quarter, shown as the wide image: the crop is
		// found in the stored image and must still hold the subject once
		// turned.
		{"wide jpeg stored turned (EXIF 6)", withMetadata(encodeJPEG(t, storedFor(wide, 6)), 6)},
		{"wide jpeg stored mirrored (EXIF 2)", withMetadata(encodeJPEG(t, storedFor(wide, 2)), 2)},
	}
	const box = 200
	const subjectArea = 100 * 100 // the subject, scaled by a half
	for _, in := range inputs {
		for _, format := range []Format{JPEG, WebP, PNG, AVIF} {
			for _, focus := range []Focus{Centre, Attention, Entropy} {
				t.Run(fmt.Sprintf("%s to %s focus %d", in.name, format, focus), func(t *testing.T) {
					img, err := v.Thumbnail(context.Background(), in.data, Options{Width: box, Height: box, Fit: Cover, Focus: focus, Format: format})
					if err != nil {
						t.Fatal(err)
					}
					if img.Width != box || img.Height != box || img.Format != format {
						t.Fatalf("got %dx%d %s, want %dx%d %s", img.Width, img.Height, img.Format, box, box, format)
					}
					n := subjectPixels(decode(t, img)) // decode checks the dimensions too
					if focus == Centre {
						if n > 0 {
							t.Fatalf("the centred crop holds %d subject pixels; the test image is wrong", n)
						}
						return
					}
					if n < subjectArea*9/10 {
						t.Errorf("the crop holds %d subject pixels of %d", n, subjectArea)
					}
				})
			}
		}
	}
}

// TestSmartCropTransparency: an image with alpha keeps it through the
// smart crop (WebP, PNG) or is flattened onto the background (JPEG), and the
// crop holds the subject.
func TestSmartCropTransparency(t *testing.T) {
	v := newTestVips(t)
	img := subjectImage(900, 300, image.Rect(700, 50, 870, 250))
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i-3] == 128 && img.Pix[i-2] == 128 && img.Pix[i-1] == 128 {
			img.Pix[i-3], img.Pix[i-2], img.Pix[i-1], img.Pix[i] = 0, 0, 0, 0 // transparent background
		}
	}
	data := encodePNG(t, img)
	for _, format := range []Format{JPEG, WebP, PNG} {
		t.Run(string(format), func(t *testing.T) {
			out, err := v.Thumbnail(context.Background(), data, Options{Width: 150, Height: 150, Fit: Cover, Focus: Attention, Format: format, Background: RGB{255, 255, 255}})
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, out)
			// 900×300 scaled to 450×150: the subject is 85×100 at x 350-435.
			if n := subjectPixels(m); n < 85*100*9/10 {
				t.Errorf("the crop holds %d subject pixels of %d", n, 85*100)
			}
			_, _, _, a := m.At(0, 0).RGBA()
			r, g, b := rgb8(m.At(0, 0))
			switch {
			case format == JPEG && (r < 240 || g < 240 || b < 240):
				t.Errorf("corner is (%d,%d,%d), want the white background", r, g, b)
			case format != JPEG && a != 0:
				t.Errorf("corner has alpha %d, want transparent", a>>8)
			}
		})
	}
}

// TestSmartCropSizesExact: the attention and entropy crops have exactly the
// box's size, for boxes of every shape, plain and turned, and for an image
// smaller than the box (cropped to the box's aspect ratio, not scaled up).
func TestSmartCropSizesExact(t *testing.T) {
	v := newTestVips(t)
	display := noiseImage(640, 427, 3)
	inputs := map[string][]byte{
		"plain":  encodeJPEG(t, display),
		"turned": withMetadata(encodeJPEG(t, storedFor(display, 6)), 6),
	}
	for name, data := range inputs {
		for _, box := range [][2]int{{1, 1}, {2, 3}, {33, 17}, {99, 101}, {213, 142}, {300, 20}, {20, 300}, {639, 426}, {800, 800}} {
			for _, focus := range []Focus{Attention, Entropy} {
				opts := Options{Width: box[0], Height: box[1], Fit: Cover, Focus: focus, Format: JPEG}
				img, err := v.Thumbnail(context.Background(), data, opts)
				if err != nil {
					t.Errorf("%s %+v: %v", name, opts, err)
					continue
				}
				g := planGeometry(640, 427, opts)
				if img.Width != g.outW || img.Height != g.outH {
					t.Errorf("%s %+v: got %dx%d, want %dx%d", name, opts, img.Width, img.Height, g.outW, g.outH)
				}
				decode(t, img)
			}
		}
	}
}
