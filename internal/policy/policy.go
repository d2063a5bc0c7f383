// Package policy is the size policy: which thumbnail boxes may be made,
// decided from the key alone, before any original is read, so that
// arbitrary sizes cost nothing. serve, work and enqueue apply the same one.
// It is a leaf: commands that only check sizes link no image engine.
package policy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// ErrSizeNotAllowed means the size policy refuses the requested box.
var ErrSizeNotAllowed = errors.New("size not allowed")

// DefaultMaxDimension is the default largest output side, in pixels: what
// a page shows on a 2x screen up to 1024 CSS pixels wide. Past it a single
// cheap URL (photo_4096x4096_fit.png) costs seconds of CPU and megabytes
// stored; sites that need more raise --max-dimension.
const DefaultMaxDimension = 2048

// Policy decides which boxes may be made. It is checked before the original
// is touched, so that arbitrary sizes cost nothing (no denial of wallet).
type Policy struct {
	// AllowedSizes, when not empty, are the only boxes served (in CSS
	// pixels, any mode; the density multiplies them).
	AllowedSizes []thumbkey.Box
	// MaxDimension is the largest output side in pixels, density included.
	MaxDimension int
}

// ParseSizes parses a comma-separated list of boxes: "200x200,400x,x300".
func ParseSizes(s string) ([]thumbkey.Box, error) {
	return thumbkey.ParseList(s, thumbkey.ParseBox)
}

// Validate checks the policy itself.
func (p Policy) Validate() error {
	if p.MaxDimension < 1 || p.MaxDimension > thumbkey.MaxSide {
		return fmt.Errorf("max dimension %d: must be from 1 to %d", p.MaxDimension, thumbkey.MaxSide)
	}
	return nil
}

// Check returns an error wrapping ErrSizeNotAllowed when k's box may not be
// made.
func (p Policy) Check(k thumbkey.Key) error { return p.CheckSize(k.Size()) }

// CheckSize reports whether thumbnails of size z may be made: its box is
// one of AllowedSizes (when any are set) and its pixels, density included,
// are within MaxDimension. Refusals wrap ErrSizeNotAllowed.
func (p Policy) CheckSize(z thumbkey.Size) error {
	if len(p.AllowedSizes) > 0 {
		box := thumbkey.Box{Width: z.Width, Height: z.Height}
		if !slices.Contains(p.AllowedSizes, box) {
			return fmt.Errorf("%w: %s is not one of the allowed sizes", ErrSizeNotAllowed, box)
		}
	}
	d := max(z.Density, 1)
	if w, h := z.Width*d, z.Height*d; w > p.MaxDimension || h > p.MaxDimension {
		return fmt.Errorf("%w: %dx%d pixels is larger than the maximum of %d per side", ErrSizeNotAllowed, w, h, p.MaxDimension)
	}
	return nil
}
