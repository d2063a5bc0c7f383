package testkit

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // thumbnails the colour tests decode
	"testing"
)

// Solid colours that survive JPEG encoding and resizing far apart from
// each other, for tests that check which original a thumbnail was made of.
var (
	Red    = color.RGBA{220, 20, 20, 255}
	Green  = color.RGBA{20, 200, 20, 255}
	Blue   = color.RGBA{20, 20, 220, 255}
	Yellow = color.RGBA{230, 220, 20, 255}
)

// SolidJPEG is a 64x48 JPEG of one colour.
func SolidJPEG(t testing.TB, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Colour decodes a JPEG or PNG and tells which of Red, Green, Blue and
// Yellow its centre pixel is; ok is false when it is none of them or the
// data does not decode.
func Colour(data []byte) (c color.RGBA, ok bool) {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return c, false
	}
	b := img.Bounds()
	r, g, bl, _ := img.At((b.Min.X+b.Max.X)/2, (b.Min.Y+b.Max.Y)/2).RGBA()
	for _, want := range []color.RGBA{Red, Green, Blue, Yellow} {
		if near(r>>8, want.R) && near(g>>8, want.G) && near(bl>>8, want.B) {
			return want, true
		}
	}
	return c, false
}

func near(got uint32, want uint8) bool {
	d := int(got) - int(want)
	return d > -40 && d < 40
}
