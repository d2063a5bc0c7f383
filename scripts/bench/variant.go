package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// defaultVariants are the thumbnails the benchmark makes, written as the
// tail of a thumbnail key: SIZE_MODE.EXT. 200x200_smart.jpg is there to be
// read beside 200x200_fill.jpg: what the attention crop costs over the
// centred one.
const defaultVariants = "200x200_fill.jpg,200x200_smart.jpg,200x200_fit.jpg,1024x_fit.jpg,200x200_fill.webp,200x200_fill.avif"

// variant is one kind of thumbnail: a box, a mode and an output format.
type variant struct {
	suffix string       // "200x200_fill.jpg"
	key    thumbkey.Key // the parsed suffix, Name to be filled in
}

// parseVariants parses a comma-separated list of key suffixes.
func parseVariants(s string) ([]variant, error) {
	var vs []variant
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := parseVariant(part)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no variants in %q", s)
	}
	return vs, nil
}

// parseVariant parses one suffix such as "200x200_fill.jpg" with the
// project's own key grammar. The mode must be named, and the format must be
// one vipsthumbnail writes with the same quality setting (JPEG, WebP, or
// AVIF at s3thumb's default encoder effort).
func parseVariant(suffix string) (variant, error) {
	k, err := thumbkey.Parse("v_" + suffix)
	if err != nil || k.Name != "v" {
		return variant{}, fmt.Errorf("variant %q: want SIZE_MODE.EXT like 200x200_fill.jpg", suffix)
	}
	if k.Mode == thumbkey.ModeUnset {
		return variant{}, fmt.Errorf("variant %q: name the mode (_fit, _fill, _smart or _entropy)", suffix)
	}
	if f := k.Format(); f != thumbkey.JPEG && f != thumbkey.WebP && f != thumbkey.AVIF {
		return variant{}, fmt.Errorf("variant %q: only jpg, webp and avif are compared with vipsthumbnail", suffix)
	}
	return variant{suffix: suffix, key: k}, nil
}

// keyFor is the thumbnail key of this variant of the original named name
// (without extension).
func (v variant) keyFor(name string) string {
	k := v.key
	k.Name = name
	return k.String()
}

// forPhoto is the variant the benchmark asks of photo p: v, or v with the
// box's sides swapped (see sameOutputCorpus).
func (v variant) forPhoto(p photo) variant {
	if !p.transposeBox {
		return v
	}
	k := v.key
	k.Width, k.Height = k.Height, k.Width
	k.Name = "v"
	return variant{suffix: strings.TrimPrefix(k.String(), "v_"), key: k}
}

// square reports whether the box's sides are equal: a thumbnail of a
// photograph turned by a quarter then has the same size.
func (v variant) square() bool { return v.key.Width == v.key.Height }

// format is the output format.
func (v variant) format() thumbkey.Format { return v.key.Format() }

// vipsArgs are the vipsthumbnail arguments that make this variant of in
// into out at quality q, with all metadata stripped.
func (v variant) vipsArgs(in, out string, q int) []string {
	w, h := v.key.PixelBox()
	size := thumbkey.Box{Width: w, Height: h}.String()
	args := []string{in, "--size", size}
	if v.key.Mode.Crops() && w > 0 && h > 0 {
		args = append(args, "--smartcrop", vipsCrop[v.key.Mode])
	}
	opts := "[Q=" + strconv.Itoa(q) + ",strip]"
	if v.format() == thumbkey.AVIF {
		// s3thumb's default --avif-effort; libvips' own default, 4, takes
		// twice as long.
		opts = "[Q=" + strconv.Itoa(q) + ",strip,effort=" + strconv.Itoa(avifEffort) + "]"
	}
	return append(args, "-o", out+opts)
}

// vipsCrop is vipsthumbnail's --smartcrop for each mode that crops.
var vipsCrop = map[thumbkey.Mode]string{
	thumbkey.ModeFill:    "centre",
	thumbkey.ModeSmart:   "attention",
	thumbkey.ModeEntropy: "entropy",
}

// expect returns the size the thumbnail of a w×h original must have (no
// enlarging), and exact reports whether both sides are exact; otherwise a
// side computed from the aspect ratio may be off by one pixel (rounding).
func (v variant) expect(w, h int) (ew, eh int, exact bool) {
	bw, bh := v.key.PixelBox()
	if v.key.Mode.Crops() && bw > 0 && bh > 0 {
		if w >= bw && h >= bh {
			return bw, bh, true
		}
		return min(w, bw), min(h, bh), false
	}
	scale := math.Inf(1)
	if bw > 0 {
		scale = float64(bw) / float64(w)
	}
	if bh > 0 {
		scale = math.Min(scale, float64(bh)/float64(h))
	}
	if scale >= 1 {
		return w, h, true
	}
	return max(1, int(math.Round(float64(w)*scale))), max(1, int(math.Round(float64(h)*scale))), false
}

// checkSize reports whether a thumbnail of gw×gh pixels is right for a w×h
// original.
func (v variant) checkSize(w, h, gw, gh int) error {
	ew, eh, exact := v.expect(w, h)
	off := func(a, b int) bool {
		if exact {
			return a != b
		}
		return a-b > 1 || b-a > 1
	}
	if off(gw, ew) || off(gh, eh) {
		return fmt.Errorf("got %dx%d, want %dx%d for a %dx%d original", gw, gh, ew, eh, w, h)
	}
	return nil
}

// avifEffort is s3thumb's default --avif-effort, given to vipsthumbnail.
const avifEffort = 2
