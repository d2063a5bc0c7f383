package imaging

import "encoding/binary"

// exifOrientation reads tag 0x0112 (Orientation) of IFD0 from a TIFF-format
// EXIF block. It returns 1 (no change) when the block is malformed or the
// tag is absent or out of range: a broken tag must not fail the image.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(tiff[0:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(tiff[2:4]) != 42 {
		return 1
	}
	ifd := int64(order.Uint32(tiff[4:8]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 1
	}
	n := int64(order.Uint16(tiff[ifd:]))
	for e := range n {
		off := ifd + 2 + e*12
		if off+12 > int64(len(tiff)) {
			return 1
		}
		entry := tiff[off : off+12]
		if order.Uint16(entry[0:2]) != 0x0112 {
			continue
		}
		// SHORT, count 1: the value sits in the first two value bytes.
		if order.Uint16(entry[2:4]) != 3 || order.Uint32(entry[4:8]) < 1 {
			return 1
		}
		if v := int(order.Uint16(entry[8:10])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}
