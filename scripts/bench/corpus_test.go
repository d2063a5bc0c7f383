package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"usr/share/wallpapers/Volna/contents/images/5120x2880.jpg":     "volna-5120x2880",
		"usr/share/wallpapers/Flow/contents/images_dark/5120x2880.jpg": "flow-images-dark-5120x2880",
		"usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg":           "kleiber-by-lukas-baubkus",
		"usr/share/backgrounds/mate/nature/Wood.jpg":                   "mate-nature-wood",
		"usr/share/backgrounds/ünïcode (1).JPG":                        "n-code-1",
	}
	for in, want := range tests {
		got := slug(in)
		if got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
		// Every slug must make a thumbnail key that parses back to it.
		v, err := parseVariant("200x200_fill.jpg")
		if err != nil {
			t.Fatal(err)
		}
		k, err := parseVariant(v.keyFor(got)[len(got)+1:])
		if err != nil || k.suffix != "200x200_fill.jpg" {
			t.Errorf("key for %q does not parse: %v", got, err)
		}
	}
}

func TestSpread(t *testing.T) {
	s := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	tests := []struct {
		n    int
		want []int
	}{
		{0, nil},
		{1, []int{0}},
		{2, []int{0, 8}},
		{3, []int{0, 4, 8}},
		{4, []int{0, 2, 5, 8}},
		{9, s},
		{20, s},
	}
	for _, tt := range tests {
		if got := spread(s, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("spread(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestPickCorpus(t *testing.T) {
	p := func(name string, w, h int) photo { return photo{Name: name, Width: w, Height: h} }
	all := []photo{
		p("tiny", 800, 600),       // 0.5 MP: out
		p("huge", 6000, 4000),     // 24 MP: out
		p("a-20mp", 6028, 3391),   // large
		p("b-15mp", 5120, 2880),   // large
		p("c-15mp", 5120, 2880),   // large
		p("s-4mp", 2560, 1600),    // small
		p("s-5mp", 2560, 1920),    // small
		p("s-2mp", 1920, 1080),    // small
		p("s-8.3mp", 3840, 2160),  // just over 8 MP: out
		p("gap-10mp", 4000, 2500), // between the ranges: out
	}
	names := func(ps []photo) []string {
		var out []string
		for _, x := range ps {
			out = append(out, x.Name)
		}
		return out
	}
	got := names(pickCorpus(all, 12, 2))
	if want := []string{"a-20mp", "b-15mp", "c-15mp", "s-5mp", "s-2mp"}; !slices.Equal(got, want) {
		t.Errorf("pickCorpus = %q, want %q", got, want)
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	if again := names(pickCorpus(rev, 12, 2)); !slices.Equal(again, got) {
		t.Errorf("pickCorpus depends on input order: %q vs %q", again, got)
	}
	if got := names(pickCorpus(all, 2, 0)); !slices.Equal(got, []string{"a-20mp", "b-15mp"}) {
		t.Errorf("pickCorpus(2, 0) = %q", got)
	}
	if got := names(quickCorpus(pickCorpus(all, 12, 3))); !slices.Equal(got, []string{"a-20mp", "b-15mp", "s-5mp"}) {
		t.Errorf("quickCorpus = %q", got)
	}
}

func TestUniqueNames(t *testing.T) {
	ps := []photo{{Name: "a"}, {Name: "b"}, {Name: "a"}, {Name: "a"}}
	uniqueNames(ps)
	var got []string
	for _, p := range ps {
		got = append(got, p.Name)
	}
	if want := []string{"a", "b", "a-2", "a-3"}; !slices.Equal(got, want) {
		t.Errorf("uniqueNames = %q, want %q", got, want)
	}
}

// TestWithOrientation: the copy carries exactly one EXIF segment, with the
// orientation asked for, and is the same image (vipsheader reads the tag
// back as libvips sees it).
func TestWithOrientation(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 40, 30)), nil); err != nil {
		t.Fatal(err)
	}
	first, err := withOrientation(buf.Bytes(), 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for o := 1; o <= 8; o++ {
		data, err := withOrientation(first, o) // replaces the EXIF of the first copy
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(data, []byte("Exif\x00\x00")); n != 1 {
			t.Fatalf("orientation %d: %d EXIF segments, want 1", o, n)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != 40 || cfg.Height != 30 {
			t.Fatalf("orientation %d: %+v, %v", o, cfg, err)
		}
		path := filepath.Join(dir, "o.jpg")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("vipsheader", "-f", "orientation", path).Output()
		if err != nil {
			t.Skipf("vipsheader: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != strconv.Itoa(o) {
			t.Errorf("libvips reads orientation %s, want %d", got, o)
		}
	}
}
