package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/h2non/bimg"
)

var outputFormats = []Format{JPEG, PNG, WebP, AVIF}

func TestNewValidatesConfig(t *testing.T) {
	bad := []Config{
		{MaxPixels: 0, Concurrency: 1},
		{MaxPixels: 1, Concurrency: 0},
		{MaxPixels: 1, Concurrency: 1, AVIFEffort: 10},
		{MaxPixels: 1, Concurrency: 1, AVIFEffort: -1},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	cfg := DefaultConfig()
	cfg.Concurrency = 2
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	if got := vipsConcurrency(); got != 2 {
		t.Errorf("libvips concurrency = %d, want 2", got)
	}
	if _, err := New(DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if got := vipsConcurrency(); got != 1 {
		t.Errorf("libvips concurrency = %d, want 1", got)
	}
}

func TestThumbnailSizes(t *testing.T) {
	v := newTestVips(t)
	landscape := encodeJPEG(t, quadrantImage(400, 300))
	inputs := map[Format][]byte{
		JPEG: landscape,
		PNG:  encodePNG(t, quadrantImage(400, 300)),
		WebP: convert(t, landscape, bimg.WEBP),
		AVIF: convert(t, landscape, bimg.AVIF),
		HEIF: convert(t, landscape, bimg.HEIF),
		GIF:  convert(t, landscape, bimg.GIF),
	}
	tests := []struct {
		name string
		opts Options
		w, h int
	}{
		{"inside", Options{Width: 100, Height: 100}, 100, 75},
		{"inside free height", Options{Width: 120}, 120, 90},
		{"inside free width", Options{Height: 60}, 80, 60},
		{"cover", Options{Width: 100, Height: 100, Fit: Cover}, 100, 100},
		{"cover tall", Options{Width: 50, Height: 150, Fit: Cover}, 50, 150},
		{"cover odd", Options{Width: 77, Height: 33, Fit: Cover}, 77, 33},
		{"no enlarge", Options{Width: 800, Height: 800}, 400, 300},
		{"no enlarge cover crops to aspect", Options{Width: 800, Height: 800, Fit: Cover}, 300, 300},
		{"enlarge", Options{Width: 800, Height: 800, Enlarge: true}, 800, 600},
		{"enlarge cover", Options{Width: 500, Height: 500, Fit: Cover, Enlarge: true}, 500, 500},
		{"same size", Options{Width: 400, Height: 300}, 400, 300},
		{"one pixel", Options{Width: 1, Height: 1, Fit: Cover}, 1, 1},
		{"odd sliver", Options{Width: 1, Height: 3, Fit: Cover}, 1, 3},
	}
	for in, data := range inputs {
		for _, out := range outputFormats {
			for _, tt := range tests {
				if out == AVIF && tt.w*tt.h > 100*100 {
					continue // AVIF encoding is slow; small sizes prove the geometry
				}
				t.Run(fmt.Sprintf("%s to %s %s", in, out, tt.name), func(t *testing.T) {
					opts := tt.opts
					opts.Format = out
					img, err := v.Thumbnail(context.Background(), data, opts)
					if err != nil {
						t.Fatal(err)
					}
					if img.Width != tt.w || img.Height != tt.h || img.Format != out {
						t.Fatalf("got %dx%d %s, want %dx%d %s", img.Width, img.Height, img.Format, tt.w, tt.h, out)
					}
					// Decoding proves the data and the dimensions.
					m := decode(t, img)
					// The centre of the top-left quarter is still red: the
					// crop is centred and nothing was mirrored. (A few
					// pixels are an average of everything.)
					if img.Width < 8 || img.Height < 8 {
						return
					}
					if c := m.At(img.Width/4, img.Height/4); !near(c, quadrantColours[0], 60) {
						r, g, b := rgb8(c)
						t.Errorf("top-left quarter is (%d,%d,%d), want red", r, g, b)
					}
				})
			}
		}
	}
}

// TestCoverSizesExact runs many boxes through both passes (plain and
// turned), because libvips rounds its reduce steps on its own.
func TestCoverSizesExact(t *testing.T) {
	v := newTestVips(t)
	display := quadrantImage(640, 427)
	inputs := map[string][]byte{
		"plain":  encodeJPEG(t, display),
		"turned": withMetadata(encodeJPEG(t, storedFor(display, 6)), 6),
		"png":    encodePNG(t, display),
	}
	for name, data := range inputs {
		for _, box := range [][2]int{{1, 1}, {2, 3}, {33, 17}, {64, 64}, {99, 101}, {200, 200}, {213, 142}, {300, 20}, {20, 300}, {427, 427}, {639, 426}} {
			for _, fit := range []Fit{Inside, Cover} {
				opts := Options{Width: box[0], Height: box[1], Fit: fit, Format: JPEG}
				img, err := v.Thumbnail(context.Background(), data, opts)
				if err != nil {
					t.Errorf("%s %+v: %v", name, opts, err)
					continue
				}
				g := planGeometry(640, 427, opts)
				if img.Width != g.outW || img.Height != g.outH {
					t.Errorf("%s %+v: got %dx%d, want %dx%d", name, opts, img.Width, img.Height, g.outW, g.outH)
				}
			}
		}
	}
}

func TestOrientation(t *testing.T) {
	v := newTestVips(t)
	display := quadrantImage(160, 100)
	for o := 1; o <= 8; o++ {
		stored := storedFor(display, o)
		jpg := withMetadata(encodeJPEG(t, stored), uint16(o))
		inputs := map[Format][]byte{
			JPEG: jpg,
			WebP: convert(t, jpg, bimg.WEBP), // libvips keeps the EXIF
			PNG:  convert(t, jpg, bimg.PNG),  // in an eXIf chunk
		}
		for in, data := range inputs {
			for _, fit := range []Fit{Inside, Cover} {
				t.Run(fmt.Sprintf("orientation %d %s fit %d", o, in, fit), func(t *testing.T) {
					h, err := readHeader(data)
					if err != nil {
						t.Fatal(err)
					}
					if h.orientation != o {
						t.Fatalf("header orientation %d, want %d", h.orientation, o)
					}
					img, err := v.Thumbnail(context.Background(), data, Options{Width: 80, Height: 80, Fit: fit, Format: JPEG})
					if err != nil {
						t.Fatal(err)
					}
					wantW, wantH := 80, 50
					if fit == Cover {
						wantH = 80
					}
					if img.Width != wantW || img.Height != wantH {
						t.Fatalf("got %dx%d, want %dx%d", img.Width, img.Height, wantW, wantH)
					}
					m := decode(t, img)
					for q, at := range []image.Point{{wantW / 4, wantH / 4}, {3 * wantW / 4, wantH / 4}, {wantW / 4, 3 * wantH / 4}, {3 * wantW / 4, 3 * wantH / 4}} {
						if c := m.At(at.X, at.Y); !near(c, quadrantColours[q], 60) {
							r, g, b := rgb8(c)
							t.Errorf("quarter %d is (%d,%d,%d), want %v", q, r, g, b, quadrantColours[q])
						}
					}
					md, err := bimg.Metadata(img.Data)
					if err != nil {
						t.Fatal(err)
					}
					if md.Orientation != 0 || md.EXIF.Orientation != 0 {
						t.Errorf("output still has orientation %d", md.Orientation)
					}
				})
			}
		}
	}
}

// TestMetadataStripped feeds a JPEG with EXIF (camera, GPS) and XMP, and
// the same as WebP, PNG and AVIF, and looks for any of it in every output
// format.
func TestMetadataStripped(t *testing.T) {
	v := newTestVips(t)
	jpg := withMetadata(encodeJPEG(t, quadrantImage(300, 200)), 1)
	md, err := bimg.Metadata(jpg)
	if err != nil {
		t.Fatal(err)
	}
	if md.EXIF.Make != testMake || md.EXIF.GPSLatitude == "" {
		t.Fatalf("test input lacks its metadata: make %q, GPS %q", md.EXIF.Make, md.EXIF.GPSLatitude)
	}
	inputs := map[Format][]byte{
		JPEG: jpg,
		WebP: convert(t, jpg, bimg.WEBP),
		PNG:  convert(t, jpg, bimg.PNG),
		AVIF: convert(t, jpg, bimg.AVIF),
	}
	forbidden := []string{testMake, testModel, testXMPValue, "Exif", "xmpmeta", "adobe:ns:meta", "http://ns.adobe.com", "eXIf", "iTXt", "zTXt", "tEXt", "iCCP", "ICCP", "ICC_PROFILE"}
	for in, data := range inputs {
		// The inputs must carry the metadata for the test to mean anything.
		if !bytes.Contains(data, []byte(testMake)) {
			t.Fatalf("%s input lost the camera make before the test", in)
		}
		for _, out := range outputFormats {
			t.Run(fmt.Sprintf("%s to %s", in, out), func(t *testing.T) {
				img, err := v.Thumbnail(context.Background(), data, Options{Width: 64, Height: 64, Format: out})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range forbidden {
					if bytes.Contains(img.Data, []byte(s)) {
						t.Errorf("output contains %q", s)
					}
				}
				md, err := bimg.Metadata(img.Data)
				if err != nil {
					t.Fatal(err)
				}
				if md.EXIF != (bimg.EXIF{}) {
					t.Errorf("output has EXIF: %+v", md.EXIF)
				}
				if md.Profile {
					t.Error("output has an ICC profile")
				}
				if md.Space != "srgb" {
					t.Errorf("output colour space %q, want srgb", md.Space)
				}
				assertNoMetadataContainers(t, img)
			})
		}
	}
}

// assertNoMetadataContainers looks at the structure of an output: JPEG
// segments, PNG chunks, WebP chunks and HEIF items may hold only pixels.
func assertNoMetadataContainers(t *testing.T, img Image) {
	t.Helper()
	switch img.Format {
	case JPEG:
		for i := 2; i+4 <= len(img.Data); {
			marker := img.Data[i+1]
			if marker == 0xDA {
				return
			}
			if marker >= 0xE1 && marker <= 0xEF || marker == 0xFE {
				t.Errorf("JPEG has segment %02X (APPn or comment)", marker)
			}
			i += 2 + int(img.Data[i+2])<<8 | int(img.Data[i+3])
		}
	case PNG:
		for i := len(pngSignature); ; {
			c, next, err := nextPNGChunk(img.Data, i)
			if err != nil {
				t.Fatal(err)
			}
			switch c.typ {
			case "IHDR", "PLTE", "tRNS", "IDAT", "IEND":
			default:
				t.Errorf("PNG has chunk %q", c.typ)
			}
			if c.typ == "IEND" {
				return
			}
			i = next
		}
	case WebP:
		chunks, err := riffChunks(img.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			switch c.id {
			case "VP8 ", "VP8L", "ALPH":
			case "VP8X":
				if c.data[0]&(vp8xICC|vp8xEXIF|vp8xXMP) != 0 {
					t.Errorf("VP8X announces metadata: flags %08b", c.data[0])
				}
			default:
				t.Errorf("WebP has chunk %q", c.id)
			}
		}
	case AVIF:
		// Metadata items are items of type "Exif" or "mime" (XMP).
		for _, s := range []string{"Exif", "mime", "application/rdf+xml"} {
			if bytes.Contains(img.Data, []byte(s)) {
				t.Errorf("AVIF has %q", s)
			}
		}
	}
}

func TestCMYKBecomesSRGB(t *testing.T) {
	v := newTestVips(t)
	// libvips writes a CMYK JPEG when asked for the CMYK interpretation;
	// stripped, it has no profile and libvips' default CMYK profile applies.
	src := quadrantImage(200, 200)
	cmyk, err := bimg.Resize(encodePNG(t, src), bimg.Options{Type: bimg.JPEG, Interpretation: bimg.InterpretationCMYK, StripMetadata: true, Quality: 95})
	if err != nil {
		t.Fatal(err)
	}
	h, err := readHeader(cmyk)
	if err != nil {
		t.Fatal(err)
	}
	if h.model != modelCMYK {
		t.Fatalf("test input is not CMYK (model %d)", h.model)
	}
	for _, out := range outputFormats {
		t.Run(string(out), func(t *testing.T) {
			img, err := v.Thumbnail(context.Background(), cmyk, Options{Width: 40, Height: 40, Format: out})
			if err != nil {
				t.Fatal(err)
			}
			md, err := bimg.Metadata(img.Data)
			if err != nil {
				t.Fatal(err)
			}
			if md.Space != "srgb" || md.Profile {
				t.Errorf("output space %q, profile %v; want srgb without profile", md.Space, md.Profile)
			}
			m := decode(t, img)
			// Through a CMYK profile colours shift; each quarter keeps its
			// dominant channel.
			for q, at := range []image.Point{{10, 10}, {30, 10}, {10, 30}} {
				r, g, b := rgb8(m.At(at.X, at.Y))
				ch := [3]int{r, g, b}
				if ch[q] < 120 || ch[q] < ch[(q+1)%3]+40 || ch[q] < ch[(q+2)%3]+40 {
					t.Errorf("quarter %d is (%d,%d,%d): channel %d should dominate", q, r, g, b, q)
				}
			}
			if r, g, b := rgb8(m.At(30, 30)); r < 180 || g < 180 || b < 180 {
				t.Errorf("white quarter is (%d,%d,%d)", r, g, b)
			}
		})
	}
}

// TestICCProfileConverted gives an image whose pixels are in Display P3
// with the P3 profile embedded: the output's pixels must be converted to
// sRGB (not just stripped of the profile, which would shift the colours).
func TestICCProfileConverted(t *testing.T) {
	v := newTestVips(t)
	want := color.RGBA{200, 120, 60, 255}
	src := uniformImage(64, 64, want)
	p3, err := bimg.Resize(encodePNG(t, src), bimg.Options{Type: bimg.PNG, InputICC: "srgb", OutputICC: "p3"})
	if err != nil {
		t.Fatal(err)
	}
	md, err := bimg.Metadata(p3)
	if err != nil {
		t.Fatal(err)
	}
	if !md.Profile {
		t.Fatal("P3 test input has no profile")
	}
	raw, _, err := image.Decode(bytes.NewReader(p3))
	if err != nil {
		t.Fatal(err)
	}
	if near(raw.At(5, 5), want, 8) {
		t.Fatal("P3 test input has sRGB pixel values; the test would prove nothing")
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"png", p3}, {"jpeg", convert(t, p3, bimg.JPEG)}, {"webp", convert(t, p3, bimg.WEBP)}} {
		t.Run(in.name, func(t *testing.T) {
			img, err := v.Thumbnail(context.Background(), in.data, Options{Width: 16, Height: 16, Format: PNG})
			if err != nil {
				t.Fatal(err)
			}
			if c := decode(t, img).At(8, 8); !near(c, want, 6) {
				r, g, b := rgb8(c)
				t.Errorf("pixel (%d,%d,%d), want about %v", r, g, b, want)
			}
		})
	}
}

func TestAlpha(t *testing.T) {
	v := newTestVips(t)
	// Left half opaque red, right half fully transparent (green underneath,
	// which must not show), a half-transparent blue band at the bottom.
	src := image.NewNRGBA(image.Rect(0, 0, 200, 100))
	for y := range 100 {
		for x := range 200 {
			c := color.NRGBA{255, 0, 0, 255}
			if x >= 100 {
				c = color.NRGBA{0, 255, 0, 0}
			}
			if y >= 80 {
				c = color.NRGBA{0, 0, 255, 128}
			}
			src.SetNRGBA(x, y, c)
		}
	}
	data := encodePNG(t, src)
	inputs := map[Format][]byte{
		PNG:  data,
		WebP: mustResize(t, data, bimg.Options{Type: bimg.WEBP, Lossless: true, NoAutoRotate: true}),
	}
	for in, data := range inputs {
		for _, bg := range []RGB{{255, 255, 255}, {0, 0, 0}, {10, 120, 250}} {
			t.Run(fmt.Sprintf("%s to jpeg on %v", in, bg), func(t *testing.T) {
				// 77 pixels wide: the edge falls inside an output pixel.
				// Quality 95: libvips then keeps full chroma, whose
				// subsampling would blur the colours at the edge.
				img, err := v.Thumbnail(context.Background(), data, Options{Width: 77, Height: 100, Format: JPEG, Quality: 95, Background: bg})
				if err != nil {
					t.Fatal(err)
				}
				m := decode(t, img)
				checks := []struct {
					at   image.Point
					want color.RGBA
				}{
					{image.Point{15, 15}, color.RGBA{255, 0, 0, 255}},
					{image.Point{60, 15}, color.RGBA{bg.R, bg.G, bg.B, 255}},
					{image.Point{60, 36}, color.RGBA{uint8((int(bg.R) * 127) / 255), uint8((int(bg.G) * 127) / 255), uint8((255*128 + int(bg.B)*127) / 255), 255}},
				}
				for _, c := range checks {
					if got := m.At(c.at.X, c.at.Y); !near(got, c.want, 12) {
						r, g, b := rgb8(got)
						t.Errorf("pixel %v is (%d,%d,%d), want %v", c.at, r, g, b, c.want)
					}
				}
				// The colour of transparent pixels (green) must not bleed into
				// the edge when resampling: above the blue band (which starts
				// at row 31) every pixel is a mix of red and the background.
				for y := range 28 {
					for x := range img.Width {
						if d := distanceToMix(m.At(x, y), color.RGBA{255, 0, 0, 255}, bg); d > 30 {
							r, g, b := rgb8(m.At(x, y))
							t.Fatalf("pixel (%d,%d) is (%d,%d,%d), %.0f from any mix of red and the background: the hidden green bleeds", x, y, r, g, b, d)
						}
					}
				}
			})
		}
	}
	for _, out := range []Format{PNG, WebP, AVIF} {
		t.Run(string(out)+" keeps alpha", func(t *testing.T) {
			img, err := v.Thumbnail(context.Background(), data, Options{Width: 100, Height: 100, Format: out, Background: RGB{255, 255, 255}})
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, img)
			if _, _, _, a := m.At(80, 20).RGBA(); a != 0 {
				t.Errorf("transparent pixel has alpha %d", a>>8)
			}
			if _, _, _, a := m.At(20, 20).RGBA(); a>>8 != 255 {
				t.Errorf("opaque pixel has alpha %d", a>>8)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	v := newTestVips(t)
	jpg := withMetadata(encodeJPEG(t, storedFor(quadrantImage(300, 200), 6)), 6)
	tests := []struct {
		name string
		data []byte
		want Info
	}{
		{"jpeg as stored", jpg, Info{Width: 200, Height: 300, Format: JPEG}},
		{"png", encodePNG(t, quadrantImage(31, 17)), Info{Width: 31, Height: 17, Format: PNG}},
		{"webp lossy", convert(t, jpg, bimg.WEBP), Info{Width: 200, Height: 300, Format: WebP}},
		{"webp lossless", mustResize(t, jpg, bimg.Options{Type: bimg.WEBP, Lossless: true, StripMetadata: true, NoAutoRotate: true}), Info{Width: 200, Height: 300, Format: WebP}},
		{"avif", convert(t, jpg, bimg.AVIF), Info{Width: 200, Height: 300, Format: AVIF}},
		{"heic", convert(t, jpg, bimg.HEIF), Info{Width: 200, Height: 300, Format: HEIF}},
		{"gif", convert(t, jpg, bimg.GIF), Info{Width: 200, Height: 300, Format: GIF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Probe(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Probe = %+v, want %+v", got, tt.want)
			}
			// libvips agrees.
			md, err := bimg.Metadata(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if md.Size.Width != got.Width || md.Size.Height != got.Height {
				t.Errorf("libvips says %dx%d", md.Size.Width, md.Size.Height)
			}
		})
	}
}

func mustResize(t testing.TB, data []byte, o bimg.Options) []byte {
	t.Helper()
	out, err := bimg.Resize(data, o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOptionsRefused(t *testing.T) {
	v := newTestVips(t)
	data := encodeJPEG(t, quadrantImage(40, 40))
	bad := []Options{
		{Format: JPEG},
		{Width: -1, Height: 10, Format: JPEG},
		{Width: 10, Height: MaxDimension + 1, Format: JPEG},
		{Width: 10, Format: "gif"},
		{Width: 10, Format: "heif"},
		{Width: 10},
		{Width: 10, Format: JPEG, Quality: 101},
		{Width: 10, Format: JPEG, Fit: Fit(7)},
		{Width: 10, Height: 10, Format: JPEG, Fit: Cover, Focus: Focus(7)},
	}
	for _, o := range bad {
		if _, err := v.Thumbnail(context.Background(), data, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Thumbnail(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}

func TestContextCancelled(t *testing.T) {
	v := newTestVips(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Thumbnail(ctx, encodeJPEG(t, quadrantImage(40, 40)), Options{Width: 10, Format: JPEG})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestQuality(t *testing.T) {
	v := newTestVips(t)
	data := encodeJPEG(t, noiseImage(300, 300, 1))
	for _, f := range []Format{JPEG, WebP, AVIF} {
		low, err := v.Thumbnail(context.Background(), data, Options{Width: 200, Format: f, Quality: 20})
		if err != nil {
			t.Fatal(err)
		}
		high, err := v.Thumbnail(context.Background(), data, Options{Width: 200, Format: f, Quality: 95})
		if err != nil {
			t.Fatal(err)
		}
		if len(low.Data) >= len(high.Data) {
			t.Errorf("%s: quality 20 gives %d bytes, quality 95 %d", f, len(low.Data), len(high.Data))
		}
	}
}

// distanceToMix is how far c is from the nearest mix of a and b.
func distanceToMix(c color.Color, a color.RGBA, b RGB) float64 {
	r, g, bl := rgb8(c)
	p := [3]float64{float64(r), float64(g), float64(bl)}
	from := [3]float64{float64(b.R), float64(b.G), float64(b.B)}
	dir := [3]float64{float64(a.R) - from[0], float64(a.G) - from[1], float64(a.B) - from[2]}
	var dot, norm float64
	for i := range 3 {
		dot += (p[i] - from[i]) * dir[i]
		norm += dir[i] * dir[i]
	}
	alpha := min(1, max(0, dot/norm))
	var d float64
	for i := range 3 {
		e := p[i] - (from[i] + alpha*dir[i])
		d += e * e
	}
	return math.Sqrt(d)
}

// TestColourModels runs grey, palette, 16-bit and grey-with-alpha images
// through every output format: each comes out as sRGB with the right
// colours.
func TestColourModels(t *testing.T) {
	v := newTestVips(t)
	const w, h = 64, 48
	gray := image.NewGray(image.Rect(0, 0, w, h))
	grayAlpha := image.NewNRGBA(image.Rect(0, 0, w, h)) // written as grey+alpha below
	deep := image.NewRGBA64(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.RGBA{200, 40, 40, 255}, color.RGBA{40, 40, 200, 255}})
	for y := range h {
		for x := range w {
			gray.SetGray(x, y, color.Gray{Y: 90})
			grayAlpha.SetNRGBA(x, y, color.NRGBA{90, 90, 90, 255})
			deep.SetRGBA64(x, y, color.RGBA64{0xC800, 0x7800, 0x3C00, 0xFFFF})
			if x >= w/2 {
				pal.SetColorIndex(x, y, 1)
			}
		}
	}
	grayAlphaPNG := mustResize(t, encodePNG(t, grayAlpha), bimg.Options{Type: bimg.PNG, Interpretation: bimg.InterpretationBW})
	inputs := []struct {
		name  string
		data  []byte
		model colourModel
		at    image.Point
		want  color.RGBA
	}{
		{"grey jpeg", encodeJPEG(t, gray), modelGray, image.Point{8, 8}, color.RGBA{90, 90, 90, 255}},
		{"grey png", encodePNG(t, gray), modelGray, image.Point{8, 8}, color.RGBA{90, 90, 90, 255}},
		{"grey alpha png", grayAlphaPNG, modelGray, image.Point{8, 8}, color.RGBA{90, 90, 90, 255}},
		{"16-bit png", encodePNG(t, deep), modelRGB, image.Point{8, 8}, color.RGBA{200, 120, 60, 255}},
		{"palette png", encodePNG(t, pal), modelRGB, image.Point{4, 8}, color.RGBA{200, 40, 40, 255}},
	}
	for _, in := range inputs {
		hd, err := readHeader(in.data)
		if err != nil {
			t.Fatal(err)
		}
		if hd.model != in.model {
			t.Fatalf("%s: model %d, want %d", in.name, hd.model, in.model)
		}
		for _, out := range outputFormats {
			t.Run(in.name+" to "+string(out), func(t *testing.T) {
				img, err := v.Thumbnail(context.Background(), in.data, Options{Width: 32, Format: out, Quality: 95})
				if err != nil {
					t.Fatal(err)
				}
				if c := decode(t, img).At(in.at.X, in.at.Y); !near(c, in.want, 8) {
					r, g, b := rgb8(c)
					t.Errorf("pixel (%d,%d,%d), want %v", r, g, b, in.want)
				}
				md, err := bimg.Metadata(img.Data)
				if err != nil {
					t.Fatal(err)
				}
				if md.Space != "srgb" {
					t.Errorf("colour space %q, want srgb", md.Space)
				}
			})
		}
	}
}

// TestConcurrentUse makes different thumbnails from several goroutines at
// once; each must equal the same thumbnail made alone.
func TestConcurrentUse(t *testing.T) {
	v := newTestVips(t)
	jobs := []struct {
		data []byte
		opts Options
	}{
		{encodeJPEG(t, noiseImage(400, 300, 1)), Options{Width: 100, Height: 100, Fit: Cover, Format: JPEG}},
		{withMetadata(encodeJPEG(t, storedFor(quadrantImage(300, 200), 6)), 6), Options{Width: 80, Format: PNG}},
		{encodePNG(t, transparentImage(200, 100)), Options{Width: 50, Format: JPEG, Background: RGB{255, 255, 255}}},
		{convert(t, encodeJPEG(t, noiseImage(300, 300, 2)), bimg.WEBP), Options{Width: 60, Height: 90, Fit: Cover, Format: WebP}},
	}
	want := make([][]byte, len(jobs))
	for i, j := range jobs {
		img, err := v.Thumbnail(context.Background(), j.data, j.opts)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = img.Data
	}
	const rounds = 6
	errs := make(chan error, rounds*len(jobs))
	for r := range rounds {
		for i, j := range jobs {
			go func() {
				img, err := v.Thumbnail(context.Background(), j.data, j.opts)
				switch {
				case err != nil:
					errs <- err
				case !bytes.Equal(img.Data, want[i]):
					errs <- fmt.Errorf("round %d job %d: output differs from the one made alone", r, i)
				default:
					errs <- nil
				}
			}()
		}
	}
	for range rounds * len(jobs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// jpegICC returns the ICC profile in a JPEG's APP2 segments.
func jpegICC(t *testing.T, jpg []byte) []byte {
	t.Helper()
	var icc []byte
	for i := 2; i+4 <= len(jpg) && jpg[i] == 0xFF && jpg[i+1] != 0xDA; {
		n := int(jpg[i+2])<<8 | int(jpg[i+3])
		if seg := jpg[i+4 : i+2+n]; jpg[i+1] == 0xE2 && bytes.HasPrefix(seg, []byte("ICC_PROFILE\x00")) {
			icc = append(icc, seg[14:]...)
		}
		i += 2 + n
	}
	if len(icc) == 0 {
		t.Fatal("no ICC profile in the JPEG")
	}
	return icc
}

// TestSRGBProfileNotConverted: an sRGB profile (libvips' own) is known as
// such, and its image comes out as the same pixels; a Display P3 profile,
// a damaged one, or one whose colorants are moved are not sRGB.
func TestSRGBProfileNotConverted(t *testing.T) {
	v := newTestVips(t)
	want := color.RGBA{200, 120, 60, 255}
	src := uniformImage(64, 64, want)
	png := encodePNG(t, src)
	tagged := func(profile string) []byte {
		out, err := bimg.Resize(png, bimg.Options{Type: bimg.JPEG, Quality: 95, InputICC: "srgb", OutputICC: profile})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	srgb, p3 := tagged("srgb"), tagged("p3")
	if !isSRGBProfile(jpegICC(t, srgb)) {
		t.Error("libvips' sRGB profile is not seen as sRGB")
	}
	if isSRGBProfile(jpegICC(t, p3)) {
		t.Error("Display P3 is seen as sRGB")
	}
	icc := jpegICC(t, srgb)
	if isSRGBProfile(icc[:200]) || isSRGBProfile(nil) {
		t.Error("a truncated profile is seen as sRGB")
	}
	moved := bytes.Clone(icc)
	n := int(binary.BigEndian.Uint32(moved[128:]))
	for k := range n {
		if e := moved[132+12*k:]; string(e[:4]) == "gXYZ" {
			moved[int(binary.BigEndian.Uint32(e[4:]))+10]++ // green's X by 1/256
		}
	}
	if isSRGBProfile(moved) {
		t.Error("a profile with a colorant moved is seen as sRGB")
	}
	img, err := v.Thumbnail(context.Background(), srgb, Options{Width: 16, Height: 16, Format: PNG})
	if err != nil {
		t.Fatal(err)
	}
	if c := decode(t, img).At(8, 8); !near(c, want, 3) {
		r, g, b := rgb8(c)
		t.Errorf("pixel (%d,%d,%d), want about %v", r, g, b, want)
	}
}
