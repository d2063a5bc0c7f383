package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// This file reads image headers in Go, without libvips: the format from the
// magic bytes (so that only the formats we mean to read ever reach an
// image decoder), the size (so that decompression bombs are refused before
// any pixel is decoded), the EXIF orientation and the colour model. It also
// checks that an image is complete, because libvips decodes a truncated JPEG
// or PNG with only a warning.

// colourModel is how an image's pixels are coded.
type colourModel int

const (
	modelRGB colourModel = iota
	modelGray
	modelCMYK
)

// header is what the first bytes of an image say.
type header struct {
	format Format
	// width and height as stored, before any EXIF orientation. For HEIF the
	// decoder applies the container's rotation (irot) itself; see
	// quarterTurns.
	width, height int
	// orientation is the EXIF orientation, 1 to 8 (1 when absent). Always 1
	// for HEIF: there the container's irot and imir govern and the decoder
	// applies them.
	orientation int
	// quarterTurns is set for HEIF when irot turns the image by 90 or 270
	// degrees: the decoder's output then has width and height swapped.
	quarterTurns bool
	model        colourModel
	// alpha is set when the image may have transparent pixels. It is not
	// set for HEIF and AVIF, whose alpha is a separate image.
	alpha bool
	// scan is, for JPEG, the offset of the first start-of-scan marker.
	scan int
	// bands and sampleBytes are what one decoded pixel takes: channels
	// and bytes per channel (0: not known, see decodedBytes).
	bands, sampleBytes int
	// wholeFrame is set when the decoder must hold the whole image at once
	// however little of it is needed: a progressive JPEG (its coefficients)
	// or an interlaced PNG.
	wholeFrame bool
	// huffmanProgressive is set for a progressive JPEG coded with Huffman
	// tables (SOF2), whose AC scans a decode shrunk by 8 can skip (see
	// eighthScans); sampling holds its components' sampling factors.
	huffmanProgressive bool
	sampling           [4]jpegSampling
}

// jpegSampling is a JPEG frame component's identifier and sampling factors.
type jpegSampling struct{ id, h, v byte }

// discThreshold is libvips' VIPS_DISC_THRESHOLD: an image that must be
// decoded whole (the formats that cannot shrink on load) and is larger
// than this is decoded into a temporary file, not into memory.
const discThreshold = 100 << 20

// decodedBytes estimates the memory libvips holds to decode the image for
// geometry g: the pixels it decodes (fewer when JPEG and WebP shrink on
// load; at most discThreshold of them in memory for the formats decoded
// whole), times the bytes a pixel takes, and for a whole-frame decoder
// (progressive JPEG, interlaced PNG) the whole image's worth on top; then
// the scaled image twice over (resize and encode). With flatten (a JPEG of
// an image with transparency, see render) the original is decoded whole,
// without shrinking, into an uncompressed image that is copied once.
func (h header) decodedBytes(g geometry, flatten bool) int64 {
	w, ht := int64(h.width), int64(h.height)
	bands, sample := int64(max(h.bands, 4)), int64(max(h.sampleBytes, 1))
	if h.bands > 0 {
		bands = int64(h.bands)
	}
	full := w * ht * bands * sample
	decoded := min(full, discThreshold)
	switch h.format {
	case JPEG, WebP:
		dw, _ := h.decodedSize()
		shrink := int64(1)
		for shrink < 8 && int64(dw)/(2*shrink) >= int64(g.scaledW) {
			shrink *= 2
		}
		if h.format == WebP {
			bands = 4
		}
		decoded = (w / shrink) * (ht / shrink) * bands
		if h.wholeFrame {
			decoded += w * ht * bands * 2 // 16-bit DCT coefficients
		}
	case PNG:
		if h.wholeFrame {
			decoded = full * 3 / 2 // the passes, then the image, in memory
		}
	case HEIF, AVIF:
		decoded = full * 5 / 2 // libheif's own planes, then libvips' image
	}
	if flatten {
		// Decoded whole (to a temporary file past discThreshold), then
		// flattened into an uncompressed image held twice, at most what
		// the bench measured of it.
		decoded = max(decoded, min(full, discThreshold)) + min(2*w*ht*3, 2*discThreshold)
	}
	return decoded + 2*int64(g.scaledW)*int64(g.scaledH)*4
}

// displaySize is the size of the image as the decoder hands it over, with
// EXIF orientation applied on top for formats where we apply it.
func (h header) displaySize() (w, h2 int) {
	if h.quarterTurns || swapsAxes(h.orientation) {
		return h.height, h.width
	}
	return h.width, h.height
}

// decodedSize is the size of the image as the decoder hands it over, before
// we apply the EXIF orientation.
func (h header) decodedSize() (w, h2 int) {
	if h.quarterTurns {
		return h.height, h.width
	}
	return h.width, h.height
}

// swapsAxes reports whether EXIF orientation o turns the image by a quarter.
func swapsAxes(o int) bool { return o >= 5 && o <= 8 }

// errTruncated and errCorrupt are the reasons wrapped with ErrUnsupportedImage.
var (
	errTruncated = errors.New("truncated")
	errCorrupt   = errors.New("corrupt header")
)

// unsupported wraps ErrUnsupportedImage with a reason.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupportedImage, fmt.Sprintf(format, args...))
}

// readHeader identifies data by its magic bytes and parses its header.
func readHeader(data []byte) (header, error) {
	if len(data) == 0 {
		return header{}, unsupported("empty input")
	}
	var (
		h   header
		err error
	)
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		h, err = readJPEG(data)
	case bytes.HasPrefix(data, pngSignature):
		h, err = readPNG(data)
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		h, err = readWebP(data)
	case bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a")):
		h, err = readGIF(data)
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		h, err = readHEIF(data)
	default:
		return header{}, unsupported("not a JPEG, PNG, WebP, AVIF, HEIF or GIF image (%s)", describe(data))
	}
	if err != nil {
		return header{}, err
	}
	if h.width <= 0 || h.height <= 0 {
		return header{}, unsupported("%s: no size in header", h.format)
	}
	if h.orientation == 0 {
		h.orientation = 1
	}
	return h, nil
}

// describe names what an input that is not one of our formats looks like,
// for the error message.
func describe(data []byte) string {
	head := data[:min(len(data), 512)]
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "a PDF document"
	case bytes.HasPrefix(trimmed, []byte("<")) && bytes.Contains(bytes.ToLower(head), []byte("<svg")):
		return "an SVG document"
	case bytes.HasPrefix(trimmed, []byte("<")):
		return "markup"
	case bytes.HasPrefix(head, []byte("II*\x00")) || bytes.HasPrefix(head, []byte("MM\x00*")):
		return "a TIFF image"
	case bytes.HasPrefix(head, []byte("BM")):
		return "perhaps a BMP image"
	}
	return fmt.Sprintf("starts with % x", data[:min(len(data), 8)])
}

// checkComplete returns an error when the image data ends early. libvips
// decodes what there is of a truncated JPEG or PNG and only warns; a
// thumbnail of half a photograph must not be made.
func checkComplete(h header, data []byte) error {
	switch h.format {
	case JPEG:
		// In entropy-coded data 0xFF is always followed by 0x00 or a
		// restart marker, so FF D9 after the first scan is the EOI.
		if bytes.LastIndex(data[h.scan:], []byte{0xFF, 0xD9}) < 0 {
			return unsupported("JPEG: %v: no end-of-image marker", errTruncated)
		}
	case PNG:
		return checkPNGComplete(data)
	case WebP:
		size := int64(binary.LittleEndian.Uint32(data[4:8]))
		if size+8 > int64(len(data)) {
			return unsupported("WebP: %v: RIFF says %d bytes, have %d", errTruncated, size+8, len(data))
		}
	// GIF: readGIF walks to the trailer.
	case HEIF, AVIF:
		// Every top-level box must be whole (the image data is in mdat).
		for i := 0; i < len(data); {
			_, next, err := nextBox(data, i)
			if err != nil {
				return err
			}
			i = next
		}
	}
	return nil
}

// --- JPEG ---

func readJPEG(data []byte) (header, error) {
	h := header{format: JPEG}
	i := 2
	sawSOF := false
	for {
		// Markers may be preceded by fill bytes 0xFF.
		if i >= len(data) {
			return header{}, unsupported("JPEG: %v before the first scan", errTruncated)
		}
		if data[i] != 0xFF {
			return header{}, unsupported("JPEG: %v: no marker at offset %d", errCorrupt, i)
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			return header{}, unsupported("JPEG: %v before the first scan", errTruncated)
		}
		marker := data[i]
		i++
		switch {
		case marker == 0xD8 || marker == 0xD9:
			return header{}, unsupported("JPEG: %v: marker %02X before the first scan", errCorrupt, marker)
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			continue // no length
		}
		if i+2 > len(data) {
			return header{}, unsupported("JPEG: %v in a segment header", errTruncated)
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 {
			return header{}, unsupported("JPEG: %v: segment length %d", errCorrupt, n)
		}
		if i+n > len(data) {
			return header{}, unsupported("JPEG: %v in segment %02X", errTruncated, marker)
		}
		seg := data[i+2 : i+n]
		switch marker {
		case 0xE1:
			if h.orientation == 0 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				h.orientation = exifOrientation(seg[6:])
			}
		case 0xC0, 0xC1, 0xC2, 0xC9, 0xCA:
			// Baseline, extended, progressive; Huffman or arithmetic.
			if sawSOF {
				return header{}, unsupported("JPEG: %v: two frame headers", errCorrupt)
			}
			if len(seg) < 6 {
				return header{}, unsupported("JPEG: %v: short frame header", errCorrupt)
			}
			sawSOF = true
			h.height = int(binary.BigEndian.Uint16(seg[1:3]))
			h.width = int(binary.BigEndian.Uint16(seg[3:5]))
			h.bands, h.sampleBytes = int(seg[5]), 1
			h.wholeFrame = marker == 0xC2 || marker == 0xCA
			h.huffmanProgressive = marker == 0xC2
			if len(seg) < 6+3*int(seg[5]) {
				return header{}, unsupported("JPEG: %v: short frame header", errCorrupt)
			}
			for c := range min(int(seg[5]), len(h.sampling)) {
				b := seg[6+3*c:]
				h.sampling[c] = jpegSampling{id: b[0], h: b[1] >> 4, v: b[1] & 15}
			}
			switch seg[5] {
			case 1:
				h.model = modelGray
			case 3:
				h.model = modelRGB
			case 4:
				h.model = modelCMYK
			default:
				return header{}, unsupported("JPEG: %d colour components", seg[5])
			}
		case 0xC3, 0xC5, 0xC6, 0xC7, 0xCB, 0xCD, 0xCE, 0xCF:
			return header{}, unsupported("JPEG: lossless or hierarchical coding (SOF%d)", marker-0xC0)
		case 0xDA:
			if !sawSOF {
				return header{}, unsupported("JPEG: %v: scan before frame header", errCorrupt)
			}
			h.scan = i
			return h, nil
		}
		i += n
	}
}

// --- PNG ---

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngChunk is one chunk: its type and its data.
type pngChunk struct {
	typ  string
	data []byte
}

// nextPNGChunk reads the chunk at offset i and returns it with the offset of
// the next one.
func nextPNGChunk(data []byte, i int) (pngChunk, int, error) {
	if i+8 > len(data) {
		return pngChunk{}, 0, unsupported("PNG: %v in a chunk header", errTruncated)
	}
	n := int64(binary.BigEndian.Uint32(data[i:]))
	if n > 1<<31-1 {
		return pngChunk{}, 0, unsupported("PNG: %v: chunk length %d", errCorrupt, n)
	}
	end := int64(i) + 12 + n // length, type, data, CRC
	if end > int64(len(data)) {
		return pngChunk{}, 0, unsupported("PNG: %v in chunk %q", errTruncated, data[i+4:i+8])
	}
	return pngChunk{typ: string(data[i+4 : i+8]), data: data[i+8 : i+8+int(n)]}, int(end), nil
}

func readPNG(data []byte) (header, error) {
	h := header{format: PNG}
	c, i, err := nextPNGChunk(data, len(pngSignature))
	if err != nil {
		return header{}, err
	}
	if c.typ != "IHDR" || len(c.data) != 13 {
		return header{}, unsupported("PNG: %v: first chunk is not IHDR", errCorrupt)
	}
	w, ht := binary.BigEndian.Uint32(c.data[0:4]), binary.BigEndian.Uint32(c.data[4:8])
	if w > 1<<31-1 || ht > 1<<31-1 {
		return header{}, unsupported("PNG: %v: size %dx%d", errCorrupt, w, ht)
	}
	h.width, h.height = int(w), int(ht)
	h.sampleBytes = 1
	if c.data[8] == 16 {
		h.sampleBytes = 2
	}
	h.wholeFrame = c.data[12] == 1 // Adam7
	switch colourType := c.data[9]; colourType {
	case 0, 4:
		h.model = modelGray
		h.alpha = colourType == 4
		h.bands = 1 + int(colourType/4)
	case 2, 3, 6:
		h.model = modelRGB
		h.alpha = colourType == 6
		h.bands = 3 + int(colourType/6)
	default:
		return header{}, unsupported("PNG: %v: colour type %d", errCorrupt, colourType)
	}
	// eXIf comes before the image data.
	for {
		c, i, err = nextPNGChunk(data, i)
		if err != nil {
			return header{}, err
		}
		switch c.typ {
		case "eXIf":
			h.orientation = exifOrientation(bytes.TrimPrefix(c.data, []byte("Exif\x00\x00")))
		case "tRNS":
			h.alpha = true
			if h.bands == 1 || h.bands == 3 {
				h.bands++ // decoded with an alpha channel
			}
		case "IDAT", "IEND":
			return h, nil
		}
	}
}

// checkPNGComplete walks the chunks up to IEND.
func checkPNGComplete(data []byte) error {
	i := len(pngSignature)
	for {
		c, next, err := nextPNGChunk(data, i)
		if err != nil {
			return err
		}
		if c.typ == "IEND" {
			return nil
		}
		i = next
	}
}

// --- WebP ---

// riffChunk is one chunk of a RIFF container.
type riffChunk struct {
	id   string
	data []byte
	// off and end delimit the whole chunk, header and padding included.
	off, end int
}

// riffChunks splits the body of a WebP RIFF container into chunks; it reads
// no further than the RIFF size says.
func riffChunks(data []byte) ([]riffChunk, error) {
	size := int64(binary.LittleEndian.Uint32(data[4:8])) + 8
	limit := min(int64(len(data)), size)
	var chunks []riffChunk
	for i := int64(12); i < limit; {
		if i+8 > limit {
			return nil, unsupported("WebP: %v in a chunk header", errTruncated)
		}
		n := int64(binary.LittleEndian.Uint32(data[i+4:]))
		end := i + 8 + n + n&1
		if i+8+n > limit {
			return nil, unsupported("WebP: %v in chunk %q", errTruncated, data[i:i+4])
		}
		chunks = append(chunks, riffChunk{
			id: string(data[i : i+4]), data: data[i+8 : i+8+n],
			off: int(i), end: int(min(end, limit)),
		})
		i = end
	}
	return chunks, nil
}

func readWebP(data []byte) (header, error) {
	h := header{format: WebP, model: modelRGB}
	chunks, err := riffChunks(data)
	if err != nil {
		return header{}, err
	}
	if len(chunks) == 0 {
		return header{}, unsupported("WebP: %v: no chunks", errTruncated)
	}
	first := chunks[0]
	switch first.id {
	case "VP8 ":
		h.width, h.height, err = vp8Size(first.data)
	case "VP8L":
		h.width, h.height, h.alpha, err = vp8lHeader(first.data)
	case "VP8X":
		if len(first.data) < 10 {
			return header{}, unsupported("WebP: %v: short VP8X chunk", errCorrupt)
		}
		d := first.data
		h.alpha = d[0]&vp8xAlpha != 0
		h.width = 1 + (int(d[4]) | int(d[5])<<8 | int(d[6])<<16)
		h.height = 1 + (int(d[7]) | int(d[8])<<8 | int(d[9])<<16)
		for _, c := range chunks[1:] {
			if c.id == "EXIF" {
				h.orientation = exifOrientation(bytes.TrimPrefix(c.data, []byte("Exif\x00\x00")))
			}
		}
	default:
		return header{}, unsupported("WebP: %v: first chunk %q", errCorrupt, first.id)
	}
	if err != nil {
		return header{}, err
	}
	return h, nil
}

// vp8Size reads a lossy key frame header.
func vp8Size(d []byte) (int, int, error) {
	if len(d) < 10 || d[0]&1 != 0 || !bytes.Equal(d[3:6], []byte{0x9D, 0x01, 0x2A}) {
		return 0, 0, unsupported("WebP: %v: bad VP8 frame header", errCorrupt)
	}
	w := int(binary.LittleEndian.Uint16(d[6:8]) & 0x3FFF)
	h := int(binary.LittleEndian.Uint16(d[8:10]) & 0x3FFF)
	return w, h, nil
}

// vp8lHeader reads a lossless header: size and whether alpha is used.
func vp8lHeader(d []byte) (int, int, bool, error) {
	if len(d) < 5 || d[0] != 0x2F {
		return 0, 0, false, unsupported("WebP: %v: bad VP8L header", errCorrupt)
	}
	bits := binary.LittleEndian.Uint32(d[1:5])
	return 1 + int(bits&0x3FFF), 1 + int(bits>>14&0x3FFF), bits>>28&1 == 1, nil
}

// --- GIF ---

// readGIF reads the screen size and walks every block to the trailer:
// each frame must lie within the screen (libvips' GIF decoder works on
// frames larger than the screen, a decompression bomb the screen size does
// not show), and a GIF without its trailer is truncated.
func readGIF(data []byte) (header, error) {
	if len(data) < 13 {
		return header{}, unsupported("GIF: %v in the screen descriptor", errTruncated)
	}
	h := header{
		format: GIF,
		width:  int(binary.LittleEndian.Uint16(data[6:8])),
		height: int(binary.LittleEndian.Uint16(data[8:10])),
		model:  modelRGB,
		alpha:  true, // a transparent colour can be set in any frame
	}
	i := 13 + gifColourTableSize(data[10])
	frames := 0
	for {
		if i >= len(data) {
			return header{}, unsupported("GIF: %v: no trailer", errTruncated)
		}
		switch data[i] {
		case 0x3B: // trailer
			if frames == 0 {
				return header{}, unsupported("GIF: %v: no image", errCorrupt)
			}
			return h, nil
		case 0x21: // extension: label, then sub-blocks
			next, err := skipGIFSubBlocks(data, i+2)
			if err != nil {
				return header{}, err
			}
			i = next
		case 0x2C: // image descriptor
			if i+10 > len(data) {
				return header{}, unsupported("GIF: %v in an image descriptor", errTruncated)
			}
			d := data[i+1 : i+10]
			left, top := int(binary.LittleEndian.Uint16(d[0:2])), int(binary.LittleEndian.Uint16(d[2:4]))
			w, ht := int(binary.LittleEndian.Uint16(d[4:6])), int(binary.LittleEndian.Uint16(d[6:8]))
			if w == 0 || ht == 0 || left+w > h.width || top+ht > h.height {
				return header{}, unsupported("GIF: frame of %dx%d at (%d,%d) outside the %dx%d screen", w, ht, left, top, h.width, h.height)
			}
			// Colour table, LZW code size, then the data sub-blocks.
			next, err := skipGIFSubBlocks(data, i+10+gifColourTableSize(d[8])+1)
			if err != nil {
				return header{}, err
			}
			i = next
			frames++
		default:
			return header{}, unsupported("GIF: %v: block %02X", errCorrupt, data[i])
		}
	}
}

// gifColourTableSize is the size of the colour table a GIF flags byte
// announces.
func gifColourTableSize(flags byte) int {
	if flags&0x80 == 0 {
		return 0
	}
	return 3 << (flags&7 + 1)
}

// skipGIFSubBlocks returns the offset after the sub-blocks starting at i.
func skipGIFSubBlocks(data []byte, i int) (int, error) {
	for {
		if i >= len(data) {
			return 0, unsupported("GIF: %v in a data block", errTruncated)
		}
		n := int(data[i])
		i += 1 + n
		if n == 0 {
			return i, nil
		}
	}
}
