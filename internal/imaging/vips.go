package imaging

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/h2non/bimg"
)

// Vips makes thumbnails with libvips. It is safe for concurrent use.
//
// How a thumbnail is made:
//
//   - The header is read in Go (readHeader): only JPEG, PNG, WebP, AVIF,
//     HEIF and GIF are let through to libvips, the pixel count is checked
//     against MaxPixels, and truncated files are refused.
//   - The geometry is computed here (planGeometry): exact sizes, and an
//     exact centred crop (an extract area), or for a focus other than the
//     centre (Attention, Entropy) libvips' smartcrop of the scaled image,
//     in the same pass.
//   - One libvips pass of our own makes the thumbnail (see pipeline.go):
//     the original is loaded sequentially (streamed, never decoded whole
//     into memory first), JPEG and WebP shrunk on load, then block-shrunk
//     and reduced with Lanczos 3 with the factors bimg used to choose
//     (planResize), so the pixels are what they were with bimg.
//   - Pixels are converted to sRGB (using an embedded ICC profile, CMYK
//     included; an sRGB profile needs no conversion) and every output is
//     written without metadata and without an ICC profile: an untagged
//     image is sRGB on the web.
//   - EXIF orientation is applied after resizing, in the same pass: the
//     small image is made in memory, then turned and encoded. (HEIF and
//     AVIF carry their rotation in the container, and libheif applies it.)
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
	// No ORC: libvips compiles an ORC program per image for its vector
	// paths, and ORC's code allocator crashed the process now and then
	// under concurrent resizes (SIGSEGV in orc_code_allocate_codemem; the
	// peer benchmark's imgproxy too). The one path of ours it sped up, the
	// vertical reduce, is ours now (s3t_reduce).
	bimg.VipsVectorSetEnabled(false)
	setVipsConcurrency(cfg.Concurrency)
	keepFreedMemory(32<<20, 32<<20) // 32 MB: the most glibc takes as a threshold
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
	h, err := v.headerFor(data, opts)
	if err != nil {
		return 0, err
	}
	dw, dh := h.displaySize()
	return h.decodedBytes(planGeometry(dw, dh, opts), opts.Format == JPEG && h.alpha), nil
}

// Work estimates, from the header alone, the CPU time making the thumbnail
// of data with opts takes on one core: decoding (per pixel, less when
// JPEG and WebP shrink on load, three times as much for a progressive
// JPEG, half as much again when shrunk by 8 and its AC scans skipped), and
// encoding (per output pixel). The figures are rough, measured on the
// benchmark's photographs; the limiter orders its queue by them, so what
// matters is that a 20 MP original is costed at several 4 MP ones. It
// fails as Thumbnail's header checks do.
func (v *Vips) Work(data []byte, opts Options) (time.Duration, error) {
	h, err := v.headerFor(data, opts)
	if err != nil {
		return 0, err
	}
	dw, dh := h.displaySize()
	g := planGeometry(dw, dh, opts)
	if swapsAxes(h.orientation) {
		g.scaledW, g.scaledH = g.scaledH, g.scaledW
	}
	sw, sh := h.decodedSize()
	flatten := opts.Format == JPEG && h.alpha
	load, _, _ := planResize(sw, sh, g.scaledW, g.scaledH, (h.format == JPEG || h.format == WebP) && !flatten)
	px := float64(sw) * float64(sh)
	var ns float64 // per source pixel
	switch h.format {
	case JPEG:
		ns = map[int]float64{1: 12, 2: 8, 4: 6, 8: 5}[load]
		switch {
		case h.huffmanProgressive && load == 8:
			ns *= 1.5 // its AC scans are not read (eighthScans)
		case h.wholeFrame:
			ns *= 3
		}
	case WebP:
		ns = 8 / float64(load)
	case PNG, GIF:
		ns = 10
	default: // HEIF, AVIF
		ns = 30
	}
	if flatten {
		ns += 4
	}
	out := float64(g.outW) * float64(g.outH) * map[Format]float64{JPEG: 20, PNG: 60, WebP: 80, AVIF: 800}[opts.Format]
	return time.Millisecond + time.Duration(px*ns+out), nil
}

// headerFor checks opts, then reads and checks the header: what Cost,
// Work and Thumbnail start with.
func (v *Vips) headerFor(data []byte, opts Options) (header, error) {
	if err := opts.validate(); err != nil {
		return header{}, err
	}
	return v.header(data)
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
	if err := ctx.Err(); err != nil {
		return Image{}, err
	}
	h, err := v.headerFor(data, opts)
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

// render runs libvips once (see pipeline): the image is loaded (shrunk on
// load when it can be), resized as stored to the planned geometry with
// axes swapped when it is turned, cropped, converted to sRGB, turned by its
// EXIF orientation, and encoded. A progressive JPEG decoded at an eighth
// is read without the scans that decode does not need (eighthScans).
func (v *Vips) render(ctx context.Context, h header, data []byte, g geometry, opts Options) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := v.plan(h, g, opts)
	if p.loadShrink == 8 {
		if d := eighthScans(data, h); d != nil {
			eighthLoads.Add(1)
			data = d
		}
	}
	return p.run(data)
}

// eighthLoads counts the progressive JPEGs decoded without the scans a
// decode at an eighth does not read (see eighthScans).
var eighthLoads atomic.Int64

// plan is the one libvips pass (see pipeline) that makes the thumbnail of
// an image with header h in geometry g.
func (v *Vips) plan(h header, g geometry, opts Options) pipeline {
	// For a JPEG of an image with transparency, the image is flattened
	// onto the background whole, before resizing: libvips' resize here
	// does not premultiply alpha, so the colour of transparent pixels
	// would bleed into the edges; flattened first, there is no alpha left
	// to resize. It is then decoded whole (no shrink-on-load), as before.
	flattenFirst := opts.Format == JPEG && h.alpha
	angle, flip := orientationOps(h.orientation)
	// The geometry is planned as shown; resize the image as decoded.
	if swapsAxes(h.orientation) {
		g = geometry{scaledW: g.scaledH, scaledH: g.scaledW, outW: g.outH, outH: g.outW}
	}
	dw, dh := h.decodedSize()
	canShrink := (h.format == JPEG || h.format == WebP) && !flattenFirst
	loadShrink, boxShrink, bicubic := planResize(dw, dh, g.scaledW, g.scaledH, canShrink)
	p := pipeline{
		in:           h.format,
		loadShrink:   loadShrink,
		boxShrink:    boxShrink,
		flattenFirst: flattenFirst,
		background:   flattenBackground(opts.Background),
		width:        g.scaledW,
		height:       g.scaledH,
		bicubic:      bicubic,
		interesting:  interestingNone,
		angle:        angle,
		flip:         flip,
		// For images with alpha the header does not show (HEIF, AVIF).
		flattenLast: opts.Format == JPEG,
		// RGB images are converted from their embedded profile (Adobe
		// RGB, Display P3, ...) to sRGB. CMYK and grey images are
		// converted by libvips' colourspace step, which uses their
		// embedded profile; an output profile on top would only make
		// libvips warn that their profile does not fit.
		icc:        h.model == modelRGB,
		out:        opts.Format,
		quality:    opts.Quality,
		avifEffort: v.cfg.AVIFEffort,
	}
	if g.outW != g.scaledW || g.outH != g.scaledH {
		p.cropW, p.cropH = g.outW, g.outH
		p.cropLeft, p.cropTop = (g.scaledW-g.outW)/2, (g.scaledH-g.outH)/2
		if opts.Fit == Cover {
			// libvips looks for the box to keep in the scaled image, which
			// is small: the analysis costs little next to decoding.
			p.interesting = interestingFor(opts.Focus)
		}
	}
	if p.quality == 0 {
		switch opts.Format {
		case JPEG:
			p.quality = DefaultJPEGQuality
		case WebP:
			p.quality = DefaultWebPQuality
		case AVIF:
			p.quality = DefaultAVIFQuality
		default:
			p.quality = 80 // PNG is lossless; the value only matters to palette output, which is off
		}
	}
	return p
}

// flattenBackground is the background of a flattening. Black is given as
// (0,0,1), one level of blue, far below the error of JPEG's own
// quantisation: bimg skipped flattening onto pure black, and this keeps
// its output.
func flattenBackground(c RGB) RGB {
	if c == (RGB{}) {
		return RGB{B: 1}
	}
	return c
}

// orientationOps turns an EXIF orientation into a clockwise rotation in
// degrees followed by an optional left-right mirror.
func orientationOps(o int) (angle int, flip bool) {
	switch o {
	case 2:
		return 0, true
	case 3:
		return 180, false
	case 4:
		return 180, true
	case 5:
		return 90, true
	case 6:
		return 90, false
	case 7:
		return 270, true
	case 8:
		return 270, false
	}
	return 0, false
}

// Memory is what libvips has allocated now, in bytes: pixel buffers live
// outside the Go heap, so this is the part of RSS Go's metrics do not see.
func (v *Vips) Memory() int64 { return bimg.VipsMemory().Memory }
