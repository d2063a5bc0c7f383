package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"testing"
)

// sameAsLibvipsReduceh runs p with our reduce across and with
// vips_reduceh and fails when the two thumbnails differ; it returns
// whether ours did the work.
func sameAsLibvipsReduceh(t *testing.T, p pipeline, data []byte) bool {
	t.Helper()
	before := ownReduces()
	p.libvipsReduce = false
	ours, err := p.run(data)
	if err != nil {
		t.Fatalf("ours: %v", err)
	}
	used := ownReduces() != before
	p.libvipsReduce = true
	theirs, err := p.run(data)
	if err != nil {
		t.Fatalf("libvips: %v", err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Errorf("the thumbnail differs from libvips' reduce's (%d vs %d bytes)", len(ours), len(theirs))
	}
	return used
}

func greyAlphaImage(w, h int) *image.NRGBA64 {
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	n := noiseImage(w, h, 5)
	for y := range h {
		for x := range w {
			c := n.RGBAAt(x, y)
			img.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, uint16((x*7+y)%256) * 257})
		}
	}
	return img
}

// TestReducehSameAcrossPaths compares ours with vips_reduceh beyond the
// plain resize: crops at an offset, smart crops and turns (both copy to
// memory, in tiles), thin images, 2-band grey with alpha, factors just
// above 1 and up to the 64-point limit and past it.
func TestReducehSameAcrossPaths(t *testing.T) {
	v := newTestVips(t)
	ga := image.NewNRGBA(image.Rect(0, 0, 811, 523))
	n := noiseImage(811, 523, 4)
	for y := range 523 {
		for x := range 811 {
			c := n.RGBAAt(x, y)
			ga.SetNRGBA(x, y, color.NRGBA{c.R, c.R, c.R, uint8(x*3 + y)})
		}
	}
	ga2 := image.NewGray(image.Rect(0, 0, 811, 523))
	for i := range ga2.Pix {
		ga2.Pix[i] = uint8(i * 31)
	}
	sources := []struct {
		name string
		data []byte
	}{
		{"rgb jpeg", encodeJPEG(t, noiseImage(1601, 903, 1))},
		{"rgba png", encodePNG(t, noiseImage(1203, 777, 6))},
		{"grey alpha png", encodePNG(t, ga)},
		{"grey png", encodePNG(t, ga2)},
		{"rgba16 png", encodePNG(t, greyAlphaImage(601, 403))},
		{"thin png", encodePNG(t, noiseImage(3001, 3, 7))},
		{"tall png", encodePNG(t, noiseImage(5, 2001, 7))},
	}
	for _, src := range sources {
		h, err := readHeader(src.data)
		if err != nil {
			t.Fatal(err)
		}
		dw, dh := h.displaySize()
		type variant struct {
			name string
			opts Options
			edit func(p *pipeline)
		}
		variants := []variant{
			{"cover centre", Options{Width: 97, Height: 211, Fit: Cover, Format: PNG}, nil},
			{"cover wide", Options{Width: 301, Height: 41, Fit: Cover, Format: PNG}, nil},
			{"cover attention", Options{Width: 150, Height: 150, Fit: Cover, Focus: Attention, Format: PNG}, nil},
			{"cover entropy", Options{Width: 77, Height: 150, Fit: Cover, Focus: Entropy, Format: PNG}, nil},
			{"turned", Options{Width: 333, Format: PNG}, func(p *pipeline) { p.angle = 90 }},
			{"turned flipped", Options{Width: 123, Format: JPEG}, func(p *pipeline) { p.angle = 270; p.flip = true }},
			{"just below", Options{Width: dw - 1, Format: PNG}, nil},
			{"just below 2", Options{Width: dw - 3, Height: dh - 1, Format: PNG}, func(p *pipeline) { p.width, p.height = dw-3, dh-1 }},
			{"factor 10.4", Options{Width: 1, Format: PNG}, func(p *pipeline) {
				p.loadShrink, p.boxShrink, p.width, p.height = 1, 1, int(float64(dw)/10.4+0.5), max(1, dh/2)
			}},
			{"factor 10.6", Options{Width: 1, Format: PNG}, func(p *pipeline) {
				p.loadShrink, p.boxShrink, p.width, p.height = 1, 1, int(float64(dw)/10.6+0.5), max(1, dh/2)
			}},
			{"factor 3.3 offset crop", Options{Width: 1, Format: PNG}, func(p *pipeline) {
				p.loadShrink, p.boxShrink, p.width, p.height = 1, 1, int(float64(dw)/3.3+0.5), max(1, dh/2)
				p.cropW, p.cropH = max(1, p.width/3), max(1, p.height/2)
				p.cropLeft, p.cropTop = p.width-p.cropW, p.height/2-p.cropH/2
			}},
		}
		for _, vr := range variants {
			t.Run(fmt.Sprintf("%s %s", src.name, vr.name), func(t *testing.T) {
				if vr.opts.Width < 1 {
					t.Skip("too small")
				}
				p := v.plan(h, planGeometry(dw, dh, vr.opts), vr.opts)
				if vr.edit != nil {
					vr.edit(&p)
				}
				if p.width < 1 || p.height < 1 {
					t.Skip("too small")
				}
				used := sameAsLibvipsReduceh(t, p, src.data)
				t.Logf("%dx%d -> %dx%d box %d, ours used: %v", dw, dh, p.width, p.height, p.boxShrink, used)
			})
		}
	}
}
