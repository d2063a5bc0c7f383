package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2non/bimg"

	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
)

// pngWithSize builds a PNG whose header claims w×h RGB pixels, followed by
// a tiny image data chunk: a decompression bomb's header.
func pngWithSize(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write(pngSignature)
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		b.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		b.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}) // zlib of one zero byte
	chunk("IEND", nil)
	return b.Bytes()
}

// jpegWithSize rewrites the frame header of jpg to claim w×h.
func jpegWithSize(t testing.TB, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(jpg)
	for i := 2; i+9 < len(out); {
		marker := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if marker == 0xC0 || marker == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	t.Fatal("no frame header")
	return nil
}

// patchBox overwrites the payload of the first box of type typ (found by
// its type bytes) at offset off within the payload.
func patchBox(t testing.TB, data []byte, typ string, off int, with []byte) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(typ))
	if i < 4 {
		t.Fatalf("no %q box", typ)
	}
	out := bytes.Clone(data)
	copy(out[i+4+off:], with)
	return out
}

func TestHostileInputs(t *testing.T) {
	v := newTestVips(t)
	src := noiseImage(300, 200, 7)
	jpg := encodeJPEG(t, src)
	png := encodePNG(t, src)
	webp := convert(t, jpg, bimg.WEBP)
	avif := convert(t, jpg, bimg.AVIF)
	gif := convert(t, jpg, bimg.GIF)
	tiff := convert(t, jpg, bimg.TIFF)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	half := func(b []byte) []byte { return b[:len(b)/2] }
	bigBox := make([]byte, 8)
	binary.BigEndian.PutUint32(bigBox[0:], 100000)
	binary.BigEndian.PutUint32(bigBox[4:], 100000)

	tests := []struct {
		name   string
		data   []byte
		want   error
		reason string // in the message
	}{
		{"nil", nil, ErrUnsupportedImage, "empty"},
		{"zero bytes", []byte{}, ErrUnsupportedImage, "empty"},
		{"one byte", []byte{0xFF}, ErrUnsupportedImage, ""},
		{"random bytes", random, ErrUnsupportedImage, ""},
		{"text", []byte("hello, world\n"), ErrUnsupportedImage, ""},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="red"/></svg>`), ErrUnsupportedImage, "SVG"},
		{"svg without declaration", []byte(`  <svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`), ErrUnsupportedImage, "SVG"},
		{"pdf", []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"), ErrUnsupportedImage, "PDF"},
		{"tiff", tiff, ErrUnsupportedImage, "TIFF"},
		{"bmp", append([]byte("BM"), make([]byte, 60)...), ErrUnsupportedImage, "BMP"},
		{"quicktime brand", append([]byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "), make([]byte, 32)...), ErrUnsupportedImage, "brand"},

		{"truncated jpeg", half(jpg), ErrUnsupportedImage, "truncated"},
		{"jpeg without end marker", jpg[:len(jpg)-2], ErrUnsupportedImage, "truncated"},
		{"jpeg cut in its header", jpg[:40], ErrUnsupportedImage, "truncated"},
		{"jpeg soi only", []byte{0xFF, 0xD8, 0xFF}, ErrUnsupportedImage, "truncated"},
		{"jpeg of zero width", jpegWithSize(t, jpg, 0, 200), ErrUnsupportedImage, "no size"},
		{"truncated png", half(png), ErrUnsupportedImage, "truncated"},
		{"png without IEND", png[:len(png)-12], ErrUnsupportedImage, "truncated"},
		{"png signature only", pngSignature, ErrUnsupportedImage, "truncated"},
		{"truncated webp", half(webp), ErrUnsupportedImage, "truncated"},
		{"webp header only", webp[:20], ErrUnsupportedImage, ""},
		{"truncated avif", half(avif), ErrUnsupportedImage, "truncated"},
		{"avif header only", avif[:40], ErrUnsupportedImage, "truncated"},
		{"truncated gif", half(gif), ErrUnsupportedImage, "truncated"},
		// A small screen with a huge frame: libvips decodes the frame.
		{"gif frame outside its screen", []byte("GIF87a\x0a\x00\x0a\x00\x00\x00\x00,\x00\x00\x00\x00\x60\xea\x60\xea\x00\x02\x02\x44\x01\x00;"), ErrUnsupportedImage, "outside"},

		// Decompression bombs: refused from the header, before decoding.
		{"png bomb 100000x100000", pngWithSize(100000, 100000), ErrTooManyPixels, "10000000000 pixels"},
		{"png 2^31-1 square", pngWithSize(1<<31-1, 1<<31-1), ErrTooManyPixels, ""},
		{"jpeg bomb 65000x65000", jpegWithSize(t, jpg, 65000, 65000), ErrTooManyPixels, ""},
		{"webp bomb 16384x16384", patchBox(t, convert(t, encodePNG(t, transparentImage(8, 8)), bimg.WEBP), "VP8X", 8, []byte{0xFF, 0x3F, 0x00, 0xFF, 0x3F, 0x00}), ErrTooManyPixels, "16384x16384"},
		{"gif bomb 65535x65535", append(append([]byte("GIF89a"), 0xFF, 0xFF, 0xFF, 0xFF), gif[10:]...), ErrTooManyPixels, ""},
		{"avif bomb 100000x100000", patchBox(t, avif, "ispe", 4, bigBox), ErrTooManyPixels, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := v.Thumbnail(context.Background(), tt.data, Options{Width: 100, Height: 100, Format: JPEG})
			took := time.Since(start)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			// Refusing must not cost a decode. (Generous, for loaded CI
			// machines: decoding a bomb would take minutes or fail to
			// allocate.)
			if took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if tt.want == ErrTooManyPixels {
				if _, err := v.Probe(tt.data); !errors.Is(err, ErrTooManyPixels) {
					t.Errorf("Probe: %v, want ErrTooManyPixels", err)
				}
			}
		})
	}
}

// transparentImage is a w×h image with a transparent half.
func transparentImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if x >= w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{200, 100, 50, a})
		}
	}
	return img
}

func TestMaxPixelsConfigured(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPixels = 300 * 200
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jpg := encodeJPEG(t, quadrantImage(300, 200))
	if _, err := v.Thumbnail(context.Background(), jpg, Options{Width: 50, Format: JPEG}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	bigger := encodeJPEG(t, quadrantImage(301, 200))
	if _, err := v.Thumbnail(context.Background(), bigger, Options{Width: 50, Format: JPEG}); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("over the limit: %v, want ErrTooManyPixels", err)
	}
	// The scaled image a thumbnail is cut from is bounded too.
	if _, err := v.Thumbnail(context.Background(), jpg, Options{Width: 600, Height: 600, Enlarge: true, Format: JPEG}); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("enlarged over the limit: %v, want ErrTooManyPixels", err)
	}
}

// TestDamagedImages: originals whose headers are sound and whose pixel data
// is not are refused (ErrDamagedImage), never turned into thumbnails with
// grey, black or scrambled areas; a JPEG with bytes after its end is whole.
// Then all of them at once, three times, so that the warnings of one do not
// pass for another's (the reason may then be lost, not the verdict).
func TestDamagedImages(t *testing.T) {
	v := newTestVips(t)
	src := imagingtest.Photo(600, 400)
	jpg, png := imagingtest.JPEG(src), imagingtest.PNG(src)
	tests := []struct {
		name string
		data []byte
		want error
		says string
	}{
		{"jpeg cut with an end marker", imagingtest.CutJPEG(jpg), ErrDamagedImage, "premature end"},
		{"png with its image data cut", imagingtest.CutPNG(png), ErrDamagedImage, "libpng"},
		{"png 7000x7000 with 100 bytes of data", imagingtest.ShortPNG(7000, 7000), ErrDamagedImage, "libpng"},
		{"jpeg with bytes after its end", imagingtest.TrailingJPEG(jpg), nil, ""},
		{"whole jpeg", jpg, nil, ""},
		{"whole png", png, nil, ""},
	}
	check := func(name string, data []byte, want error, says string) {
		img, err := v.Thumbnail(context.Background(), data, Options{Width: 120, Height: 80, Format: JPEG})
		switch {
		case !errors.Is(err, want) || (want == nil) != (err == nil):
			t.Errorf("%s: %v, want %v", name, err, want)
		case err != nil && !errors.Is(err, ErrUnsupportedImage):
			t.Errorf("%s: %v does not wrap ErrUnsupportedImage", name, err)
		case err != nil && !strings.Contains(strings.ToLower(err.Error()), says):
			t.Errorf("%s: %q does not say %q", name, err, says)
		case err == nil && img.Width != 120:
			t.Errorf("%s: %dx%d", name, img.Width, img.Height)
		}
	}
	for _, tt := range tests {
		check(tt.name, tt.data, tt.want, tt.says)
	}
	for range 3 {
		var wg sync.WaitGroup
		for _, tt := range tests {
			wg.Go(func() { check(tt.name, tt.data, tt.want, "") })
		}
		wg.Wait()
	}
}

// pngHeader is a PNG of only its header: w×h, bit depth, colour type and
// interlace method as given.
func pngHeader(w, h uint32, depth, colour, interlace byte) []byte {
	png := pngWithSize(w, h)
	ihdr := png[len(pngSignature)+8:]
	ihdr[8], ihdr[9], ihdr[12] = depth, colour, interlace
	binary.BigEndian.PutUint32(png[len(pngSignature)+8+13:], crc32.ChecksumIEEE(png[len(pngSignature)+4:len(pngSignature)+8+13]))
	return png
}

// TestCost: the memory a thumbnail's decoding holds, estimated from the
// header: what the decoded pixels take, up to libvips' disc threshold for
// an image decoded whole (a 7071x7071 RGBA 16-bit PNG, 50 megapixels and
// 400 MB decoded, goes to a temporary file), all of it and more for an
// interlaced PNG, the coefficients on top for a progressive JPEG, far less
// for a JPEG that shrinks on load.
func TestCost(t *testing.T) {
	v := newTestVips(t)
	const mb = 1 << 20
	jpg := encodeJPEG(t, noiseImage(4000, 3000, 3))
	progressive, err := bimg.NewImage(jpg).Process(bimg.Options{Type: bimg.JPEG, Interlace: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     []byte
		min, max int64
	}{
		{"png rgba16 7071", pngHeader(7071, 7071, 16, 6, 0), 100 * mb, 102 * mb},
		{"png rgba16 7071 interlaced", pngHeader(7071, 7071, 16, 6, 1), 570 * mb, 620 * mb},
		{"png rgb8 2000", pngHeader(2000, 2000, 8, 2, 0), 11 * mb, 13 * mb},
		{"jpeg 12MP shrunk on load", jpg, mb / 2, 3 * mb},
		{"jpeg 12MP progressive", progressive, 60 * mb, 90 * mb},
	}
	for _, tt := range tests {
		got, err := v.Cost(tt.data, Options{Width: 200, Height: 200, Format: PNG}) // no flattening: see TestCostOfFlattening
		if err != nil || got < tt.min || got > tt.max {
			t.Errorf("%s: Cost = %d MB, %v; want %d to %d MB", tt.name, got/mb, err, tt.min/mb, tt.max/mb)
		}
	}
}

// jpegOddSOS sets the successive approximation of the first scan header:
// libjpeg warns "Invalid SOS parameters for sequential JPEG" and decodes
// every pixel as before.
func jpegOddSOS(t *testing.T, jpg []byte) []byte {
	t.Helper()
	h, err := readJPEG(jpg)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(jpg)
	n := int(binary.BigEndian.Uint16(out[h.scan:]))
	out[h.scan+n-1] = 0x01 // Ah=0 Al=1
	return out
}

// jpegPadded puts bytes between the first two segments after SOI (libjpeg:
// "extraneous bytes before marker").
func jpegPadded(jpg []byte) []byte {
	at := 4 + int(binary.BigEndian.Uint16(jpg[4:6]))
	return append(append(bytes.Clone(jpg[:at]), 0, 0, 0, 0), jpg[at:]...)
}

// TestHarmlessFirstWarningHidesNoDamage: a JPEG cut in half is refused even
// when a harmless flaw before the cut draws libjpeg's first warning (found
// by review: the strict decode stops at the first warning).
func TestHarmlessFirstWarningHidesNoDamage(t *testing.T) {
	v := newTestVips(t)
	jpg := imagingtest.JPEG(imagingtest.Photo(600, 400))
	for name, flawed := range map[string][]byte{"odd scan header": jpegOddSOS(t, jpg), "padding": jpegPadded(jpg)} {
		cut := imagingtest.CutJPEG(flawed)
		// Refused either way: damaged, or (padding) by the header parser.
		if img, err := v.Thumbnail(context.Background(), cut, Options{Width: 120, Height: 80, Format: JPEG}); !errors.Is(err, ErrUnsupportedImage) {
			t.Errorf("%s, then cut: %dx%d, %v; want it refused", name, img.Width, img.Height, err)
		}
	}
}

// TestCostOfFlattening: a transparent image asked for as a JPEG is
// flattened at full size before it is resized, and Cost counts that (found
// by review: it assumed shrink-on-load).
func TestCostOfFlattening(t *testing.T) {
	v := newTestVips(t)
	webp := convert(t, encodePNG(t, transparentImage(4000, 3000)), bimg.WEBP)
	asJPEG, err := v.Cost(webp, Options{Width: 200, Height: 200, Format: JPEG})
	if err != nil {
		t.Fatal(err)
	}
	asWebP, err := v.Cost(webp, Options{Width: 200, Height: 200, Format: WebP})
	if err != nil {
		t.Fatal(err)
	}
	if full := int64(4000 * 3000 * 4); asJPEG < full+2*4000*3000*3 || asWebP > full/8 {
		t.Errorf("Cost as JPEG %d MB, as WebP %d MB; want the full decode and its flattened copy (%d MB and more) as JPEG, a shrunk decode as WebP",
			asJPEG>>20, asWebP>>20, (full+2*4000*3000*3)>>20)
	}
}

// TestMetadataWarningsCostNoSecondDecode: a warning about metadata (an EXIF
// resolution unit libvips does not know, as some wallpapers carry) says
// nothing of the pixels, so it must not cost a strict decode of the whole
// image, of this one or of another being made at the same moment (found by
// the miss-path benchmark: two such originals among thirteen cost 25% more
// CPU per thumbnail). A damaged image with such a warning is still refused.
func TestMetadataWarningsCostNoSecondDecode(t *testing.T) {
	v := newTestVips(t)
	jpg := imagingtest.EXIFResolutionUnit(imagingtest.JPEG(imagingtest.Photo(600, 400)), 4)
	before := strictDecodes.Load()
	img, err := v.Thumbnail(context.Background(), jpg, Options{Width: 120, Height: 80, Format: JPEG})
	if err != nil || img.Width != 120 {
		t.Fatalf("jpeg with an unknown EXIF resolution unit: %dx%d, %v; want 120x80", img.Width, img.Height, err)
	}
	if n := strictDecodes.Load() - before; n != 0 {
		t.Errorf("jpeg with an unknown EXIF resolution unit: %d strict decodes, want 0", n)
	}
	if _, err := v.Thumbnail(context.Background(), imagingtest.CutJPEG(jpg), Options{Width: 120, Height: 80, Format: JPEG}); !errors.Is(err, ErrDamagedImage) {
		t.Errorf("the same jpeg cut: %v, want %v", err, ErrDamagedImage)
	}
}

// TestWork: the work estimate grows with the original's pixels, with a
// progressive JPEG, and with a larger or costlier output.
func TestWork(t *testing.T) {
	v := newTestVips(t)
	small := encodeJPEG(t, noiseImage(800, 600, 1))
	large := encodeJPEG(t, noiseImage(2400, 1800, 1))
	prog := mustResize(t, large, bimg.Options{Type: bimg.JPEG, Quality: 90, Interlace: true, NoAutoRotate: true})
	work := func(data []byte, o Options) time.Duration {
		t.Helper()
		w, err := v.Work(data, o)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	thumb := Options{Width: 200, Height: 200, Format: JPEG}
	ws, wl, wp := work(small, thumb), work(large, thumb), work(prog, thumb)
	if !(ws < wl && wl < wp) {
		t.Errorf("work small %v, large %v, progressive large %v: want increasing", ws, wl, wp)
	}
	if wide := work(large, Options{Width: 1024, Format: JPEG}); wide <= wl {
		t.Errorf("work of 1024 wide %v, of 200x200 %v: want more", wide, wl)
	}
	if avif := work(large, Options{Width: 200, Height: 200, Format: AVIF}); avif <= wl {
		t.Errorf("work of AVIF %v, of JPEG %v: want more", avif, wl)
	}
	if _, err := v.Work([]byte("not an image"), thumb); !errors.Is(err, ErrUnsupportedImage) {
		t.Errorf("Work of garbage = %v, want ErrUnsupportedImage", err)
	}
}
