package accesslog

import "math/bits"

// HashStart is the value a hash of HashPart calls starts from.
const HashStart uint64 = 0x243F6A8885A308D3

const hashK0, hashK1 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9

// HashPart mixes p into the 64-bit hash h, eight bytes at a time, without
// allocating. The hash is the same on every machine and in every process, so
// hashes can be kept between runs (the analyzer's duplicate window). Each
// part ends with its length, so ("ab", "c") and ("a", "bc") differ. Finish
// a hash of several parts with HashEnd.
func HashPart[T string | []byte](h uint64, p T) uint64 {
	n := uint64(len(p))
	for len(p) >= 8 {
		v := uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
		h = hashMix(h^v, hashK0)
		p = p[8:]
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		v |= uint64(p[i]) << (8 * i)
	}
	return hashMix(h^v^n<<56, hashK1)
}

// HashEnd finishes a hash built with HashPart.
func HashEnd(h uint64) uint64 { return hashMix(h, hashK0) }

func hashMix(x, k uint64) uint64 {
	hi, lo := bits.Mul64(x, k)
	return hi ^ lo
}
