package imaging

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// A JPEG decoded at an eighth of its size (shrink-on-load 8) turns each
// 8×8 block of coefficients into one pixel, and libjpeg does that from the
// block's DC coefficient alone (its 1×1 inverse DCT is the block's mean).
// A baseline JPEG interleaves DC and AC coefficients in one scan, so all
// of it is decoded anyway. A progressive JPEG sends them in separate scans,
// and the AC scans, most of the file, are what makes a progressive JPEG
// slow to decode: a 15 MP one took 220 ms, its DC scans a fraction of it.
// eighthScans replaces the scans such a decode does not read by scans that
// say every AC coefficient is zero, in a few bytes, so libjpeg never
// Huffman-decodes the real ones. The pixels are the same, byte for byte
// (TestEighthScansSamePixels). Dropping the scans alone would not do:
// libjpeg then thinks the file ends early and smooths the blocks to hide
// the missing coefficients, which costs time and changes the pixels.
//
// A component is read from its DC coefficients alone when libjpeg scales
// it by an 1×1 inverse DCT. At an eighth that is every component, except
// one sampled at half the resolution of the largest on both axes (the
// chroma of 4:2:0): libjpeg scales that one by a 2×2 inverse DCT rather
// than upsampling it, which reads AC coefficients, so its scans are kept.

// eighthScans returns data with the AC scans of the components that a
// decode of this progressive, Huffman-coded JPEG at an eighth of its size
// does not read replaced by all-zero ones, or nil when there are none to
// replace or the file's layout after its first scan is not one it knows
// (the decoder then reads the file as it is). h is data's header.
func eighthScans(data []byte, h header) []byte {
	if h.format != JPEG || !h.huffmanProgressive || h.scan < 2 || h.bands > len(h.sampling) {
		return nil
	}
	comps := h.sampling[:h.bands]
	var maxH, maxV byte
	for _, c := range comps {
		if c.h == 0 || c.v == 0 {
			return nil // libjpeg refuses the frame
		}
		maxH, maxV = max(maxH, c.h), max(maxV, c.v)
	}
	dcOnly := func(c jpegSampling) bool { return maxH%(2*c.h) != 0 || maxV%(2*c.v) != 0 }
	// component returns the index of the component with identifier id: the
	// first, as libjpeg's scan header reader does for one-component scans.
	component := func(id byte) (int, bool) {
		for k, c := range comps {
			if c.id == id {
				return k, true
			}
		}
		return 0, false
	}
	// The header stopped at the first scan's marker, FF DA, whose length
	// starts at h.scan.
	i := h.scan - 2
	// The AC Huffman tables defined so far that libjpeg accepts: a scan
	// that is dropped must not use another, libjpeg would refuse it.
	var acTables [4]bool
	if !huffmanTables(data[:i], 2, &acTables) {
		return nil
	}
	out := make([]byte, 0, len(data)/4)
	out = append(out, data[:i]...)
	dropped := false
	// lowAC records the components whose dropped scans code any of the
	// coefficients 1 to 9. Only those get an all-zero scan: libjpeg decides
	// from those coefficients' progress whether to smooth, and it
	// interpolates the DC coefficients of a component none of whose are
	// coded. A component that had no such scan keeps that.
	var lowAC [4]bool
	for {
		if i+1 >= len(data) || data[i] != 0xFF {
			return nil
		}
		for i+1 < len(data) && data[i+1] == 0xFF { // fill bytes
			i++
		}
		if i+1 >= len(data) {
			return nil
		}
		marker := data[i+1]
		if marker == 0xD9 { // end of image
			if !dropped {
				return nil
			}
			var zero []jpegSampling
			for k, c := range comps {
				if lowAC[k] {
					zero = append(zero, c)
				}
			}
			return append(zeroACScans(out, h.width, h.height, maxH, maxV, zero), 0xFF, 0xD9)
		}
		if i+4 > len(data) {
			return nil
		}
		end := i + 2 + int(binary.BigEndian.Uint16(data[i+2:]))
		if end < i+4 || end > len(data) {
			return nil
		}
		switch {
		case marker == 0xDA: // a scan: its header, then entropy-coded data
			seg := data[i+4 : end]
			if len(seg) < 1 || len(seg) != 1+2*int(seg[0])+3 {
				return nil
			}
			n := int(seg[0])
			ss, se, ah, al := seg[1+2*n], seg[2+2*n], seg[3+2*n]>>4, seg[3+2*n]&15
			// The progression parameters libjpeg refuses (jdphuff.c), so
			// that a file it refuses is not made one it reads.
			if n < 1 || n > 4 || (ss == 0 && se != 0) || (ss != 0 && (ss > se || se > 63 || n != 1)) ||
				(ah != 0 && al != ah-1) || al > 13 {
				return nil
			}
			keep := ss == 0 // DC scans
			first := 0      // the component of an AC scan, which has one
			for k := range n {
				c, ok := component(seg[1+2*k])
				if !ok {
					return nil
				}
				if k == 0 {
					first = c
				}
				keep = keep || !dcOnly(comps[c])
			}
			next := entropyEnd(data, end)
			if next < 0 {
				return nil
			}
			if keep {
				out = append(out, data[i:next]...)
			} else {
				// An AC scan (one component): libjpeg builds its table
				// even when it is not read.
				if ta := seg[2] & 15; ta > 3 || !acTables[ta] {
					return nil
				}
				dropped = true
				lowAC[first] = lowAC[first] || ss <= 9
			}
			i = next
		case marker == 0xC4:
			if !huffmanTables(data[i:end], 0, &acTables) {
				return nil
			}
			out = append(out, data[i:end]...)
			i = end
		case marker == 0xDB || marker == 0xDD || marker == 0xFE || (marker >= 0xE0 && marker <= 0xEF):
			// Quantisation tables, restart interval, comment, application
			// data: kept as they are.
			out = append(out, data[i:end]...)
			i = end
		default:
			return nil
		}
	}
}

// huffmanTables reads the Huffman table segments of data from offset i
// up to the first scan or the end, marking in ac the AC tables they define
// and whether libjpeg accepts each (jpeg_make_d_derived_tbl). It returns
// false for a segment it cannot read.
func huffmanTables(data []byte, i int, ac *[4]bool) bool {
	for i < len(data) {
		if data[i] != 0xFF {
			return false
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			return true // fill bytes before the scan's marker
		}
		marker := data[i]
		i++
		if marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			continue
		}
		if marker == 0xDA || i+2 > len(data) {
			return marker == 0xDA
		}
		end := i + int(binary.BigEndian.Uint16(data[i:]))
		if end < i+2 || end > len(data) {
			return false
		}
		if marker == 0xC4 {
			for seg := data[i+2 : end]; len(seg) > 0; {
				if len(seg) < 17 {
					return false
				}
				class, id := seg[0]>>4, seg[0]&15
				if class > 1 || id > 3 {
					return false
				}
				count, code, ok := 0, 0, true
				for l := 1; l <= 16; l++ {
					count += int(seg[l])
					code += int(seg[l])
					if code >= 1<<l {
						ok = false // libjpeg: bogus Huffman table
					}
					code <<= 1
				}
				if count > 256 || 17+count > len(seg) {
					return false
				}
				if class == 1 {
					ac[id] = ok
				}
				seg = seg[17+count:]
			}
		}
		i = end
	}
	return true
}

// zeroACScans appends to out, a progressive JPEG up to its end-of-image
// marker, one scan per component of comps that sets all its AC
// coefficients, 1 to 63, to zero at full precision: a run of
// end-of-block codes covering exactly the component's blocks. Before them
// come a Huffman table that codes the runs (AC table 0; no scan follows
// that reads the file's own) and a restart interval of none, so that a
// run is not cut at restart markers.
func zeroACScans(out []byte, width, height int, maxH, maxV byte, comps []jpegSampling) []byte {
	// Table: the symbols EOB0 to EOB14 (0x00, 0x10, ... 0xE0), each coded
	// by 4 bits, 0000 to 1110 (the all-ones code is not allowed).
	out = append(out, 0xFF, 0xC4, 0, 2+1+16+15, 0x10, 0, 0, 0, 15)
	out = append(out, make([]byte, 12)...)
	for r := range 15 {
		out = append(out, byte(r<<4))
	}
	out = append(out, 0xFF, 0xDD, 0, 4, 0, 0)
	for _, c := range comps {
		out = append(out, 0xFF, 0xDA, 0, 8, 1, c.id, 0x00, 1, 63, 0x00)
		// A non-interleaved scan codes each of the component's blocks,
		// the image's size scaled by its sampling, in blocks of 8.
		blocksW := (width*int(c.h) + 8*int(maxH) - 1) / (8 * int(maxH))
		blocksH := (height*int(c.v) + 8*int(maxV) - 1) / (8 * int(maxV))
		var w bitWriter
		for n := blocksW * blocksH; n > 0; {
			// EOBr covers 2^r to 2^(r+1)-1 blocks; its low r bits follow.
			r := min(bits.Len(uint(n))-1, 14)
			run := min(n, 1<<(r+1)-1)
			w.write(uint32(r), 4)
			w.write(uint32(run-1<<r), r)
			n -= run
		}
		out = w.flush(out)
	}
	return out
}

// bitWriter writes entropy-coded data: bits from the most significant, a
// 0xFF byte followed by a stuffed zero.
type bitWriter struct {
	buf   []byte
	acc   uint32
	nbits int
}

func (w *bitWriter) write(v uint32, n int) {
	for n > 0 {
		k := min(n, 8-w.nbits)
		w.acc = w.acc<<k | (v>>(n-k))&(1<<k-1)
		w.nbits += k
		n -= k
		if w.nbits == 8 {
			w.buf = append(w.buf, byte(w.acc))
			if byte(w.acc) == 0xFF {
				w.buf = append(w.buf, 0)
			}
			w.acc, w.nbits = 0, 0
		}
	}
}

// flush pads the last byte with one bits and appends the data to out.
func (w *bitWriter) flush(out []byte) []byte {
	if w.nbits > 0 {
		w.write(1<<(8-w.nbits)-1, 8-w.nbits)
	}
	return append(out, w.buf...)
}

// entropyEnd returns the offset of the marker that ends the entropy-coded
// data starting at i, or -1 when the data ends first. Inside it 0xFF is
// followed by 0x00 (a stuffed byte) or by a restart marker.
func entropyEnd(data []byte, i int) int {
	for {
		j := bytes.IndexByte(data[i:], 0xFF)
		if j < 0 || i+j+1 >= len(data) {
			return -1
		}
		i += j
		if b := data[i+1]; b != 0x00 && (b < 0xD0 || b > 0xD7) {
			return i
		}
		i += 2
	}
}
