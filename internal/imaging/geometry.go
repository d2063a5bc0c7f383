package imaging

// geometry is how a thumbnail is cut from an image: the whole image is
// scaled to scaledW×scaledH, then the centred outW×outH part is kept (all of
// it when the two are equal).
type geometry struct {
	scaledW, scaledH int
	outW, outH       int
}

// planGeometry computes the geometry for an image of w×h pixels (as shown,
// after orientation). The rules:
//
//   - Inside fits the image in the box, aspect ratio kept; a free side (0)
//     follows the aspect ratio. Cover with a free side is the same as Inside.
//   - Cover scales the image to cover the box and keeps the centred box.
//   - Without Enlarge nothing is scaled up. An image smaller than the box
//     is kept at its own size; for Cover it is still cropped, centred, to
//     the box's aspect ratio (the largest such part of it), so that a
//     thumbnail always has the aspect ratio that was asked for.
//
// Sides are rounded to the nearest pixel and are at least 1.
func planGeometry(w, h int, o Options) geometry {
	W, H := int64(o.Width), int64(o.Height)
	iw, ih := int64(w), int64(h)
	if o.Fit == Cover && W > 0 && H > 0 {
		var sw, sh int64
		if W*ih >= H*iw { // the width needs the larger scale
			sw, sh = W, scaleSide(ih, W, iw)
		} else {
			sw, sh = scaleSide(iw, H, ih), H
		}
		if o.Enlarge || (sw <= iw && sh <= ih) {
			return geometry{int(sw), int(sh), int(W), int(H)}
		}
		// Too small to cover the box: keep the largest part of it that
		// has the box's aspect ratio.
		ow, oh := iw, ih
		if iw*H >= ih*W {
			ow = scaleSide(ih, W, H)
		} else {
			oh = scaleSide(iw, H, W)
		}
		return geometry{w, h, int(ow), int(oh)}
	}
	var sw, sh int64
	switch {
	case W > 0 && H > 0 && W*ih <= H*iw, H == 0: // the width limits
		sw, sh = W, scaleSide(ih, W, iw)
	default: // the height limits
		sw, sh = scaleSide(iw, H, ih), H
	}
	if !o.Enlarge && (sw > iw || sh > ih) {
		sw, sh = iw, ih
	}
	return geometry{int(sw), int(sh), int(sw), int(sh)}
}

// scaleSide returns side×num/den rounded to the nearest integer, at least 1.
func scaleSide(side, num, den int64) int64 {
	return max(1, (2*side*num+den)/(2*den))
}
