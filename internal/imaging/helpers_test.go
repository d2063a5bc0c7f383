package imaging

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/h2non/bimg"
)

// Test images are made here, in code, so that every fixture says how it was
// made: Go's encoders for JPEG and PNG, libvips (through bimg) for the other
// formats and for CMYK, and hand-built EXIF and XMP segments.

// Distinctive strings planted in test metadata; none may reach an output.
const (
	testMake     = "SnoopCamCorp"
	testModel    = "PeekaBoo-9000"
	testXMPValue = "XmpSecretLocation"
)

// newTestVips returns an engine with the default configuration.
func newTestVips(t testing.TB) *Vips {
	t.Helper()
	v, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// uniformImage is a w×h image of one colour.
func uniformImage(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// quadrants is an image whose four quarters have distinct colours, so that
// a turn or a mirror shows.
var quadrantColours = [4]color.RGBA{
	{230, 30, 30, 255},   // top left: red
	{30, 200, 30, 255},   // top right: green
	{30, 30, 230, 255},   // bottom left: blue
	{240, 240, 240, 255}, // bottom right: white
}

// quadrantImage draws a w×h image of the four quadrant colours.
func quadrantImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetRGBA(x, y, quadrantColours[q])
		}
	}
	return img
}

// storedFor returns the image to store with EXIF orientation o so that a
// viewer applying o shows display.
func storedFor(display *image.RGBA, o int) *image.RGBA {
	W, H := display.Bounds().Dx(), display.Bounds().Dy()
	sw, sh := W, H
	if swapsAxes(o) {
		sw, sh = H, W
	}
	stored := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for y := range H {
		for x := range W {
			// Where the displayed pixel (x, y) sits in the stored image.
			var sx, sy int
			switch o {
			case 1:
				sx, sy = x, y
			case 2:
				sx, sy = W-1-x, y
			case 3:
				sx, sy = W-1-x, H-1-y
			case 4:
				sx, sy = x, H-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, sh-1-x
			case 7:
				sx, sy = sw-1-y, sh-1-x
			case 8:
				sx, sy = sw-1-y, x
			}
			stored.SetRGBA(sx, sy, display.RGBAAt(x, y))
		}
	}
	return stored
}

// encodeJPEG encodes img with Go's encoder.
func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encodePNG encodes img with Go's encoder.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// convert re-encodes data with libvips, keeping its metadata.
func convert(t testing.TB, data []byte, to bimg.ImageType) []byte {
	t.Helper()
	out, err := bimg.Resize(data, bimg.Options{Type: to, NoAutoRotate: true, Quality: 90, Speed: 8})
	if err != nil {
		t.Fatalf("convert to %s: %v", bimg.ImageTypeName(to), err)
	}
	return out
}

// exifTIFF builds an EXIF block (TIFF format, little-endian) with Make,
// Model, Orientation and a GPS IFD holding a latitude and longitude.
func exifTIFF(orientation uint16) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	put := func(v any) { _ = binary.Write(&b, le, v) }
	entry := func(tag, typ uint16, count, value uint32) { put(tag); put(typ); put(count); put(value) }

	mk, model := testMake+"\x00", testModel+"\x00"
	const ifd0Entries = 4
	ifd0End := 8 + 2 + ifd0Entries*12 + 4
	makeOff := ifd0End
	modelOff := makeOff + len(mk)
	gpsOff := modelOff + len(model)
	const gpsEntries = 4
	gpsData := gpsOff + 2 + gpsEntries*12 + 4

	b.WriteString("II")
	put(uint16(42))
	put(uint32(8))
	put(uint16(ifd0Entries))
	entry(0x010F, 2, uint32(len(mk)), uint32(makeOff))     // Make
	entry(0x0110, 2, uint32(len(model)), uint32(modelOff)) // Model
	entry(0x0112, 3, 1, uint32(orientation))               // Orientation
	entry(0x8825, 4, 1, uint32(gpsOff))                    // GPS IFD
	put(uint32(0))
	b.WriteString(mk)
	b.WriteString(model)
	put(uint16(gpsEntries))
	entry(0x0001, 2, 2, uint32('N'))        // GPSLatitudeRef
	entry(0x0002, 5, 3, uint32(gpsData))    // GPSLatitude
	entry(0x0003, 2, 2, uint32('E'))        // GPSLongitudeRef
	entry(0x0004, 5, 3, uint32(gpsData+24)) // GPSLongitude
	put(uint32(0))
	for _, v := range []uint32{48, 1, 51, 1, 2979, 100, 2, 1, 17, 1, 4000, 100} {
		put(v)
	}
	return b.Bytes()
}

// app1 wraps a payload in a JPEG APP1 segment.
func app1(payload []byte) []byte {
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// xmpPacket is an XMP packet naming the test camera.
func xmpPacket() []byte {
	return []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Make="` + testMake + `" tiff:Model="` + testXMPValue + `"/>` +
		`</rdf:RDF></x:xmpmeta>`)
}

// withMetadata inserts EXIF (with orientation o) and XMP segments after
// the SOI marker of a JPEG.
func withMetadata(jpg []byte, o uint16) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1(append([]byte("Exif\x00\x00"), exifTIFF(o)...))...)
	out = append(out, app1(append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmpPacket()...))...)
	return append(out, jpg[2:]...)
}

// decode decodes an output to Go pixels; WebP and AVIF go through libvips
// to PNG first (Go has no decoder for them).
func decode(t testing.TB, img Image) image.Image {
	t.Helper()
	data := img.Data
	if img.Format == WebP || img.Format == AVIF {
		var err error
		if data, err = bimg.Resize(data, bimg.Options{Type: bimg.PNG, NoAutoRotate: true}); err != nil {
			t.Fatalf("decode %s: %v", img.Format, err)
		}
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode %s: %v", img.Format, err)
	}
	if b := m.Bounds(); b.Dx() != img.Width || b.Dy() != img.Height {
		t.Fatalf("decoded %s is %dx%d, Image says %dx%d", img.Format, b.Dx(), b.Dy(), img.Width, img.Height)
	}
	return m
}

// near reports whether two colours are within tol per channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) bool { return abs(int(a>>8)-int(b)) <= tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// rgb8 returns a colour's 8-bit channels.
func rgb8(c color.Color) (int, int, int) {
	r, g, b, _ := c.RGBA()
	return int(r >> 8), int(g >> 8), int(b >> 8)
}

// noiseImage draws smooth gradients with seeded noise: it compresses about
// like a photograph, so decoding it costs about what a photograph costs.
func noiseImage(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	pix := img.Pix
	for y := range h {
		for x := range w {
			n := int(rng.Uint32() & 31)
			i := y*img.Stride + 4*x
			pix[i+0] = uint8((x*255/w + n) & 255)
			pix[i+1] = uint8((y*255/h + n) & 255)
			pix[i+2] = uint8(((x+y)*255/(w+h) + 2*n) & 255)
			pix[i+3] = 255
		}
	}
	return img
}
