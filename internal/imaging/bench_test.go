package imaging

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// benchmarkPhoto is a 4000x3000 (12 MP) JPEG that decodes about as slowly
// as a photograph.
func benchmarkPhoto(b *testing.B) []byte {
	b.Helper()
	return encodeJPEG(b, noiseImage(4000, 3000, 11))
}

// BenchmarkThumbnail makes thumbnails of a 12 MP JPEG on all cores (as the
// service does). Compare with BenchmarkVipsthumbnail: ns/op of the two are
// per image, at the same parallelism.
func BenchmarkThumbnail(b *testing.B) {
	photo := benchmarkPhoto(b)
	turned := withMetadata(photo, 6)
	v := newTestVips(b)
	cases := []struct {
		name string
		data []byte
		opts Options
	}{
		{"200x200/inside/jpeg", photo, Options{Width: 200, Height: 200, Format: JPEG}},
		{"200x200/cover/jpeg", photo, Options{Width: 200, Height: 200, Fit: Cover, Format: JPEG}},
		{"200x200/cover-attention/jpeg", photo, Options{Width: 200, Height: 200, Fit: Cover, Focus: Attention, Format: JPEG}},
		{"200x200/cover-entropy/jpeg", photo, Options{Width: 200, Height: 200, Fit: Cover, Focus: Entropy, Format: JPEG}},
		{"200x200/cover/jpeg/exif-turned", turned, Options{Width: 200, Height: 200, Fit: Cover, Format: JPEG}},
		{"200x200/cover/webp", photo, Options{Width: 200, Height: 200, Fit: Cover, Format: WebP}},
		{"200x200/cover/avif", photo, Options{Width: 200, Height: 200, Fit: Cover, Format: AVIF}},
		{"1024w/jpeg", photo, Options{Width: 1024, Format: JPEG}},
		{"1024w/webp", photo, Options{Width: 1024, Format: WebP}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Thumbnail(context.Background(), c.data, c.opts); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkVipsthumbnail runs libvips' own command, one process per image,
// on the same photograph: the baseline to beat.
func BenchmarkVipsthumbnail(b *testing.B) {
	bin, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		b.Skip("vipsthumbnail not installed (apt install libvips-tools)")
	}
	dir := b.TempDir()
	in := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(in, benchmarkPhoto(b), 0o600); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"200x200/inside/jpeg", []string{"-s", "200x200"}},
		{"200x200/cover/jpeg", []string{"-s", "200x200", "--smartcrop", "centre"}},
		{"200x200/cover-attention/jpeg", []string{"-s", "200x200", "--smartcrop", "attention"}},
		{"1024w/jpeg", []string{"-s", "1024x"}},
	}
	var n atomic.Int64
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					out := filepath.Join(dir, fmt.Sprintf("out%d.jpg[Q=80,strip]", n.Add(1)))
					args := append([]string{in}, c.args...)
					if err := exec.Command(bin, append(args, "-o", out)...).Run(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCrop compares the centred crop (_fill) with the attention and
// entropy crops (_smart, _entropy) on the sample photograph
// (scripts/sample/kleiber.jpg, 1600x900), one image at a time:
//
//	go test -run '^$' -bench BenchmarkCrop -benchtime 100x ./internal/imaging/
func BenchmarkCrop(b *testing.B) {
	photo, err := os.ReadFile("../../scripts/sample/kleiber.jpg")
	if err != nil {
		b.Fatal(err)
	}
	v := newTestVips(b)
	for _, c := range []struct {
		name  string
		focus Focus
	}{{"fill", Centre}, {"smart", Attention}, {"entropy", Entropy}} {
		b.Run("200x200/"+c.name, func(b *testing.B) {
			opts := Options{Width: 200, Height: 200, Fit: Cover, Focus: c.focus, Format: JPEG}
			for b.Loop() {
				if _, err := v.Thumbnail(context.Background(), photo, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
