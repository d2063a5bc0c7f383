package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseVariant(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		key     string
		vipsArg []string
	}{
		{"200x200_fill.jpg", true, "earth_200x200_fill.jpg", []string{"in", "--size", "200x200", "--smartcrop", "centre", "-o", "out[Q=80,strip]"}},
		{"200x200_fit.jpg", true, "earth_200x200_fit.jpg", []string{"in", "--size", "200x200", "-o", "out[Q=80,strip]"}},
		{"1024x_fit.jpg", true, "earth_1024x_fit.jpg", []string{"in", "--size", "1024x", "-o", "out[Q=80,strip]"}},
		{"200x200_fill.webp", true, "earth_200x200_fill.webp", []string{"in", "--size", "200x200", "--smartcrop", "centre", "-o", "out[Q=80,strip]"}},
		{"x300_fill.jpg", true, "earth_x300_fill.jpg", []string{"in", "--size", "x300", "-o", "out[Q=80,strip]"}},
		{"100x100_fill@2x.jpg", true, "earth_100x100_fill@2x.jpg", []string{"in", "--size", "200x200", "--smartcrop", "centre", "-o", "out[Q=80,strip]"}},
		{"200x200_smart.jpg", true, "earth_200x200_smart.jpg", []string{"in", "--size", "200x200", "--smartcrop", "attention", "-o", "out[Q=80,strip]"}},
		{"200x200_entropy.webp", true, "earth_200x200_entropy.webp", []string{"in", "--size", "200x200", "--smartcrop", "entropy", "-o", "out[Q=80,strip]"}},
		{"400x_smart.jpg", true, "earth_400x_smart.jpg", []string{"in", "--size", "400x", "-o", "out[Q=80,strip]"}},
		{"200x200.jpg", false, "", nil},      // no mode
		{"200x200_fill.png", false, "", nil}, // not compared
		{"200x200_fill.avif", true, "earth_200x200_fill.avif", []string{"in", "--size", "200x200", "--smartcrop", "centre", "-o", "out[Q=80,strip,effort=2]"}},
		{"fill.jpg", false, "", nil},
		{"200y200_fill.jpg", false, "", nil},
		{"", false, "", nil},
		{"a/200x200_fill.jpg", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := parseVariant(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("parseVariant(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if got := v.keyFor("earth"); got != tt.key {
				t.Errorf("keyFor = %q, want %q", got, tt.key)
			}
			if got := v.vipsArgs("in", "out", 80); !slices.Equal(got, tt.vipsArg) {
				t.Errorf("vipsArgs = %q, want %q", got, tt.vipsArg)
			}
		})
	}
}

func TestParseVariants(t *testing.T) {
	vs, err := parseVariants(defaultVariants)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.suffix)
	}
	if want := []string{"200x200_fill.jpg", "200x200_smart.jpg", "200x200_fit.jpg", "1024x_fit.jpg", "200x200_fill.webp", "200x200_fill.avif"}; !slices.Equal(got, want) {
		t.Errorf("variants = %q, want %q", got, want)
	}
	for _, bad := range []string{"", " , ", "200x200_fill.jpg,nope"} {
		if _, err := parseVariants(bad); err == nil {
			t.Errorf("parseVariants(%q) succeeded", bad)
		}
	}
}

func TestCheckSize(t *testing.T) {
	tests := []struct {
		variant      string
		w, h, gw, gh int
		ok           bool
		why          string
	}{
		{"200x200_fill.jpg", 6000, 4000, 200, 200, true, "fill is exact"},
		{"200x200_fill.jpg", 6000, 4000, 200, 199, false, "fill has no slack"},
		{"200x200_fill.jpg", 6000, 4000, 300, 200, false, "not cropped"},
		{"200x200_fit.jpg", 6000, 4000, 200, 133, true, "landscape fit"},
		{"200x200_fit.jpg", 6000, 4000, 200, 134, true, "rounding slack of one pixel"},
		{"200x200_fit.jpg", 6000, 4000, 200, 200, false, "stretched"},
		{"200x200_fit.jpg", 4000, 6000, 133, 200, true, "portrait fit"},
		{"1024x_fit.jpg", 5120, 2880, 1024, 576, true, "free height"},
		{"1024x_fit.jpg", 5120, 2880, 1024, 580, false, "wrong height"},
		{"1024x_fit.jpg", 800, 600, 800, 600, true, "no enlarging"},
		{"1024x_fit.jpg", 800, 600, 1024, 768, false, "enlarged"},
		{"200x200_fill.jpg", 150, 400, 150, 200, true, "smaller than the box on one side"},
		{"200x200_smart.jpg", 6000, 4000, 200, 200, true, "smart is exact"},
		{"200x200_smart.jpg", 6000, 4000, 300, 200, false, "smart not cropped"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			v, err := parseVariant(tt.variant)
			if err != nil {
				t.Fatal(err)
			}
			err = v.checkSize(tt.w, tt.h, tt.gw, tt.gh)
			if (err == nil) != tt.ok {
				t.Errorf("checkSize(%dx%d -> %dx%d) = %v, want ok=%v", tt.w, tt.h, tt.gw, tt.gh, err, tt.ok)
			}
		})
	}
}

// TestSameOutputCorpus: the unoriented twin of a copy turned by a quarter
// asks for the box with its sides swapped, and so makes a thumbnail of the
// size the turned copy's has, on its side; the others ask for the box as
// it is.
func TestSameOutputCorpus(t *testing.T) {
	ps := []photo{{Name: "a", Width: 6000, Height: 3000}, {Name: "b", Width: 4000, Height: 3000}}
	oriented := []photo{{Name: "a-o6", Width: 3000, Height: 6000}, {Name: "b-o3", Width: 4000, Height: 3000}}
	twins := sameOutputCorpus(ps, oriented)
	for _, tt := range []struct {
		suffix string
		keys   [2]string
	}{
		{"1024x_fit.jpg", [2]string{"a_x1024_fit.jpg", "b_1024x_fit.jpg"}},
		{"300x200_fill.webp", [2]string{"a_200x300_fill.webp", "b_300x200_fill.webp"}},
		{"200x200_fill.jpg", [2]string{"a_200x200_fill.jpg", "b_200x200_fill.jpg"}},
	} {
		v, err := parseVariant(tt.suffix)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range twins {
			tv := v.forPhoto(p)
			if got := tv.keyFor(p.Name); got != tt.keys[i] {
				t.Errorf("%s of %s: key %s, want %s", tt.suffix, p.Name, got, tt.keys[i])
			}
			ow, oh, _ := v.expect(oriented[i].Width, oriented[i].Height)
			tw, th, _ := tv.expect(p.Width, p.Height)
			if oriented[i].Width != p.Width {
				ow, oh = oh, ow // the oriented copy's thumbnail, on its side
			}
			if tw != ow || th != oh {
				t.Errorf("%s of %s: the twin makes %dx%d, the oriented copy %dx%d on its side", tt.suffix, p.Name, tw, th, ow, oh)
			}
		}
	}
}

// TestCheckNotStoredBack: a thumbnail stored back under any key the miss
// path asked for is found, the twins' keys with the box turned
// (a_x1024_fit.jpg) and the oriented copies' included, not only the plain
// corpus's.
func TestCheckNotStoredBack(t *testing.T) {
	ps := []photo{{Name: "a", Width: 6000, Height: 3000}, {Name: "b", Width: 4000, Height: 3000}}
	oriented := []photo{{Name: "a-o6", Width: 3000, Height: 6000}, {Name: "b-o3", Width: 4000, Height: 3000}}
	corpora := []corpus{{ps: ps}, {label: orientedLabel, ps: oriented}, {label: sameOutputLabel, ps: sameOutputCorpus(ps, oriented), squareSkip: true}}
	vs, err := parseVariants("200x200_fill.jpg,1024x_fit.jpg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := checkNotStoredBack(dir, corpora, vs); err != nil {
		t.Fatalf("empty store: %v", err)
	}
	for _, key := range []string{"a_x1024_fit.jpg", "a-o6_1024x_fit.jpg", "b-o3_200x200_fill.jpg", "b_1024x_fit.jpg"} {
		path := filepath.Join(dir, key)
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := checkNotStoredBack(dir, corpora, vs); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s stored back: got %v", key, err)
		}
		os.Remove(path)
	}
}
