// Package imagingtest makes damaged images for tests: originals whose
// headers are sound and whose pixel data is not, as a broken upload or a
// hostile user leaves them. Each is made from a whole image at test time.
package imagingtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Photo is a w×h image with detail everywhere (a damaged region shows).
func Photo(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) * 7), 255})
		}
	}
	return img
}

// JPEG encodes img at quality 90.
func JPEG(img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNG encodes img.
func PNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// CutJPEG is jpg cut in the middle of its image data with an end-of-image
// marker appended: it looks whole, and its bottom half is missing.
func CutJPEG(jpg []byte) []byte {
	return append(bytes.Clone(jpg[:len(jpg)/2]), 0xFF, 0xD9)
}

// TrailingJPEG is jpg with a few bytes of garbage after its end-of-image
// marker, as some uploaders leave: the image itself is whole.
func TrailingJPEG(jpg []byte) []byte {
	return append(bytes.Clone(jpg), 0x00, 0x13, 0x37, 0x0A)
}

// CutPNG is pngData with its image data cut in half and the file ended
// properly after it (a valid IEND): every chunk's checksum is right, the
// compressed stream is not whole.
func CutPNG(pngData []byte) []byte {
	var out bytes.Buffer
	out.Write(pngData[:8])
	var idat []byte
	for i := 8; i+12 <= len(pngData); {
		n := int(binary.BigEndian.Uint32(pngData[i:]))
		typ := string(pngData[i+4 : i+8])
		data := pngData[i+8 : i+8+n]
		switch typ {
		case "IDAT":
			idat = append(idat, data...)
		case "IEND":
		default:
			writeChunk(&out, typ, data)
		}
		i += 12 + n
	}
	writeChunk(&out, "IDAT", idat[:len(idat)/2])
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

// ShortPNG is a PNG whose header says w×h RGB pixels and whose image data
// is a hundred bytes.
func ShortPNG(w, h uint32) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	writeChunk(&out, "IHDR", ihdr)
	// The start of a real compressed stream of such rows, cut.
	var idat []byte
	full := PNG(Photo(int(w), 2))
	for i := 8; i+12 <= len(full); {
		n := int(binary.BigEndian.Uint32(full[i:]))
		if string(full[i+4:i+8]) == "IDAT" {
			idat = append(idat, full[i+8:i+8+n]...)
		}
		i += 12 + n
	}
	writeChunk(&out, "IDAT", idat[:min(100, len(idat))])
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	b.Write(n[:])
}

// HeaderPNG is a PNG whose header says w×h pixels of the given bit depth,
// colour type (2 RGB, 6 RGBA, ...) and interlace method, followed by a
// token of image data: what a decoder would be asked to hold, for tests
// that never decode it.
func HeaderPNG(w, h uint32, depth, colour, interlace byte) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9], ihdr[12] = depth, colour, interlace
	writeChunk(&out, "IHDR", ihdr)
	writeChunk(&out, "IDAT", []byte{0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01})
	writeChunk(&out, "IEND", nil)
	return out.Bytes()
}

// EXIFResolutionUnit returns jpg with an EXIF segment after its start that
// declares a resolution of 72 per unit in the given unit. EXIF knows units
// 1 (none), 2 (inch) and 3 (cm); libvips warns of any other ("unknown EXIF
// resolution unit") and decodes every pixel as before: a flaw in metadata,
// not damage.
func EXIFResolutionUnit(jpg []byte, unit uint16) []byte {
	le := binary.LittleEndian
	// A TIFF header and IFD0 of three entries (12 bytes each), then the two
	// rationals the resolution entries point at.
	const entries, ifd = 3, 8
	data := ifd + 2 + entries*12 + 4
	tiff := make([]byte, data+16)
	copy(tiff, "II*\x00")
	le.PutUint32(tiff[4:], ifd)
	le.PutUint16(tiff[ifd:], entries)
	entry := func(i int, tag, typ uint16, value uint32) {
		e := tiff[ifd+2+12*i:]
		le.PutUint16(e, tag)
		le.PutUint16(e[2:], typ)
		le.PutUint32(e[4:], 1) // count
		le.PutUint32(e[8:], value)
	}
	const rational, short = 5, 3
	entry(0, 0x011a, rational, uint32(data))   // XResolution
	entry(1, 0x011b, rational, uint32(data+8)) // YResolution
	entry(2, 0x0128, short, uint32(unit))      // ResolutionUnit (a SHORT sits in the value's first two bytes)
	for _, at := range []int{data, data + 8} {
		le.PutUint32(tiff[at:], 72)
		le.PutUint32(tiff[at+4:], 1)
	}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	var b bytes.Buffer
	b.Write(jpg[:2]) // SOI
	b.Write([]byte{0xff, 0xe1})
	_ = binary.Write(&b, binary.BigEndian, uint16(len(payload)+2))
	b.Write(payload)
	b.Write(jpg[2:])
	return b.Bytes()
}
