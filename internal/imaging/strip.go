package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// VP8X feature flags.
const (
	vp8xICC   = 0x20
	vp8xAlpha = 0x10
	vp8xEXIF  = 0x08
	vp8xXMP   = 0x04
)

// stripWebP removes the ICCP, EXIF and XMP chunks from a WebP file and
// clears their flags in the VP8X header. libvips 8.14 writes EXIF and XMP
// into WebP even when asked to strip metadata.
func stripWebP(data []byte) ([]byte, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil, fmt.Errorf("strip WebP: not a WebP file")
	}
	chunks, err := riffChunks(data)
	if err != nil {
		return nil, fmt.Errorf("strip WebP: %w", err)
	}
	out := make([]byte, 12, len(data))
	copy(out, data[:12])
	for _, c := range chunks {
		switch c.id {
		case "ICCP", "EXIF", "XMP ":
			continue
		}
		start := len(out)
		out = append(out, data[c.off:c.end]...)
		if c.id == "VP8X" && len(c.data) > 0 {
			out[start+8] &^= vp8xICC | vp8xEXIF | vp8xXMP
		}
	}
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return out, nil
}

// pngPixelChunks are the chunks a thumbnail needs; every other chunk is
// metadata of some kind (libvips writes pHYs even when stripping).
var pngPixelChunks = map[string]bool{"IHDR": true, "PLTE": true, "tRNS": true, "IDAT": true, "IEND": true}

// stripPNG keeps only the chunks that make up the pixels.
func stripPNG(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return nil, fmt.Errorf("strip PNG: not a PNG file")
	}
	out := make([]byte, 0, len(data))
	out = append(out, pngSignature...)
	for i := len(pngSignature); ; {
		c, next, err := nextPNGChunk(data, i)
		if err != nil {
			return nil, fmt.Errorf("strip PNG: %w", err)
		}
		if pngPixelChunks[c.typ] {
			out = append(out, data[i:next]...)
		}
		if c.typ == "IEND" {
			return out, nil
		}
		i = next
	}
}
