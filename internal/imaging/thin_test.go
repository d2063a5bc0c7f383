package imaging

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// A valid 4000x1 JPEG (a banner strip) asked for a 100x100 thumbnail: the
// pipeline shrinks the 1-pixel side to nothing and libvips aborts the whole
// process (g_assert in vips_image_generate), not an error.
func TestThinJPEGDoesNotKillTheProcess(t *testing.T) {
	if os.Getenv("S3THUMB_TEST_CHILD") == "1" {
		v := newTestVips(t)
		_, err := v.Thumbnail(context.Background(), encodeJPEG(t, noiseImage(4000, 1, 3)), Options{Width: 100, Height: 100, Format: JPEG})
		t.Logf("child: err=%v", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestThinJPEGDoesNotKillTheProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "S3THUMB_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		n := len(out)
		if n > 600 {
			n = 600
		}
		t.Fatalf("Thumbnail of a valid 4000x1 JPEG crashed the process (%v):\n%s", err, out[:n])
	}
}

// The same strip as PNG is refused: a valid image gets an error instead of a
// 100x1 thumbnail (geometry promises sides of at least 1).
func TestThinPNGIsMade(t *testing.T) {
	v := newTestVips(t)
	for _, d := range [][]byte{encodePNG(t, noiseImage(4000, 1, 3)), encodePNG(t, noiseImage(2000, 2, 3))} {
		if _, err := v.Thumbnail(context.Background(), d, Options{Width: 100, Height: 100, Format: JPEG}); err != nil {
			t.Errorf("%v", err)
		}
	}
}
