package imaging

import (
	"context"
	"errors"
	"testing"

	"github.com/h2non/bimg"
)

// FuzzThumbnail feeds arbitrary bytes and options to the whole engine. It
// must never panic, every error must be one of the typed ones, and a
// success must be an image that decodes to the size it claims.
func FuzzThumbnail(f *testing.F) {
	for i, seed := range headerSeeds(f) {
		f.Add(seed, uint16(40+i), uint16(30), i%2 == 0, uint8(i))
	}
	cfg := DefaultConfig()
	cfg.MaxPixels = 4_000_000 // keep every run small
	v, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, w, h uint16, cover bool, format uint8) {
		opts := Options{
			Width:   int(w % 512),
			Height:  int(h % 512),
			Format:  outputFormats[int(format)%len(outputFormats)],
			Enlarge: format&0x80 != 0,
		}
		if cover {
			opts.Fit = Cover
		}
		if opts.Format == AVIF { // slow to encode
			opts.Width, opts.Height = opts.Width%64, opts.Height%64
		}
		img, err := v.Thumbnail(context.Background(), data, opts)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedImage) && !errors.Is(err, ErrTooManyPixels) && !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if img.Width < 1 || img.Height < 1 || (opts.Width > 0 && img.Width > opts.Width) ||
			(opts.Height > 0 && img.Height > opts.Height) || int64(img.Width)*int64(img.Height) > cfg.MaxPixels {
			t.Fatalf("size %dx%d does not fit %+v", img.Width, img.Height, opts)
		}
		// Decode it fully.
		png, err := bimg.Resize(img.Data, bimg.Options{Type: bimg.PNG, NoAutoRotate: true})
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		size, err := bimg.Size(png)
		if err != nil {
			t.Fatal(err)
		}
		if size.Width != img.Width || size.Height != img.Height {
			t.Fatalf("output is %dx%d, Image says %dx%d", size.Width, size.Height, img.Width, img.Height)
		}
	})
}
