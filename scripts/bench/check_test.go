package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"testing"
)

// plainJPEG encodes a w×h JPEG with Go's encoder, which writes no APPn or
// COM segment.
func plainJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// segment is a JPEG marker segment with its length field.
func segment(marker byte, body string) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(2+len(body)))
	return append(s, body...)
}

// withSegments inserts segments right after SOI.
func withSegments(j []byte, segs ...[]byte) []byte {
	out := append([]byte{}, j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

func TestInspectJPEG(t *testing.T) {
	base := plainJPEG(t, 40, 30)
	jfif := segment(0xE0, "JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	exif := segment(0xE1, "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPS-ish")
	icc := segment(0xE2, "ICC_PROFILE\x00\x01\x01profile")
	iptc := segment(0xED, "Photoshop 3.0\x00")
	com := segment(0xFE, "made by a camera")
	jfxx := segment(0xE0, "JFXX\x00\x10thumb")
	adobe := segment(0xEE, "Adobe\x00\x64\x00\x00\x00\x00\x01")
	tests := []struct {
		name  string
		data  []byte
		meta  int
		kinds string
	}{
		{"plain", base, 0, ""},
		{"JFIF APP0 is not metadata", withSegments(base, jfif), 0, ""},
		{"Adobe APP14 is not metadata", withSegments(base, adobe), 0, ""},
		{"EXIF", withSegments(base, jfif, exif), len(exif), "APP1"},
		{"all kinds", withSegments(base, jfif, exif, icc, iptc, com, jfxx), len(exif) + len(icc) + len(iptc) + len(com) + len(jfxx), "APP1,APP2,APP13,COM,APP0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := inspect(tt.data, "jpeg")
			if err != nil {
				t.Fatal(err)
			}
			if in.width != 40 || in.height != 30 {
				t.Errorf("size %dx%d, want 40x30", in.width, in.height)
			}
			if in.metaBytes != int64(tt.meta) || in.metaKinds != tt.kinds {
				t.Errorf("metadata %d bytes %q, want %d %q", in.metaBytes, in.metaKinds, tt.meta, tt.kinds)
			}
		})
	}
}

func TestInspectJPEGRejects(t *testing.T) {
	base := plainJPEG(t, 8, 8)
	bad := map[string][]byte{
		"empty":         nil,
		"not JPEG":      []byte("GIF89a......"),
		"truncated":     base[:len(base)/2],
		"no EOI":        base[:len(base)-2],
		"bad length":    withSegments(base, []byte{0xFF, 0xE1, 0xFF, 0xF0, 'x'}),
		"garbage after": withSegments(base, []byte{0x00, 0x01}),
	}
	for name, data := range bad {
		if _, err := inspect(data, "jpeg"); err == nil {
			t.Errorf("%s: inspect succeeded", name)
		}
	}
}

// chunk is a RIFF chunk, padded to an even size.
func chunk(fourcc string, body []byte) []byte {
	c := append([]byte(fourcc), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(body)))
	c = append(c, body...)
	if len(body)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func riff(chunks ...[]byte) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c...)
	}
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(4+len(body)))
	out = append(out, "WEBP"...)
	return append(out, body...)
}

// vp8 is a lossy frame header of w×h followed by a few payload bytes.
func vp8(w, h int) []byte {
	b := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 1, 2, 3}
	binary.LittleEndian.PutUint16(b[6:], uint16(w))
	binary.LittleEndian.PutUint16(b[8:], uint16(h))
	return b
}

// vp8l is a lossless header of w×h.
func vp8l(w, h int) []byte {
	b := []byte{0x2f, 0, 0, 0, 0, 9}
	binary.LittleEndian.PutUint32(b[1:], uint32(w-1)|uint32(h-1)<<14)
	return b
}

// vp8x is an extended header with canvas w×h.
func vp8x(w, h int) []byte {
	b := make([]byte, 10)
	b[0] = 0x08 // EXIF flag
	b[4], b[5], b[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	b[7], b[8], b[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return b
}

func TestInspectWebP(t *testing.T) {
	exif := chunk("EXIF", []byte("MM\x00\x2a\x00\x00\x00\x08GPS"))
	xmp := chunk("XMP ", []byte("<x:xmpmeta/>"))
	iccp := chunk("ICCP", []byte("profile!"))
	tests := []struct {
		name          string
		data          []byte
		width, height int
		meta          int
		kinds         string
	}{
		{"lossy", riff(chunk("VP8 ", vp8(200, 133))), 200, 133, 0, ""},
		{"lossless", riff(chunk("VP8L", vp8l(1024, 576))), 1024, 576, 0, ""},
		{"extended with alpha", riff(chunk("VP8X", vp8x(300, 200)), chunk("ALPH", []byte{1, 2, 3}), chunk("VP8 ", vp8(300, 200))), 300, 200, 0, ""},
		{"EXIF leak", riff(chunk("VP8X", vp8x(200, 200)), chunk("VP8 ", vp8(200, 200)), exif), 200, 200, len(exif), "EXIF"},
		{"every metadata chunk", riff(chunk("VP8X", vp8x(200, 200)), iccp, chunk("VP8 ", vp8(200, 200)), exif, xmp), 200, 200, len(iccp) + len(exif) + len(xmp), "ICCP,EXIF,XMP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := inspect(tt.data, "webp")
			if err != nil {
				t.Fatal(err)
			}
			if in.width != tt.width || in.height != tt.height {
				t.Errorf("size %dx%d, want %dx%d", in.width, in.height, tt.width, tt.height)
			}
			if in.metaBytes != int64(tt.meta) || in.metaKinds != tt.kinds {
				t.Errorf("metadata %d bytes %q, want %d %q", in.metaBytes, in.metaKinds, tt.meta, tt.kinds)
			}
		})
	}
}

func TestInspectWebPRejects(t *testing.T) {
	good := riff(chunk("VP8 ", vp8(20, 10)))
	long := append([]byte{}, good...)
	binary.LittleEndian.PutUint32(long[16:], 9999) // chunk runs past the end
	bad := map[string][]byte{
		"empty":            nil,
		"JPEG":             plainJPEG(t, 4, 4),
		"truncated":        good[:len(good)-3],
		"RIFF size wrong":  append(append([]byte{}, good...), 0, 0),
		"chunk too long":   long,
		"no image chunk":   riff(chunk("EXIF", []byte("x"))),
		"bad VP8 start":    riff(chunk("VP8 ", []byte{0, 0, 0, 1, 2, 3, 0, 0, 0, 0})),
		"bad VP8L":         riff(chunk("VP8L", []byte{0x2e, 0, 0, 0, 0})),
		"short VP8X chunk": riff(chunk("VP8X", []byte{0, 0}), chunk("VP8 ", vp8(20, 10))),
	}
	for name, data := range bad {
		if _, err := inspect(data, "webp"); err == nil {
			t.Errorf("%s: inspect succeeded", name)
		}
	}
}
