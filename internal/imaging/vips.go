package imaging

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/h2non/bimg"
)

// Vips makes thumbnails with libvips, through bimg. It is safe for
// concurrent use.
//
// How a thumbnail is made:
//
//   - The header is read in Go (readHeader): only JPEG, PNG, WebP, AVIF,
//     HEIF and GIF are let through to libvips, the pixel count is checked
//     against MaxPixels, and truncated files are refused.
//   - The geometry is computed here (planGeometry): bimg's own box logic
//     stretches or rounds, so it is given exact sizes (Force) and an exact
//     centred crop (an extract area). A crop with a focus other than the
//     centre is libvips' smartcrop of the scaled image (vips_smartcrop,
//     which bimg cannot combine with exact sizes), called directly.
//   - bimg decodes JPEG and WebP with shrink-on-load. Its bilinear setting
//     is used when shrinking: it only changes how much bimg shrinks on
//     load (its bicubic setting holds back a quarter); the final reduction
//     is libvips' Lanczos either way.
//   - Pixels are converted to sRGB (using an embedded ICC profile, CMYK
//     included) and every output is written without metadata and without
//     an ICC profile: an untagged image is sRGB on the web.
//   - EXIF orientation is applied after resizing. bimg's own auto-rotation
//     rotates the full-size image and, for JPEG, re-encodes it before
//     shrinking, which costs more than the thumbnail itself. Here the
//     image is resized as stored into an uncompressed TIFF, and that small
//     image is turned and encoded. (HEIF and AVIF carry their rotation in
//     the container, and libheif applies it.)
//   - For a JPEG of an image with transparency, the image is flattened
//     onto the background before resizing (see render).
//   - Options.Quality applies to JPEG, WebP and AVIF; PNG is lossless.
type Vips struct {
	cfg Config
}

// New sets libvips up and returns the engine. The libvips settings are
// process-wide. bimg starts libvips when its package is loaded; everything
// that matters here is set explicitly.
func New(cfg Config) (*Vips, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("imaging config: %w", err)
	}
	for _, t := range []bimg.ImageType{bimg.JPEG, bimg.PNG, bimg.WEBP, bimg.AVIF, bimg.TIFF} {
		if !bimg.IsTypeSupportedSave(t) {
			return nil, fmt.Errorf("libvips %s cannot write %s", bimg.VipsVersion, bimg.ImageTypeName(t))
		}
	}
	for _, t := range []bimg.ImageType{bimg.JPEG, bimg.PNG, bimg.WEBP, bimg.HEIF, bimg.GIF, bimg.TIFF} {
		if !bimg.IsTypeSupported(t) {
			return nil, fmt.Errorf("libvips %s cannot read %s", bimg.VipsVersion, bimg.ImageTypeName(t))
		}
	}
	// Thumbnails of distinct originals never hit the operation cache; it
	// would only hold memory.
	bimg.VipsCacheSetMax(0)
	bimg.VipsCacheSetMaxMem(0)
	setVipsConcurrency(cfg.Concurrency)
	countVipsWarnings(cfg.LibvipsWarnings, recoverableWarnings)
	return &Vips{cfg: cfg}, nil
}

// Probe reads the header of an image: its format and its size as stored
// (before EXIF orientation; for HEIF and AVIF, before the container's
// rotation). It decodes no pixels. It returns an error wrapping ErrUnsupportedImage when data is not
// a JPEG, PNG, WebP, AVIF, HEIF or GIF image (SVG and PDF included, which
// libvips would read), and ErrTooManyPixels when the image has more than
// MaxPixels pixels.
func (v *Vips) Probe(data []byte) (Info, error) {
	h, err := v.header(data)
	if err != nil {
		return Info{}, err
	}
	return Info{Width: h.width, Height: h.height, Format: h.format}, nil
}

// Cost estimates the memory, in bytes, that making the thumbnail of data
// with opts holds at its peak, from the header alone: the decoded pixels
// (after shrink-on-load), the bytes each takes, and the whole frame for
// decoders that need it (progressive JPEG, interlaced PNG). It fails as
// Thumbnail's header checks do.
func (v *Vips) Cost(data []byte, opts Options) (int64, error) {
	if err := opts.validate(); err != nil {
		return 0, err
	}
	h, err := v.header(data)
	if err != nil {
		return 0, err
	}
	dw, dh := h.displaySize()
	return h.decodedBytes(planGeometry(dw, dh, opts), opts.Format == JPEG && h.alpha), nil
}

// header reads and checks the header.
func (v *Vips) header(data []byte) (header, error) {
	h, err := readHeader(data)
	if err != nil {
		return header{}, err
	}
	if px := int64(h.width) * int64(h.height); px > v.cfg.MaxPixels {
		return header{}, fmt.Errorf("%w: %s of %dx%d has %d pixels, more than %d",
			ErrTooManyPixels, h.format, h.width, h.height, px, v.cfg.MaxPixels)
	}
	return h, nil
}

// Thumbnail makes a thumbnail of data. Errors wrap ErrInvalidOptions,
// ErrUnsupportedImage (empty, corrupt, truncated, or not an image of ours),
// ErrTooManyPixels, or the context's error.
func (v *Vips) Thumbnail(ctx context.Context, data []byte, opts Options) (Image, error) {
	if err := opts.validate(); err != nil {
		return Image{}, err
	}
	if err := ctx.Err(); err != nil {
		return Image{}, err
	}
	h, err := v.header(data)
	if err != nil {
		return Image{}, err
	}
	if err := checkComplete(h, data); err != nil {
		return Image{}, err
	}
	dw, dh := h.displaySize()
	g := planGeometry(dw, dh, opts)
	if px := int64(g.scaledW) * int64(g.scaledH); px > v.cfg.MaxPixels {
		return Image{}, fmt.Errorf("%w: scaling %dx%d to %dx%d makes %d pixels, more than %d",
			ErrTooManyPixels, dw, dh, g.scaledW, g.scaledH, px, v.cfg.MaxPixels)
	}
	if err := ctx.Err(); err != nil {
		return Image{}, err
	}
	warnings := vipsWarnings()
	out, err := v.render(ctx, h, data, g, opts)
	if err != nil {
		return Image{}, err
	}
	if vipsWarnings() != warnings {
		// libvips warned, for this image or for another one being made at
		// the same moment (warnings come from its worker threads): decode
		// this one alone, strictly, to tell.
		if err := checkDecode(data); err != nil {
			return Image{}, err
		}
	}
	// libvips leaves some metadata behind even when told to strip.
	switch opts.Format {
	case WebP:
		out, err = stripWebP(out)
	case PNG:
		out, err = stripPNG(out)
	}
	if err != nil {
		return Image{}, err
	}
	// Check what came out: its format, and the size promised.
	oh, err := readHeader(out)
	if err != nil {
		// Not the input's fault: do not wrap ErrUnsupportedImage.
		return Image{}, fmt.Errorf("engine wrote an unreadable %s: %v", opts.Format, err)
	}
	if ow, ohgt := oh.decodedSize(); oh.format != opts.Format || ow != g.outW || ohgt != g.outH {
		return Image{}, fmt.Errorf("engine wrote a %dx%d %s, want %dx%d %s", ow, ohgt, oh.format, g.outW, g.outH, opts.Format)
	}
	return Image{Data: out, Format: opts.Format, Width: g.outW, Height: g.outH}, nil
}

// checkDecode decodes every pixel of data, stopping at the decoder's first
// warning, and returns an error wrapping ErrDamagedImage when that warning
// says pixel data is missing or corrupt. Warnings about anything else leave
// the image whole (see recoverableWarnings).
func checkDecode(data []byte) error {
	strictDecodes.Add(1)
	ok, msgs := decodeStrict(data)
	if !ok && len(msgs) == 0 {
		// Another thread cleared the shared error buffer: once more, for
		// the reason.
		ok, msgs = decodeStrict(data)
	}
	if ok {
		return nil
	}
	var damage []string
	for _, m := range msgs {
		if !recoverable(m) {
			damage = append(damage, m)
		}
	}
	switch {
	case len(msgs) == 0:
		return fmt.Errorf("%w: libvips stopped decoding it without saying why", ErrDamagedImage)
	case len(damage) == 0:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrDamagedImage, strings.Join(damage, "; "))
}

// strictDecodes counts checkDecode's calls: each decodes a whole image at
// full size, the cost the warning count exists to avoid.
var strictDecodes atomic.Int64

// recoverableWarnings are the warnings about images whose every pixel is
// decoded as stored: libpng's about ancillary chunks (colour profiles,
// gamma, text, time), which it reports and reads on past, and libvips' about
// EXIF metadata (a resolution unit it does not know, as some wallpapers
// carry). They are not counted (see vipsWarnings): they cost no strict
// decode. Any other warning is damage, a JPEG's included: the strict decode stops at
// libjpeg's first warning, so a harmless first one (a scan header some
// encoders write wrongly, padding between segments) would hide damage after
// it. Bytes after an image's end are not read at all: no warning.
var recoverableWarnings = []string{
	"iCCP:", "sRGB:", "gAMA:", "cHRM:", "tEXt:", "zTXt:", "iTXt:", "tIME:", "pHYs:", "bKGD:", "sBIT:",
	"known incorrect sRGB profile",
	"EXIF", "exif",
}

// recoverable reports whether a decoder's message is one of
// recoverableWarnings. A message of libvips' error buffer that names none
// (another image's, written at the same moment) counts as damage: refusing
// a whole image once is better than storing a damaged one.
func recoverable(msg string) bool {
	for _, w := range recoverableWarnings {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// render runs libvips: one pass when the image needs no turning and is
// cropped centred (or not at all), else a resize pass into a TIFF, the smart
// crop of that TIFF (Attention, Entropy) and a pass that turns and encodes;
// for a JPEG of an image with transparency, a flattening pass first.
func (v *Vips) render(ctx context.Context, h header, data []byte, g geometry, opts Options) ([]byte, error) {
	convertICC := h.model == modelRGB
	if opts.Format == JPEG && h.alpha {
		// bimg resizes without premultiplying alpha, so the colour of
		// transparent pixels would bleed into the edges; flattened first,
		// there is no alpha left to resize.
		flat, err := v.run(data, bimg.Options{
			Type:         bimg.TIFF,
			NoAutoRotate: true,
			Background:   flattenColour(opts.Background),
			OutputICC:    iccFor(convertICC),
		}, "flatten")
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, convertICC = flat, false // sRGB already
	}
	angle, flip := orientationOps(h.orientation)
	turn := angle != bimg.D0 || flip
	// The geometry is planned as shown; resize the image as decoded.
	if swapsAxes(h.orientation) {
		g = geometry{scaledW: g.scaledH, scaledH: g.scaledW, outW: g.outH, outH: g.outW}
	}
	dw, _ := h.decodedSize()
	resize := bimg.Options{
		Width:        g.scaledW,
		Height:       g.scaledH,
		Force:        true,
		NoAutoRotate: true,
		Interpolator: bimg.Bicubic,
		OutputICC:    iccFor(convertICC),
	}
	if g.scaledW <= dw {
		resize.Interpolator = bimg.Bilinear
	}
	crop := g.outW != g.scaledW || g.outH != g.scaledH
	smart := crop && opts.Fit == Cover && opts.Focus != Centre
	if crop && !smart {
		resize.AreaWidth, resize.AreaHeight = g.outW, g.outH
		resize.Left, resize.Top = (g.scaledW-g.outW)/2, (g.scaledH-g.outH)/2
	}
	if !turn && !smart {
		v.encoding(&resize, opts)
		return v.run(data, resize, "resize")
	}
	resize.Type = bimg.TIFF // uncompressed, alpha kept
	tiff, err := v.run(data, resize, "resize")
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	step := "orient"
	if smart {
		// libvips looks for the box to keep in the scaled image, which is
		// small: the analysis costs little next to decoding the original.
		if tiff, err = smartCrop(tiff, g.outW, g.outH, opts.Focus); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !turn {
			step = "encode"
		}
	}
	final := bimg.Options{
		NoAutoRotate: true,
		Rotate:       angle,
		Flip:         flip,
		NoProfile:    true, // already sRGB
	}
	v.encoding(&final, opts)
	return v.run(tiff, final, step)
}

// iccFor returns bimg's OutputICC: RGB images are converted from their
// embedded profile (Adobe RGB, Display P3, ...) to sRGB; bimg skips this
// when there is no profile. CMYK and grey images are converted by libvips'
// colourspace step, which uses their embedded profile; an output profile
// on top would only make libvips warn that their profile does not fit.
func iccFor(rgb bool) string {
	if rgb {
		return "srgb"
	}
	return ""
}

// flattenColour is the bimg background for a flattening. bimg skips
// flattening onto pure black, so black is given as (0,0,1): one level of
// blue, far below the error of JPEG's own quantisation.
func flattenColour(c RGB) bimg.Color {
	if c == (RGB{}) {
		return bimg.Color{B: 1}
	}
	return bimg.Color{R: c.R, G: c.G, B: c.B}
}

// encoding sets the output format, quality, metadata stripping and
// background of the final pass.
func (v *Vips) encoding(b *bimg.Options, opts Options) {
	b.StripMetadata = true
	b.Interpretation = bimg.InterpretationSRGB
	b.Quality = opts.Quality
	switch opts.Format {
	case JPEG:
		b.Type = bimg.JPEG
		if b.Quality == 0 {
			b.Quality = DefaultJPEGQuality
		}
		// For images with alpha the header does not show (HEIF, AVIF).
		b.Background = flattenColour(opts.Background)
	case PNG:
		b.Type = bimg.PNG
	case WebP:
		b.Type = bimg.WEBP
		if b.Quality == 0 {
			b.Quality = DefaultWebPQuality
		}
	case AVIF:
		b.Type = bimg.AVIF
		if b.Quality == 0 {
			b.Quality = DefaultAVIFQuality
		}
		// bimg's Speed is libvips' 9 - effort (0 meaning the default, 9).
		b.Speed = 9 - v.cfg.AVIFEffort
	}
}

// run calls bimg. libvips fails on corrupt pixel data; the header has been
// checked, so an error here means the image's data is bad.
func (v *Vips) run(data []byte, o bimg.Options, step string) ([]byte, error) {
	out, err := bimg.Resize(data, o)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: libvips: %v", ErrUnsupportedImage, step, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: libvips wrote nothing", ErrUnsupportedImage, step)
	}
	return out, nil
}

// orientationOps turns an EXIF orientation into a clockwise rotation
// followed by an optional left-right mirror (the order bimg applies them).
func orientationOps(o int) (bimg.Angle, bool) {
	switch o {
	case 2:
		return bimg.D0, true
	case 3:
		return bimg.D180, false
	case 4:
		return bimg.D180, true
	case 5:
		return bimg.D90, true
	case 6:
		return bimg.D90, false
	case 7:
		return bimg.D270, true
	case 8:
		return bimg.D270, false
	}
	return bimg.D0, false
}

// Memory is what libvips has allocated now, in bytes: pixel buffers live
// outside the Go heap, so this is the part of RSS Go's metrics do not see.
func (v *Vips) Memory() int64 { return bimg.VipsMemory().Memory }
