package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig reads JPEG headers
	"strings"
)

// inspection is what the benchmark learns from one thumbnail's bytes.
type inspection struct {
	width, height int
	metaBytes     int64  // bytes of metadata segments or chunks
	metaKinds     string // which ones, for the report; "" when none
}

// inspect checks that data is a complete image of format f and measures it.
func inspect(data []byte, f string) (inspection, error) {
	switch f {
	case "jpeg":
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return inspection{}, fmt.Errorf("decode JPEG header: %w", err)
		}
		if !bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
			return inspection{}, errors.New("JPEG does not end with EOI")
		}
		n, kinds, err := jpegMetadata(data)
		if err != nil {
			return inspection{}, err
		}
		return inspection{width: cfg.Width, height: cfg.Height, metaBytes: n, metaKinds: kinds}, nil
	case "webp":
		return inspectWebP(data)
	case "avif":
		return inspectAVIF(data)
	}
	return inspection{}, fmt.Errorf("cannot inspect format %q", f)
}

// jpegMetadata counts the bytes of the metadata segments before the first
// scan: APP1-APP15 (EXIF, XMP, ICC, IPTC, ...) and COM, markers and lengths
// included. A JFIF APP0 is the file format's own header, not metadata; an
// APP0 JFXX (an embedded thumbnail) is. An Adobe APP14 carries the colour
// transform the decoder needs and is not counted either.
func jpegMetadata(data []byte) (int64, string, error) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0, "", errors.New("JPEG does not start with SOI")
	}
	var n int64
	var kinds []byte
	for i := 2; ; {
		if i+4 > len(data) {
			return 0, "", errors.New("JPEG ends before its first scan")
		}
		if data[i] != 0xFF {
			return 0, "", fmt.Errorf("JPEG: no marker at offset %d", i)
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xDA { // start of scan: no metadata after this point matters
			break
		}
		size := int(binary.BigEndian.Uint16(data[i+2:]))
		if size < 2 || i+2+size > len(data) {
			return 0, "", fmt.Errorf("JPEG: segment %#x at offset %d has bad length %d", marker, i, size)
		}
		body := data[i+4 : i+2+size]
		name := ""
		switch {
		case marker == 0xE0 && bytes.HasPrefix(body, []byte("JFIF\x00")):
		case marker == 0xEE && bytes.HasPrefix(body, []byte("Adobe")):
		case marker >= 0xE0 && marker <= 0xEF:
			name = fmt.Sprintf("APP%d", marker-0xE0)
		case marker == 0xFE:
			name = "COM"
		}
		if name != "" {
			n += int64(size + 2)
			if len(kinds) > 0 {
				kinds = append(kinds, ',')
			}
			kinds = append(kinds, name...)
		}
		i += 2 + size
	}
	return n, string(kinds), nil
}

// inspectWebP walks a WebP file's RIFF chunks: it reads the canvas size
// from VP8X, VP8 or VP8L and counts the bytes of ICCP, EXIF, XMP and any
// unknown chunks as metadata (chunk headers and padding included).
func inspectWebP(data []byte) (inspection, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return inspection{}, errors.New("not a RIFF WEBP file")
	}
	if riff := int(binary.LittleEndian.Uint32(data[4:])); riff+8 != len(data) {
		return inspection{}, fmt.Errorf("WebP: RIFF size %d does not match the %d bytes received", riff+8, len(data))
	}
	var in inspection
	var kinds []byte
	sized := false
	for i := 12; i < len(data); {
		if i+8 > len(data) {
			return inspection{}, fmt.Errorf("WebP: truncated chunk header at offset %d", i)
		}
		fourcc := string(data[i : i+4])
		size := int(binary.LittleEndian.Uint32(data[i+4:]))
		end := min(i+8+size+size&1, len(data))
		if size < 0 || i+8+size > len(data) {
			return inspection{}, fmt.Errorf("WebP: chunk %q at offset %d runs past the end", fourcc, i)
		}
		body := data[i+8 : i+8+size]
		switch fourcc {
		case "VP8X":
			if len(body) < 10 {
				return inspection{}, errors.New("WebP: short VP8X chunk")
			}
			in.width = 1 + int(uint32(body[4])|uint32(body[5])<<8|uint32(body[6])<<16)
			in.height = 1 + int(uint32(body[7])|uint32(body[8])<<8|uint32(body[9])<<16)
			sized = true
		case "VP8 ":
			if len(body) < 10 || body[3] != 0x9d || body[4] != 0x01 || body[5] != 0x2a {
				return inspection{}, errors.New("WebP: bad VP8 frame header")
			}
			if !sized {
				in.width = int(binary.LittleEndian.Uint16(body[6:]) & 0x3fff)
				in.height = int(binary.LittleEndian.Uint16(body[8:]) & 0x3fff)
				sized = true
			}
		case "VP8L":
			if len(body) < 5 || body[0] != 0x2f {
				return inspection{}, errors.New("WebP: bad VP8L header")
			}
			if !sized {
				bits := binary.LittleEndian.Uint32(body[1:])
				in.width = 1 + int(bits&0x3fff)
				in.height = 1 + int(bits>>14&0x3fff)
				sized = true
			}
		case "ALPH", "ANIM", "ANMF":
		default: // ICCP, EXIF, "XMP " and anything unknown
			in.metaBytes += int64(end - i)
			if len(kinds) > 0 {
				kinds = append(kinds, ',')
			}
			kinds = append(kinds, bytes.TrimSpace([]byte(fourcc))...)
		}
		i = end
	}
	if !sized {
		return inspection{}, errors.New("WebP: no image chunk")
	}
	in.metaKinds = string(kinds)
	return in, nil
}

// inspectAVIF reads an AVIF's size from its first ispe box and counts
// its metadata: the bytes of Exif and XMP (mime) items, found by their
// item types in the iinf box.
func inspectAVIF(data []byte) (inspection, error) {
	if len(data) < 12 || string(data[4:8]) != "ftyp" || !bytes.Contains(data[8:min(len(data), 64)], []byte("avif")) {
		return inspection{}, errors.New("not an AVIF file")
	}
	i := bytes.Index(data, []byte("ispe"))
	if i < 4 || i+16 > len(data) {
		return inspection{}, errors.New("AVIF: no ispe box")
	}
	w, h := binary.BigEndian.Uint32(data[i+8:]), binary.BigEndian.Uint32(data[i+12:])
	var in inspection
	in.width, in.height = int(w), int(h)
	var kinds []string
	for _, k := range []string{"Exif", "mime"} {
		if bytes.Contains(data, []byte("infe")) && bytes.Contains(data, []byte(k)) {
			kinds = append(kinds, k)
			in.metaBytes++ // present; the size is not read
		}
	}
	in.metaKinds = strings.Join(kinds, ",")
	return in, nil
}
