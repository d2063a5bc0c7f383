package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"testing"
)

// TestReducehSamePixels checks that the thumbnails made with our reduce
// (s3t_reduce, down then across) are byte for byte those made with libvips'
// own vips_reduce (its C paths: New turns ORC off), for 1, 3 and 4 bands,
// many sizes and reduce factors, and that ours did the work.
func TestReducehSamePixels(t *testing.T) {
	v := newTestVips(t)
	greyImg := image.NewGray(image.Rect(0, 0, 1001, 677))
	for i := range greyImg.Pix {
		greyImg.Pix[i] = uint8(i*7 + i/1001*13)
	}
	rgba := noiseImage(999, 777, 3)
	for y := 0; y < 777; y += 3 {
		for x := range 999 {
			c := rgba.RGBAAt(x, y)
			c.A = uint8(x % 256)
			rgba.SetRGBA(x, y, color.RGBA{c.R * c.A / 255, c.G * c.A / 255, c.B * c.A / 255, c.A})
		}
	}
	sources := []struct {
		name string
		data []byte
	}{
		{"rgb jpeg", encodeJPEG(t, noiseImage(1601, 903, 1))},
		{"rgb png", encodePNG(t, noiseImage(733, 1280, 2))},
		{"rgba png", encodePNG(t, rgba)},
		{"grey png", encodePNG(t, greyImg)},
	}
	before := ownReduces()
	for _, src := range sources {
		h, err := readHeader(src.data)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{1, 7, 99, 201, 333, 500, 640, 700, 731} {
			for _, out := range []Format{PNG, JPEG} {
				opts := Options{Width: w, Format: out}
				t.Run(fmt.Sprintf("%s %dw %s", src.name, w, out), func(t *testing.T) {
					dw, dh := h.displaySize()
					p := v.plan(h, planGeometry(dw, dh, opts), opts)
					ours, err := p.run(src.data)
					if err != nil {
						t.Fatal(err)
					}
					p.libvipsReduce = true
					theirs, err := p.run(src.data)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(ours, theirs) {
						t.Errorf("the thumbnail differs from libvips' reduce's (%d vs %d bytes)", len(ours), len(theirs))
					}
				})
			}
		}
	}
	if ownReduces() == before {
		t.Error("s3t_reduceh was never used")
	}
}
