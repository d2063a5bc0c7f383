package imaging

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
)

// progressiveJPEG encodes img as a progressive JPEG with
// libvips' command line (libvips-tools, installed with libvips by
// scripts/install-deps.sh), whose jpegsave, unlike bimg's, sets chroma
// subsampling and restart markers. args are jpegsave's options.
func progressiveJPEG(t testing.TB, img image.Image, args ...string) []byte {
	t.Helper()
	vips, err := exec.LookPath("vips")
	if err != nil {
		t.Fatalf("the vips command (Debian: libvips-tools, see scripts/install-deps.sh): %v", err)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.jpg")
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vips, append([]string{"jpegsave", src, dst, "--interlace"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", cmd, err, out)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// grey is img in shades of grey.
func grey(img image.Image) image.Image {
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g
}

// TestEighthScansSamePixels checks that a progressive JPEG decoded at an
// eighth without the AC scans it does not read makes the same thumbnail,
// byte for byte, as the whole file, that libvips reads it without a
// warning, and that it is smaller: for every chroma layout (4:4:4, where
// every scan but the DC ones goes; 4:2:0, whose chroma keeps its own;
// grey), sizes that are not whole blocks, and restart markers.
func TestEighthScansSamePixels(t *testing.T) {
	v := newTestVips(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"444", progressiveJPEG(t, imagingtest.Photo(1601, 905), "--Q", "92", "--subsample-mode", "off")},
		{"420", progressiveJPEG(t, imagingtest.Photo(1601, 905), "--Q", "80", "--subsample-mode", "on")},
		{"420 even", progressiveJPEG(t, imagingtest.Photo(1600, 912), "--Q", "80", "--subsample-mode", "on")},
		{"444 restart markers", progressiveJPEG(t, imagingtest.Photo(1203, 807), "--Q", "85", "--subsample-mode", "off", "--restart-interval", "3")},
		{"420 restart markers", progressiveJPEG(t, imagingtest.Photo(1203, 807), "--Q", "85", "--subsample-mode", "on", "--restart-interval", "1")},
		{"grey", progressiveJPEG(t, grey(imagingtest.Photo(999, 1333)), "--Q", "80")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readHeader(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if !h.huffmanProgressive {
				t.Fatal("not a progressive JPEG")
			}
			lean := eighthScans(tt.data, h)
			if lean == nil {
				t.Fatal("eighthScans replaced nothing")
			}
			if len(lean) >= len(tt.data)*3/4 {
				t.Errorf("eighthScans: %d bytes of %d: want far fewer", len(lean), len(tt.data))
			}
			for _, opts := range []Options{
				{Width: 100, Height: 100, Format: JPEG},
				{Width: 60, Height: 60, Fit: Cover, Format: WebP},
				{Width: 80, Height: 0, Format: PNG},
			} {
				sameLeanThumbnail(t, v, h, tt.data, lean, opts)
			}
			if err := checkDecode(lean); err != nil {
				t.Errorf("the lean file does not decode cleanly: %v", err)
			}
		})
	}
}

// sameLeanThumbnail checks that the thumbnail with opts of lean,
// eighthScans' rewrite of data (header h), is byte for byte the whole
// file's, and that libvips reads lean without a warning.
func sameLeanThumbnail(t *testing.T, v *Vips, h header, data, lean []byte, opts Options) {
	t.Helper()
	dw, dh := h.displaySize()
	p := v.plan(h, planGeometry(dw, dh, opts), opts)
	if p.loadShrink != 8 {
		t.Fatalf("%+v: shrink on load %d, want 8", opts, p.loadShrink)
	}
	want, err := p.run(data)
	if err != nil {
		t.Fatal(err)
	}
	warnings := vipsWarnings()
	got, err := p.run(lean)
	if err != nil {
		t.Fatal(err)
	}
	if n := vipsWarnings() - warnings; n != 0 {
		t.Errorf("%+v: libvips warned %d times about the lean file", opts, n)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%+v: the thumbnail differs from the whole file's (%d vs %d bytes)", opts, len(got), len(want))
	}
}

// TestEighthScansUsed checks when Thumbnail takes the lean path: a
// progressive JPEG shrunk by 8 on load, not one shrunk less, nor a
// baseline JPEG.
func TestEighthScansUsed(t *testing.T) {
	v := newTestVips(t)
	progressive := progressiveJPEG(t, imagingtest.Photo(1600, 1200), "--Q", "80")
	baseline := imagingtest.JPEG(imagingtest.Photo(1600, 1200))
	tests := []struct {
		name string
		data []byte
		opts Options
		lean bool
	}{
		{"progressive 200", progressive, Options{Width: 200, Height: 200, Format: JPEG}, true},
		{"progressive 200 cover", progressive, Options{Width: 150, Height: 150, Fit: Cover, Format: AVIF}, true},
		{"progressive 400", progressive, Options{Width: 400, Height: 400, Format: JPEG}, false},
		{"baseline 200", baseline, Options{Width: 200, Height: 200, Format: JPEG}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := eighthLoads.Load()
			img, err := v.Thumbnail(context.Background(), tt.data, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.opts.Format != AVIF {
				if b := decode(t, img).Bounds(); b.Dx() != img.Width || b.Dy() != img.Height {
					t.Errorf("decodes at %v, says %dx%d", b, img.Width, img.Height)
				}
			}
			if got := eighthLoads.Load() > before; got != tt.lean {
				t.Errorf("lean load %v, want %v", got, tt.lean)
			}
		})
	}
}

// TestEighthScansRefuses checks that files whose layout after the first
// scan is not a plain one are read whole: baseline, truncated, a marker
// it does not know, a scan naming a component the frame has not.
func TestEighthScansRefuses(t *testing.T) {
	prog := progressiveJPEG(t, imagingtest.Photo(640, 480), "--Q", "80", "--subsample-mode", "off")
	h, err := readHeader(prog)
	if err != nil {
		t.Fatal(err)
	}
	if eighthScans(prog, h) == nil {
		t.Fatal("the sound file is refused")
	}
	second := h.scan + 2 + bytes.Index(prog[h.scan+2:], []byte{0xFF, 0xDA}) // the second scan's marker
	withMarker := func(m byte) []byte {
		out := append([]byte{}, prog[:second]...)
		out = append(out, 0xFF, m, 0, 4, 0, 0)
		return append(out, prog[second:]...)
	}
	badComponent := append([]byte{}, prog...)
	badComponent[second+5] = 0x7F // the scan's first component identifier
	baseline := imagingtest.JPEG(imagingtest.Photo(640, 480))
	bh, err := readHeader(baseline)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		h    header
	}{
		{"baseline", baseline, bh},
		{"truncated in a scan", prog[:second+200], h},
		{"truncated after a scan", prog[:second], h},
		{"no end-of-image marker", prog[:len(prog)-2], h},
		{"define number of lines", withMarker(0xDC), h},
		{"second frame header", withMarker(0xC2), h},
		{"unknown component", badComponent, h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eighthScans(tt.data, tt.h); got != nil {
				t.Errorf("eighthScans made %d bytes, want nil", len(got))
			}
		})
	}
}

// FuzzEighthScans feeds damaged progressive JPEGs to eighthScans: it must
// never panic, and what it makes must have a readable header.
func FuzzEighthScans(f *testing.F) {
	f.Add(progressiveJPEG(f, imagingtest.Photo(320, 200), "--Q", "80"))
	f.Add(progressiveJPEG(f, imagingtest.Photo(99, 77), "--Q", "90", "--subsample-mode", "off", "--restart-interval", "2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readHeader(data)
		if err != nil {
			return
		}
		if lean := eighthScans(data, h); lean != nil {
			if _, err := readHeader(lean); err != nil {
				t.Fatalf("eighthScans made an unreadable header: %v", err)
			}
		}
	})
}

// TestEighthScansDamage checks that damage in the scans a lean decode
// reads, the DC ones, is still refused, and that damage in the AC scans
// it skips no longer matters: the thumbnail is the undamaged file's.
func TestEighthScansDamage(t *testing.T) {
	v := newTestVips(t)
	data := progressiveJPEG(t, imagingtest.Photo(1600, 1200), "--Q", "80", "--subsample-mode", "off")
	h, err := readHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Width: 150, Height: 150, Format: JPEG}
	want, err := v.Thumbnail(context.Background(), data, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The first scan is the DC one; the last, an AC refinement (libjpeg's
	// progressive script).
	first := h.scan + (int(data[h.scan])<<8 | int(data[h.scan+1]))
	last := bytes.LastIndex(data, []byte{0xFF, 0xDA})
	damage := func(at int) []byte {
		d := append([]byte{}, data...)
		for i := at; i < at+64; i++ {
			d[i] ^= 0x5A
			if d[i] == 0xFF {
				d[i] = 0x7E
			}
		}
		return d
	}
	if _, err := v.Thumbnail(context.Background(), damage(first+40), opts); !errors.Is(err, ErrUnsupportedImage) {
		t.Errorf("damaged DC scan: %v, want ErrUnsupportedImage", err)
	}
	got, err := v.Thumbnail(context.Background(), damage(last+200), opts)
	if err != nil {
		t.Fatalf("damaged AC scan: %v", err)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Error("damaged AC scan: the thumbnail differs from the undamaged file's")
	}
}

// withoutScans returns data, a progressive JPEG, without the scans after
// the first for which drop, given the scan header's component count,
// identifiers and table selectors, Ss, Se and Ah/Al, returns true.
func withoutScans(t testing.TB, data []byte, drop func(hdr []byte) bool) []byte {
	t.Helper()
	h, err := readHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, data[:h.scan-2]...)
	for i := h.scan - 2; ; {
		if i+2 > len(data) || data[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		if data[i+1] == 0xD9 {
			return append(out, data[i:]...)
		}
		if i+4 > len(data) {
			t.Fatalf("no segment length at %d", i)
		}
		end := i + 2 + (int(data[i+2])<<8 | int(data[i+3]))
		if data[i+1] != 0xDA {
			out = append(out, data[i:end]...)
			i = end
			continue
		}
		next := entropyEnd(data, end)
		if next < 0 {
			t.Fatal("a scan does not end")
		}
		if i == h.scan-2 || !drop(data[i+4:end]) {
			out = append(out, data[i:next]...)
		}
		i = next
	}
}

// TestEighthScansUncodedComponent checks a progressive JPEG that codes no
// AC coefficient of one component (a legal progression): libjpeg
// interpolates that component's DC coefficients across blocks, and the
// lean file must not stop it by giving the component an all-zero scan.
func TestEighthScansUncodedComponent(t *testing.T) {
	v := newTestVips(t)
	for _, tt := range []struct {
		name string
		ids  string // the components whose AC scans are left out
	}{
		{"Cr", "\x03"},
		{"Cb and Cr", "\x02\x03"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := withoutScans(t, progressiveJPEG(t, imagingtest.Photo(1001, 777), "--Q", "85", "--subsample-mode", "off"),
				func(hdr []byte) bool { return hdr[1+2*int(hdr[0])] != 0 && strings.IndexByte(tt.ids, hdr[1]) >= 0 })
			if err := checkDecode(data); err != nil {
				t.Fatalf("the file does not decode cleanly: %v", err)
			}
			h, err := readHeader(data)
			if err != nil {
				t.Fatal(err)
			}
			lean := eighthScans(data, h)
			if lean == nil {
				t.Fatal("eighthScans replaced nothing")
			}
			sameLeanThumbnail(t, v, h, data, lean, Options{Width: 80, Height: 80, Format: PNG})
		})
	}
}

// TestEighthScansRefusesBadScanHeaders checks that a scan libjpeg refuses
// outright, for its progression parameters or its Huffman table, makes
// the file refused even when it is one eighthScans would drop: the lean
// file must not turn an image libvips cannot read into one it can.
func TestEighthScansRefusesBadScanHeaders(t *testing.T) {
	v := newTestVips(t)
	prog := progressiveJPEG(t, imagingtest.Photo(640, 480), "--Q", "80", "--subsample-mode", "off")
	h, err := readHeader(prog)
	if err != nil {
		t.Fatal(err)
	}
	// The second scan is an AC one of the luma: FF DA, length, 1, its
	// identifier, tables, Ss, Se, Ah/Al.
	second := h.scan + 2 + bytes.Index(prog[h.scan+2:], []byte{0xFF, 0xDA})
	if prog[second+4] != 1 || prog[second+7] == 0 {
		t.Fatalf("the second scan is not an AC one: % x", prog[second:second+10])
	}
	set := func(at int, b byte) []byte {
		d := append([]byte{}, prog...)
		d[second+at] = b
		return d
	}
	twoComponents := append([]byte{}, prog[:second]...)
	twoComponents = append(twoComponents, 0xFF, 0xDA, 0, 10, 2, prog[second+5], prog[second+6], 2, prog[second+6], prog[second+7], prog[second+8], prog[second+9])
	twoComponents = append(twoComponents, prog[second+10:]...)
	// A table with three codes of one bit, for the scan's AC table.
	bogusTable := append([]byte{}, prog[:second]...)
	bogusTable = append(bogusTable, 0xFF, 0xC4, 0, 2+1+16+3, 0x10|prog[second+6]&15, 3)
	bogusTable = append(bogusTable, make([]byte, 15)...)
	bogusTable = append(bogusTable, 0, 1, 2)
	bogusTable = append(bogusTable, prog[second:]...)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"Se 64", set(8, 64)},
		{"Ss after Se", set(7, 10)},
		{"Al 14", set(9, 14)},
		{"refinement Al not Ah-1", set(9, 0x20)},
		{"AC scan of two components", twoComponents},
		{"undefined AC table", set(6, 3)},
		{"bogus AC table", bogusTable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readHeader(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{Width: 60, Height: 60, Format: JPEG}
			dw, dh := h.displaySize()
			if _, err := v.plan(h, planGeometry(dw, dh, opts), opts).run(tt.data); err == nil {
				t.Fatal("libvips reads the whole file")
			}
			if got := eighthScans(tt.data, h); got != nil {
				t.Errorf("eighthScans made %d bytes, want nil", len(got))
			}
			if _, err := v.Thumbnail(context.Background(), tt.data, opts); !errors.Is(err, ErrUnsupportedImage) {
				t.Errorf("Thumbnail: %v, want ErrUnsupportedImage", err)
			}
		})
	}
}
