package backfill

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// ErrBadSpec means a size, format or date given on the command line cannot
// be read.
var ErrBadSpec = errors.New("bad backfill specification")

// Size is one thumbnail size to make of every original: a box, and
// optionally a mode and a density, as they appear in a thumbnail key
// ("400x_fit@2x"). The key grammar owns it.
type Size = thumbkey.Size

// ParseSizes reads a comma-separated list of sizes written as in a
// thumbnail key: SIZE[_MODE][@Dx], e.g. "200x200,400x_fit,x300_fill@2x".
// A size listed twice is made once.
func ParseSizes(s string) ([]Size, error) {
	sizes, err := thumbkey.ParseList(s, thumbkey.ParseSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	return sizes, nil
}

// ParseFormats reads a comma-separated list of thumbnail extensions: jpg,
// jpeg, png, webp or avif (any case, kept as written, a leading dot
// dropped). One listed twice is made once.
func ParseFormats(s string) ([]string, error) {
	return thumbkey.ParseList(s, func(ext string) (string, error) {
		ext = strings.TrimPrefix(ext, ".")
		if _, ok := thumbkey.FormatOf(ext); !ok {
			return "", fmt.Errorf("%w: format %q: want jpg, jpeg, png, webp or avif", ErrBadSpec, ext)
		}
		return ext, nil
	})
}

// ParseSince reads a date (2026-01-02, midnight UTC) or a time in RFC 3339
// (2026-01-02T15:04:05Z).
func ParseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: date %q: want YYYY-MM-DD or an RFC 3339 time such as 2026-01-02T15:04:05Z", ErrBadSpec, s)
}
