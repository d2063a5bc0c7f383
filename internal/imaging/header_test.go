package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/h2non/bimg"
)

func TestExifOrientation(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	// block builds a TIFF block with one IFD0 entry.
	block := func(order binary.ByteOrder, tag, typ uint16, count uint32, value uint16) []byte {
		b := make([]byte, 8+2+12+4)
		if order == le {
			copy(b, "II")
		} else {
			copy(b, "MM")
		}
		order.PutUint16(b[2:], 42)
		order.PutUint32(b[4:], 8)
		order.PutUint16(b[8:], 1)
		order.PutUint16(b[10:], tag)
		order.PutUint16(b[12:], typ)
		order.PutUint32(b[14:], count)
		order.PutUint16(b[18:], value)
		return b
	}
	tests := []struct {
		name string
		tiff []byte
		want int
	}{
		{"little endian 6", block(le, 0x0112, 3, 1, 6), 6},
		{"big endian 8", block(be, 0x0112, 3, 1, 8), 8},
		{"every value", block(le, 0x0112, 3, 1, 3), 3},
		{"built by the tests", exifTIFF(5), 5},
		{"out of range", block(le, 0x0112, 3, 1, 9), 1},
		{"zero", block(le, 0x0112, 3, 1, 0), 1},
		{"wrong type", block(le, 0x0112, 4, 1, 6), 1},
		{"no count", block(le, 0x0112, 3, 0, 6), 1},
		{"other tag", block(le, 0x0110, 3, 1, 6), 1},
		{"bad magic", append([]byte("IX"), block(le, 0x0112, 3, 1, 6)[2:]...), 1},
		{"not 42", func() []byte { b := block(le, 0x0112, 3, 1, 6); b[2] = 43; return b }(), 1},
		{"IFD beyond end", func() []byte { b := block(le, 0x0112, 3, 1, 6); le.PutUint32(b[4:], 4000); return b }(), 1},
		{"IFD offset into header", func() []byte { b := block(le, 0x0112, 3, 1, 6); le.PutUint32(b[4:], 2); return b }(), 1},
		{"entry count too large", func() []byte { b := block(le, 0x0112, 3, 1, 6); le.PutUint16(b[8:], 500); b[10] = 0; return b }(), 1},
		{"short", []byte("II*\x00"), 1},
		{"empty", nil, 1},
	}
	for _, tt := range tests {
		if got := exifOrientation(tt.tiff); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestReadHeaderAgreesWithLibvips reads the header of images in every
// format and variant we make and compares with what libvips says.
func TestReadHeaderAgreesWithLibvips(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 301, 257))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	paletted := image.NewPaletted(image.Rect(0, 0, 260, 3), color.Palette{color.Black, color.White})
	big := noiseImage(1000, 700, 3) // VP8X sizes above 256 use all three bytes
	bigJPEG := encodeJPEG(t, big)
	withExif := withMetadata(bigJPEG, 6)
	cmyk := mustResize(t, bigJPEG, bimg.Options{Type: bimg.JPEG, Interpretation: bimg.InterpretationCMYK})
	// AVIF, HEIC and GIF encoding is slow: a smaller one for those.
	mid := encodeJPEG(t, noiseImage(300, 260, 4))

	tests := []struct {
		name   string
		data   []byte
		format Format
		model  colourModel
		alpha  bool
		orient int
	}{
		{"jpeg", bigJPEG, JPEG, modelRGB, false, 1},
		{"jpeg exif", withExif, JPEG, modelRGB, false, 6},
		{"jpeg gray", encodeJPEG(t, gray), JPEG, modelGray, false, 1},
		{"jpeg cmyk", cmyk, JPEG, modelCMYK, false, 1},
		{"jpeg progressive", mustResize(t, bigJPEG, bimg.Options{Type: bimg.JPEG, Interlace: true}), JPEG, modelRGB, false, 1},
		{"png rgb", encodePNG(t, big), PNG, modelRGB, false, 1},
		{"png gray", encodePNG(t, gray), PNG, modelGray, false, 1},
		{"png palette", encodePNG(t, paletted), PNG, modelRGB, false, 1},
		{"png alpha", encodePNG(t, transparentImage(300, 20)), PNG, modelRGB, true, 1},
		{"png exif", convert(t, withExif, bimg.PNG), PNG, modelRGB, false, 6},
		{"webp lossy", mustResize(t, bigJPEG, bimg.Options{Type: bimg.WEBP, StripMetadata: true}), WebP, modelRGB, false, 1},
		{"webp lossy exif", convert(t, withExif, bimg.WEBP), WebP, modelRGB, false, 6},
		{"webp lossless", mustResize(t, bigJPEG, bimg.Options{Type: bimg.WEBP, Lossless: true, StripMetadata: true}), WebP, modelRGB, false, 1},
		{"webp lossless alpha", mustResize(t, encodePNG(t, transparentImage(300, 20)), bimg.Options{Type: bimg.WEBP, Lossless: true, StripMetadata: true}), WebP, modelRGB, true, 1},
		{"webp lossy alpha", mustResize(t, encodePNG(t, transparentImage(300, 20)), bimg.Options{Type: bimg.WEBP, StripMetadata: true}), WebP, modelRGB, true, 1},
		{"avif", convert(t, mid, bimg.AVIF), AVIF, modelRGB, false, 1},
		{"heic", convert(t, mid, bimg.HEIF), HEIF, modelRGB, false, 1},
		{"gif", convert(t, mid, bimg.GIF), GIF, modelRGB, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readHeader(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkComplete(h, tt.data); err != nil {
				t.Fatal(err)
			}
			if h.format != tt.format || h.model != tt.model || h.alpha != tt.alpha || h.orientation != tt.orient {
				t.Errorf("format %s model %d alpha %v orientation %d; want %s %d %v %d",
					h.format, h.model, h.alpha, h.orientation, tt.format, tt.model, tt.alpha, tt.orient)
			}
			md, err := bimg.Metadata(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if w, ht := h.decodedSize(); w != md.Size.Width || ht != md.Size.Height {
				t.Errorf("header says %dx%d, libvips %dx%d", w, ht, md.Size.Width, md.Size.Height)
			}
		})
	}
}

// withIrot adds an irot (rotation) property to the primary item of an AVIF
// or HEIC file made by libvips, the way cameras store portrait photographs:
// the pixels as shot, and a quarter turn for the viewer. The meta box grows,
// so the file offsets in iloc move with the image data.
func withIrot(t testing.TB, data []byte, quarters byte) []byte {
	t.Helper()
	box := func(typ string, payload []byte) []byte {
		b := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint32(b, uint32(8+len(payload)))
		copy(b[4:], typ)
		return append(b, payload...)
	}
	top, err := children(data)
	if err != nil {
		t.Fatal(err)
	}
	if top[1].typ != "meta" {
		t.Fatalf("second box is %q, want meta", top[1].typ)
	}
	metaKids, err := children(top[1].data[4:])
	if err != nil {
		t.Fatal(err)
	}
	const growth = 9 + 1 // the irot box, one association byte
	var meta []byte
	for _, k := range metaKids {
		switch k.typ {
		case "iprp":
			kids, err := children(k.data)
			if err != nil {
				t.Fatal(err)
			}
			var iprp []byte
			var props int
			for _, p := range kids {
				switch p.typ {
				case "ipco":
					ps, err := children(p.data)
					if err != nil {
						t.Fatal(err)
					}
					props = len(ps)
					iprp = append(iprp, box("ipco", append(bytes.Clone(p.data), box("irot", []byte{quarters})...))...)
				case "ipma":
					iprp = append(iprp, box("ipma", associateWith(t, p.data, primaryItem(t, metaKids), byte(props+1)))...)
				default:
					iprp = append(iprp, box(p.typ, p.data)...)
				}
			}
			meta = append(meta, box("iprp", iprp)...)
		case "iloc":
			meta = append(meta, box("iloc", shiftIloc(t, k.data, growth))...)
		default:
			meta = append(meta, box(k.typ, k.data)...)
		}
	}
	out := box(top[0].typ, top[0].data)
	out = append(out, box("meta", append(bytes.Clone(top[1].data[:4]), meta...))...)
	for _, b := range top[2:] {
		out = append(out, box(b.typ, b.data)...)
	}
	return out
}

// primaryItem returns the item ID in the pitm box (version 0).
func primaryItem(t testing.TB, metaKids []isoBox) uint16 {
	t.Helper()
	for _, k := range metaKids {
		if k.typ == "pitm" {
			return binary.BigEndian.Uint16(k.data[4:])
		}
	}
	t.Fatal("no pitm")
	return 0
}

// associateWith adds property index prop (essential) to item's entry in an
// ipma box of version 0 with 1-byte indices.
func associateWith(t testing.TB, ipma []byte, item uint16, prop byte) []byte {
	t.Helper()
	if ipma[0] != 0 || ipma[3]&1 != 0 {
		t.Fatalf("unexpected ipma % x", ipma)
	}
	out := bytes.Clone(ipma[:8])
	entries := int(binary.BigEndian.Uint32(ipma[4:]))
	d := ipma[8:]
	for range entries {
		n := int(d[2])
		entry := bytes.Clone(d[:3+n])
		if binary.BigEndian.Uint16(d) == item {
			entry[2]++
			entry = append(entry, 0x80|prop)
		}
		out = append(out, entry...)
		d = d[3+n:]
	}
	return out
}

// shiftIloc adds delta to the file offsets of an iloc box (versions 0 and
// 1, offsets in the base offset or the extents).
func shiftIloc(t testing.TB, d []byte, delta uint64) []byte {
	t.Helper()
	d = bytes.Clone(d)
	version := d[0]
	offSize, lenSize, baseSize := int(d[4]>>4), int(d[4]&15), int(d[5]>>4)
	idxSize := 0
	if version == 1 {
		idxSize = int(d[5] & 15)
	}
	read := func(at, size int) uint64 {
		var v uint64
		for i := range size {
			v = v<<8 | uint64(d[at+i])
		}
		return v
	}
	write := func(at, size int, v uint64) {
		for i := size - 1; i >= 0; i-- {
			d[at+i] = byte(v)
			v >>= 8
		}
	}
	if version > 1 {
		t.Fatalf("iloc version %d", version)
	}
	items := int(binary.BigEndian.Uint16(d[6:]))
	at := 8
	for range items {
		at += 2 // item ID
		if version == 1 {
			at += 2 // construction method
		}
		at += 2 // data reference index
		base := at
		at += baseSize
		extents := int(binary.BigEndian.Uint16(d[at:]))
		at += 2
		if baseSize > 0 {
			write(base, baseSize, read(base, baseSize)+delta)
		}
		for range extents {
			at += idxSize
			if baseSize == 0 {
				write(at, offSize, read(at, offSize)+delta)
			}
			at += offSize + lenSize
		}
	}
	return d
}

// TestHEIFRotation gives AVIF and HEIC files with a quarter turn in their
// container: libheif applies it, so the header must report the turned
// size, and the thumbnail must come out turned and of the right size.
func TestHEIFRotation(t *testing.T) {
	v := newTestVips(t)
	stored := quadrantImage(160, 100)
	jpg := encodeJPEG(t, stored)
	for _, typ := range []bimg.ImageType{bimg.AVIF, bimg.HEIF} {
		t.Run(bimg.ImageTypeName(typ), func(t *testing.T) {
			data := withIrot(t, mustResize(t, jpg, bimg.Options{Type: typ, StripMetadata: true, Quality: 90, Speed: 8}), 1)
			h, err := readHeader(data)
			if err != nil {
				t.Fatal(err)
			}
			if !h.quarterTurns {
				t.Fatal("irot not seen")
			}
			md, err := bimg.Metadata(data)
			if err != nil {
				t.Fatal(err)
			}
			if w, ht := h.displaySize(); w != 100 || ht != 160 || md.Size.Width != 100 || md.Size.Height != 160 {
				t.Fatalf("header shows %dx%d, libvips %dx%d; want 100x160", w, ht, md.Size.Width, md.Size.Height)
			}
			img, err := v.Thumbnail(context.Background(), data, Options{Width: 50, Height: 50, Format: PNG})
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != 31 || img.Height != 50 {
				t.Fatalf("got %dx%d, want 31x50", img.Width, img.Height)
			}
			// irot 1 is a quarter turn anticlockwise: the top-right
			// quarter (green) comes to the top left.
			m := decode(t, img)
			want := []color.RGBA{quadrantColours[1], quadrantColours[3], quadrantColours[0], quadrantColours[2]}
			for q, at := range []image.Point{{7, 12}, {23, 12}, {7, 37}, {23, 37}} {
				if c := m.At(at.X, at.Y); !near(c, want[q], 60) {
					r, g, b := rgb8(c)
					t.Errorf("quarter %d is (%d,%d,%d), want %v", q, r, g, b, want[q])
				}
			}
		})
	}
}

func TestStripWebPKeepsPixels(t *testing.T) {
	src := transparentImage(40, 30)
	webp := convert(t, withMetadata(encodeJPEG(t, src), 1), bimg.WEBP)
	alpha := mustResize(t, encodePNG(t, src), bimg.Options{Type: bimg.WEBP, Quality: 90})
	for name, data := range map[string][]byte{"exif": webp, "alpha": alpha} {
		out, err := stripWebP(data)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte(testMake)) || bytes.Contains(out, []byte("EXIF")) {
			t.Errorf("%s: metadata left", name)
		}
		before, err := bimg.Resize(data, bimg.Options{Type: bimg.PNG, StripMetadata: true, NoAutoRotate: true})
		if err != nil {
			t.Fatal(err)
		}
		after, err := bimg.Resize(out, bimg.Options{Type: bimg.PNG, StripMetadata: true, NoAutoRotate: true})
		if err != nil {
			t.Fatalf("%s: stripped WebP does not decode: %v", name, err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("%s: pixels changed", name)
		}
	}
	if _, err := stripWebP([]byte("RIFF\x00\x00\x00\x00WEBX")); err == nil {
		t.Error("stripped a non-WebP")
	}
}

func FuzzReadHeader(f *testing.F) {
	for _, seed := range headerSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readHeader(data)
		if err != nil {
			return
		}
		if h.width <= 0 || h.height <= 0 || h.orientation < 1 || h.orientation > 8 {
			t.Fatalf("bad header %+v", h)
		}
		_ = checkComplete(h, data)
		_ = fmt.Sprint(h.displaySize())
	})
}

// headerSeeds are small images of every format, whole and cut.
func headerSeeds(t testing.TB) [][]byte {
	small := quadrantImage(20, 12)
	jpg := withMetadata(encodeJPEG(t, small), 6)
	seeds := [][]byte{
		jpg,
		encodePNG(t, small),
		encodePNG(t, transparentImage(9, 5)),
		convert(t, jpg, bimg.PNG),
		convert(t, jpg, bimg.WEBP),
		mustResize(t, jpg, bimg.Options{Type: bimg.WEBP, Lossless: true}),
		convert(t, jpg, bimg.AVIF),
		withIrot(t, convert(t, encodeJPEG(t, small), bimg.HEIF), 3),
		convert(t, jpg, bimg.GIF),
		pngWithSize(100000, 100000),
	}
	for _, s := range seeds[:len(seeds)-1] {
		seeds = append(seeds, s[:len(s)/2])
	}
	return seeds
}
