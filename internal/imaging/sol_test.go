package imaging

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/h2non/bimg"
)

// solChildEnv names the input and width for TestShrinkOnLoadChild.
const solChildEnv = "S3THUMB_IMAGING_SOL_CHILD"

// TestShrinkOnLoad proves that JPEG and WebP are decoded at a fraction of
// their size when the thumbnail is small (shrink-on-load), instead of being
// decoded whole and then shrunk. It measures libvips' own memory high-water
// mark, in a fresh process per thumbnail since the mark never goes down:
// a whole 3000x2000 RGB image is 18 MB; shrunk on load by 8 it is 0.3 MB.
// The cases that cannot shrink on load (PNG; a thumbnail more than a third
// of the original's size) are read sequentially, a strip at a time: more
// than a shrunk load, less than a whole image. A WebP to more than half its
// size, which libvips' WebP loader decodes whole into a frame of its own,
// shows that the measure sees a whole decode.
func TestShrinkOnLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("makes and decodes 6 MP images in child processes")
	}
	const w, h = 3000, 2000
	const whole = w * h * 3
	src := noiseImage(w, h, 5)
	jpg := encodeJPEG(t, src)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	jpgPath := write("in.jpg", jpg)
	webpPath := write("in.webp", mustResize(t, jpg, bimg.Options{Type: bimg.WEBP, Quality: 80}))
	pngPath := write("in.png", encodePNG(t, src))

	// libvips' WebP loader allocates (and frees) a whole-size RGBA frame
	// just to read the header; decoding whole needs that frame again and
	// the RGB image on top.
	const webpHeader = w * h * 4
	tests := []struct {
		name    string
		path    string
		width   int
		atLeast int64
		below   int64
	}{
		{"jpeg to 200", jpgPath, 200, 0, whole / 8},
		{"jpeg to 1024", jpgPath, 1024, 0, whole * 3 / 4},
		{"jpeg to 2000 streams", jpgPath, 2000, whole / 8, whole},
		{"webp to 200", webpPath, 200, 0, webpHeader + whole/8},
		{"webp to 2000 decodes whole", webpPath, 2000, webpHeader + whole, 1 << 62},
		{"png to 200 streams", pngPath, 200, whole / 16, whole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestShrinkOnLoadChild$", "-test.v")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", solChildEnv, tt.path, tt.width))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var mark int64
			i := bytes.Index(out, []byte("HIGHWATER "))
			if i < 0 {
				t.Fatalf("child printed no mark:\n%s", out)
			}
			if _, err := fmt.Sscanf(string(out[i:]), "HIGHWATER %d", &mark); err != nil {
				t.Fatal(err)
			}
			t.Logf("libvips memory high-water mark: %.1f MB (whole image %.1f MB)", float64(mark)/1e6, float64(whole)/1e6)
			if mark < tt.atLeast || mark >= tt.below {
				t.Errorf("high-water mark %d, want in [%d, %d)", mark, tt.atLeast, tt.below)
			}
		})
	}
}

// TestShrinkOnLoadChild makes one thumbnail and prints libvips' memory
// high-water mark. It runs only as TestShrinkOnLoad's child.
func TestShrinkOnLoadChild(t *testing.T) {
	spec := os.Getenv(solChildEnv)
	if spec == "" {
		t.Skip("run by TestShrinkOnLoad in a process of its own")
	}
	var path string
	var width int
	if _, err := fmt.Sscanf(spec, "%s %d", &path, &width); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVips(t)
	if _, err := v.Thumbnail(context.Background(), data, Options{Width: width, Format: JPEG}); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("HIGHWATER %d\n", bimg.VipsMemory().MemoryHighwater)
}
