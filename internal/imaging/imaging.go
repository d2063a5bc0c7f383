// Package imaging makes thumbnails with libvips (through bimg). It is the one
// place that knows about the image engine: the rest of s3thumb sees Resizer,
// Options and the typed errors, so the engine can be swapped.
package imaging

import (
	"errors"
	"fmt"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

var (
	// ErrUnsupportedImage means the input is not an image we read: empty,
	// corrupt, truncated, or of a format outside the allowed ones.
	ErrUnsupportedImage = errors.New("unsupported or corrupt image")
	// ErrTooManyPixels means the input's header declares more pixels than
	// the limit (a decompression bomb, or just too large).
	ErrTooManyPixels = errors.New("image has too many pixels")
	// ErrDamagedImage means the image's header is sound and its pixel data
	// is not: the decoder found data missing or corrupt (a file cut short
	// and given an end, a compressed stream that stops early), and a
	// thumbnail of it would show grey, black or scrambled areas. It wraps
	// ErrUnsupportedImage.
	ErrDamagedImage = fmt.Errorf("%w: damaged image data", ErrUnsupportedImage)
)

// Format is an image format: the one a thumbnail key names (package
// thumbkey owns it), or one an original may be in.
type Format = thumbkey.Format

// The formats thumbnails are written in (originals may be in them too).
const (
	JPEG = thumbkey.JPEG
	PNG  = thumbkey.PNG
	WebP = thumbkey.WebP
	AVIF = thumbkey.AVIF
)

// The formats originals may be in that thumbnails are not written in.
const (
	HEIF = thumbkey.HEIF
	GIF  = thumbkey.GIF
)

// Fit is how the image meets the box.
type Fit int

const (
	// Inside scales the image to fit inside the box, aspect ratio kept.
	Inside Fit = iota
	// Cover scales the image to cover the box and crops it to exactly the
	// box, where Options.Focus says.
	Cover
)

// Focus is the part of the scaled image Cover keeps when it crops.
type Focus int

const (
	// Centre keeps the centred box.
	Centre Focus = iota
	// Attention keeps the box around what draws the eye, by libvips'
	// attention measure (skin tones, saturated colour, edges: its
	// vips_smartcrop with interesting=attention).
	Attention
	// Entropy keeps the box with the most detail, by libvips' entropy
	// measure (vips_smartcrop with interesting=entropy).
	Entropy
)

// RGB is an opaque colour.
type RGB struct{ R, G, B uint8 }

// Options say what thumbnail to make.
type Options struct {
	// Width and Height are the box in output pixels; one of them may be 0
	// (free: it follows the aspect ratio). Cover needs both; with a free
	// side it is the same as Inside.
	Width, Height int
	Fit           Fit
	// Focus is where Cover crops; Inside ignores it.
	Focus   Focus
	Format  Format
	Quality int // 1-100; 0 for the format's default
	// Background is what transparent pixels are flattened onto when the
	// output format has no alpha channel (JPEG).
	Background RGB
	// Enlarge allows output larger than the input; without it an image
	// smaller than the box is not scaled up. (Cover then still crops it,
	// centred, to the box's aspect ratio: the largest such part of it.)
	Enlarge bool
}

// Info is what an image's header says.
type Info struct {
	Width, Height int // as stored, before EXIF rotation
	Format        Format
}

// Image is an encoded thumbnail.
type Image struct {
	Data          []byte
	Format        Format
	Width, Height int
}
