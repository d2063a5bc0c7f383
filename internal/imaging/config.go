package imaging

import (
	"errors"
	"fmt"
)

// ErrInvalidOptions means the thumbnail options themselves are wrong (a
// caller's mistake, not the image's).
var ErrInvalidOptions = errors.New("invalid thumbnail options")

// MaxDimension is the largest width or height a thumbnail may have: the
// largest WebP, and the largest crop bimg makes.
const MaxDimension = 16383

// DefaultMaxPixels is the default limit on an original's pixel count.
const DefaultMaxPixels = 50_000_000

// Default encoder qualities, used when Options.Quality is 0.
const (
	DefaultJPEGQuality = 80
	DefaultWebPQuality = 80
	DefaultAVIFQuality = 60
)

// Config sets up the engine.
type Config struct {
	// MaxPixels is the largest width×height accepted, decided from the
	// header before any pixel is decoded. It also bounds the scaled
	// image a thumbnail is cut from.
	MaxPixels int64
	// Concurrency is the number of libvips worker threads per image. The
	// callers already make several thumbnails at once, so 1 gives the
	// best throughput; more helps one large image finish sooner.
	Concurrency int
	// AVIFEffort is the AVIF encoder's CPU effort, 0 (fastest) to 9
	// (smallest files). AVIF encoding is slow: above 4 it takes seconds
	// for a 1024-pixel thumbnail.
	AVIFEffort int
	// LibvipsWarnings lets libvips print its warnings to stderr; by
	// default they are dropped.
	LibvipsWarnings bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxPixels:   DefaultMaxPixels,
		Concurrency: 1,
		AVIFEffort:  2,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MaxPixels < 1 {
		return fmt.Errorf("max pixels %d: must be at least 1", c.MaxPixels)
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		return fmt.Errorf("concurrency %d: must be from 1 to 1024", c.Concurrency)
	}
	if c.AVIFEffort < 0 || c.AVIFEffort > 9 {
		return fmt.Errorf("AVIF effort %d: must be from 0 to 9", c.AVIFEffort)
	}
	return nil
}

// validate checks the options of one thumbnail.
func (o Options) validate() error {
	switch {
	case o.Width < 0 || o.Height < 0 || o.Width > MaxDimension || o.Height > MaxDimension:
		return fmt.Errorf("%w: box %dx%d: sides must be from 0 to %d", ErrInvalidOptions, o.Width, o.Height, MaxDimension)
	case o.Width == 0 && o.Height == 0:
		return fmt.Errorf("%w: box 0x0: give a width, a height or both", ErrInvalidOptions)
	case o.Fit != Inside && o.Fit != Cover:
		return fmt.Errorf("%w: unknown fit %d", ErrInvalidOptions, o.Fit)
	case o.Focus != Centre && o.Focus != Attention && o.Focus != Entropy:
		return fmt.Errorf("%w: unknown focus %d", ErrInvalidOptions, o.Focus)
	case o.Quality < 0 || o.Quality > 100:
		return fmt.Errorf("%w: quality %d: must be from 1 to 100, or 0 for the default", ErrInvalidOptions, o.Quality)
	}
	switch o.Format {
	case JPEG, PNG, WebP, AVIF:
		return nil
	}
	return fmt.Errorf("%w: cannot write format %q (want jpeg, png, webp or avif)", ErrInvalidOptions, o.Format)
}
