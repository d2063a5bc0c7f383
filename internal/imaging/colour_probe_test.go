package imaging

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/h2non/bimg"
)

// TestCMYKWithProfile: a CMYK JPEG with its embedded profile converts to
// every output format, centred and with a smart crop.
func TestCMYKWithProfile(t *testing.T) {
	v := newTestVips(t)
	src := quadrantImage(200, 200)
	cmyk, err := bimg.Resize(encodePNG(t, src), bimg.Options{Type: bimg.JPEG, Interpretation: bimg.InterpretationCMYK, Quality: 95})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := bimg.Metadata(cmyk)
	t.Logf("input: space %s profile %v", md.Space, md.Profile)
	for _, out := range []Format{JPEG, PNG, WebP} {
		for _, o := range []Options{{Width: 40, Height: 40, Format: out}, {Width: 40, Height: 30, Fit: Cover, Focus: Attention, Format: out}} {
			if _, err := v.Thumbnail(context.Background(), cmyk, o); err != nil {
				t.Errorf("%+v: %v", o, err)
			}
		}
	}
}

// TestPNG16Alpha: a 16-bit PNG with alpha keeps its alpha in PNG and WebP
// and is flattened onto the background in JPEG.
func TestPNG16Alpha(t *testing.T) {
	v := newTestVips(t)
	img := image.NewNRGBA64(image.Rect(0, 0, 200, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 200; x++ {
			a := uint16(0xFFFF)
			if x < 100 {
				a = 0
			}
			img.SetNRGBA64(x, y, color.NRGBA64{0xFFFF, 0, 0, a})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	for _, f := range []Format{PNG, WebP, JPEG} {
		th, err := v.Thumbnail(context.Background(), b.Bytes(), Options{Width: 100, Height: 50, Format: f, Background: RGB{G: 255}})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d := decode(t, th)
		r, g, bb, a := d.At(10, 25).RGBA()
		r2, g2, b2, a2 := d.At(90, 25).RGBA()
		t.Logf("%s: left %d %d %d %d right %d %d %d %d", f, r>>8, g>>8, bb>>8, a>>8, r2>>8, g2>>8, b2>>8, a2>>8)
		if f != JPEG && (a>>8 > 2 || a2>>8 < 253) {
			t.Errorf("%s: alpha left %d right %d", f, a>>8, a2>>8)
		}
		if f == JPEG && (g>>8 < 240 || r2>>8 < 240) {
			t.Errorf("jpeg flatten wrong")
		}
	}
}
