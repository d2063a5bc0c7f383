package imaging

import (
	"encoding/binary"
	"slices"
)

// HEIF and AVIF are ISO base media files (ISO/IEC 14496-12 boxes). The
// size of the primary image is its ispe property, cropped by clap and turned
// by irot; libheif applies clap, irot and imir when it decodes.

// heifBrands are the major brands the engine (bimg) recognises.
var heifBrands = []string{"avif", "heic", "heis", "hevc", "mif1", "msf1"}

// isoBox is one box: its type and its payload.
type isoBox struct {
	typ  string
	data []byte
}

// nextBox reads the box at offset i of data and returns the offset after it.
func nextBox(data []byte, i int) (isoBox, int, error) {
	if i+8 > len(data) {
		return isoBox{}, 0, unsupported("HEIF: %v in a box header", errTruncated)
	}
	size := int64(binary.BigEndian.Uint32(data[i:]))
	typ := string(data[i+4 : i+8])
	hdr := int64(8)
	switch size {
	case 0: // to the end of the file
		size = int64(len(data) - i)
	case 1:
		if i+16 > len(data) {
			return isoBox{}, 0, unsupported("HEIF: %v in a box header", errTruncated)
		}
		large := binary.BigEndian.Uint64(data[i+8:])
		if large > uint64(len(data)) {
			return isoBox{}, 0, unsupported("HEIF: %v in box %q", errTruncated, typ)
		}
		size, hdr = int64(large), 16
	}
	if size < hdr {
		return isoBox{}, 0, unsupported("HEIF: %v: box %q of %d bytes", errCorrupt, typ, size)
	}
	end := int64(i) + size
	if end > int64(len(data)) {
		return isoBox{}, 0, unsupported("HEIF: %v in box %q", errTruncated, typ)
	}
	return isoBox{typ: typ, data: data[int64(i)+hdr : end]}, int(end), nil
}

// children splits a box payload into boxes.
func children(data []byte) ([]isoBox, error) {
	var boxes []isoBox
	for i := 0; i < len(data); {
		b, next, err := nextBox(data, i)
		if err != nil {
			return nil, err
		}
		boxes = append(boxes, b)
		i = next
	}
	return boxes, nil
}

// fullBoxBody skips the version and flags of a full box.
func fullBoxBody(b isoBox) (version byte, flags uint32, body []byte, ok bool) {
	if len(b.data) < 4 {
		return 0, 0, nil, false
	}
	return b.data[0], binary.BigEndian.Uint32(b.data[0:4]) & 0xFFFFFF, b.data[4:], true
}

func readHEIF(data []byte) (header, error) {
	ftyp, next, err := nextBox(data, 0)
	if err != nil {
		return header{}, err
	}
	if len(ftyp.data) < 8 {
		return header{}, unsupported("HEIF: %v: short ftyp box", errCorrupt)
	}
	major := string(ftyp.data[0:4])
	if !slices.Contains(heifBrands, major) {
		return header{}, unsupported("ISO media file of brand %q, not AVIF or HEIF", major)
	}
	h := header{format: HEIF, orientation: 1, model: modelRGB}
	if major == "avif" || hasBrand(ftyp.data[8:], "avif") {
		h.format = AVIF
	}
	var meta isoBox
	for i := next; i < len(data) && meta.typ == ""; {
		b, n, err := nextBox(data, i)
		if err != nil {
			return header{}, err
		}
		if b.typ == "meta" {
			meta = b
		}
		i = n
	}
	if meta.typ == "" {
		return header{}, unsupported("HEIF: %v: no meta box", errCorrupt)
	}
	props, err := primaryProperties(meta)
	if err != nil {
		return header{}, err
	}
	for _, p := range props {
		switch p.typ {
		case "ispe":
			_, _, body, ok := fullBoxBody(p)
			if !ok || len(body) < 8 {
				return header{}, unsupported("HEIF: %v: short ispe", errCorrupt)
			}
			h.width = clampInt(binary.BigEndian.Uint32(body[0:4]))
			h.height = clampInt(binary.BigEndian.Uint32(body[4:8]))
		case "clap":
			if w, ht, ok := cleanAperture(p.data); ok && w <= h.width && ht <= h.height {
				h.width, h.height = w, ht
			}
		case "irot":
			if len(p.data) >= 1 && p.data[0]&1 == 1 {
				h.quarterTurns = !h.quarterTurns
			}
		}
	}
	return h, nil
}

// hasBrand reports whether a list of compatible brands holds brand.
func hasBrand(list []byte, brand string) bool {
	for i := 0; i+4 <= len(list); i += 4 {
		if string(list[i:i+4]) == brand {
			return true
		}
	}
	return false
}

// clampInt turns a 32-bit size into an int that a size check will refuse
// when it is absurd.
func clampInt(v uint32) int { return int(min(v, 1<<31-1)) }

// cleanAperture reads the width and height of a clap box, rounded.
func cleanAperture(d []byte) (int, int, bool) {
	if len(d) < 16 {
		return 0, 0, false
	}
	wn, wd := binary.BigEndian.Uint32(d[0:4]), binary.BigEndian.Uint32(d[4:8])
	hn, hd := binary.BigEndian.Uint32(d[8:12]), binary.BigEndian.Uint32(d[12:16])
	if wd == 0 || hd == 0 {
		return 0, 0, false
	}
	w := (uint64(wn) + uint64(wd)/2) / uint64(wd)
	h := (uint64(hn) + uint64(hd)/2) / uint64(hd)
	if w == 0 || h == 0 {
		return 0, 0, false
	}
	return int(min(w, 1<<31-1)), int(min(h, 1<<31-1)), true
}

// primaryProperties returns the properties associated with the primary item,
// in association order (which is the order transformations apply in).
func primaryProperties(meta isoBox) ([]isoBox, error) {
	_, _, body, ok := fullBoxBody(meta)
	if !ok {
		return nil, unsupported("HEIF: %v: short meta box", errCorrupt)
	}
	boxes, err := children(body)
	if err != nil {
		return nil, err
	}
	primary := int64(-1)
	var ipco []isoBox
	var ipmas []isoBox
	for _, b := range boxes {
		switch b.typ {
		case "pitm":
			v, _, body, ok := fullBoxBody(b)
			switch {
			case ok && v == 0 && len(body) >= 2:
				primary = int64(binary.BigEndian.Uint16(body))
			case ok && v > 0 && len(body) >= 4:
				primary = int64(binary.BigEndian.Uint32(body))
			default:
				return nil, unsupported("HEIF: %v: short pitm", errCorrupt)
			}
		case "iprp":
			kids, err := children(b.data)
			if err != nil {
				return nil, err
			}
			for _, k := range kids {
				switch k.typ {
				case "ipco":
					if ipco, err = children(k.data); err != nil {
						return nil, err
					}
				case "ipma":
					ipmas = append(ipmas, k)
				}
			}
		}
	}
	if primary < 0 {
		return nil, unsupported("HEIF: %v: no primary item", errCorrupt)
	}
	var props []isoBox
	for _, ipma := range ipmas {
		indices, err := associations(ipma, primary)
		if err != nil {
			return nil, err
		}
		for _, idx := range indices {
			if idx < 1 || idx > len(ipco) {
				continue // 0 means no property
			}
			props = append(props, ipco[idx-1])
		}
	}
	return props, nil
}

// associations returns the property indices an ipma box gives item.
func associations(ipma isoBox, item int64) ([]int, error) {
	version, flags, d, ok := fullBoxBody(ipma)
	if !ok || len(d) < 4 {
		return nil, unsupported("HEIF: %v: short ipma", errCorrupt)
	}
	count := binary.BigEndian.Uint32(d)
	d = d[4:]
	idSize, assocSize := 2, 1
	if version >= 1 {
		idSize = 4
	}
	if flags&1 == 1 {
		assocSize = 2
	}
	for range count {
		if len(d) < idSize+1 {
			return nil, unsupported("HEIF: %v: short ipma entry", errCorrupt)
		}
		var id int64
		if idSize == 2 {
			id = int64(binary.BigEndian.Uint16(d))
		} else {
			id = int64(binary.BigEndian.Uint32(d))
		}
		n := int(d[idSize])
		d = d[idSize+1:]
		if len(d) < n*assocSize {
			return nil, unsupported("HEIF: %v: short ipma entry", errCorrupt)
		}
		if id != item {
			d = d[n*assocSize:]
			continue
		}
		indices := make([]int, n)
		for j := range n {
			if assocSize == 2 {
				indices[j] = int(binary.BigEndian.Uint16(d[2*j:]) & 0x7FFF)
			} else {
				indices[j] = int(d[j] & 0x7F)
			}
		}
		return indices, nil
	}
	return nil, nil
}
