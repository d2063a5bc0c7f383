package thumbkey

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		key  string
		want Key
	}{
		{"earth_200x200.jpg", Key{Name: "earth", Width: 200, Height: 200, Density: 1, Ext: "jpg"}},
		{"photos/earth_200x.jpeg", Key{Dir: "photos/", Name: "earth", Width: 200, Density: 1, Ext: "jpeg"}},
		{"a/b/c/earth_x300.png", Key{Dir: "a/b/c/", Name: "earth", Height: 300, Density: 1, Ext: "png"}},
		{"earth_200x200_fit.webp", Key{Name: "earth", Width: 200, Height: 200, Mode: ModeFit, Density: 1, Ext: "webp"}},
		{"earth_200x200_fill.avif", Key{Name: "earth", Width: 200, Height: 200, Mode: ModeFill, Density: 1, Ext: "avif"}},
		{"earth_200x200@2x.jpg", Key{Name: "earth", Width: 200, Height: 200, Density: 2, Ext: "jpg"}},
		{"earth_400x_fit@3x.webp", Key{Name: "earth", Width: 400, Mode: ModeFit, Density: 3, Ext: "webp"}},
		{"my_holiday_photo_640x480.JPG", Key{Name: "my_holiday_photo", Width: 640, Height: 480, Density: 1, Ext: "JPG"}},
		{"a_1x1_200x200.jpg", Key{Name: "a_1x1", Width: 200, Height: 200, Density: 1, Ext: "jpg"}},
		{"fotos/Grüße aus Köln_99999x1.png", Key{Dir: "fotos/", Name: "Grüße aus Köln", Width: 99999, Height: 1, Density: 1, Ext: "png"}},
		{"日本/富士山 2_300x200_fill@2x.jpg", Key{Dir: "日本/", Name: "富士山 2", Width: 300, Height: 200, Mode: ModeFill, Density: 2, Ext: "jpg"}},
		{"x_fit_200x200.jpg", Key{Name: "x_fit", Width: 200, Height: 200, Density: 1, Ext: "jpg"}},
		{"earth_200x200_smart.jpg", Key{Name: "earth", Width: 200, Height: 200, Mode: ModeSmart, Density: 1, Ext: "jpg"}},
		{"photos/earth_300x100_entropy@2x.webp", Key{Dir: "photos/", Name: "earth", Width: 300, Height: 100, Mode: ModeEntropy, Density: 2, Ext: "webp"}},
		{"earth_smart_x300_smart.png", Key{Name: "earth_smart", Height: 300, Mode: ModeSmart, Density: 1, Ext: "png"}},
		{".hidden_10x10.jpg", Key{Name: ".hidden", Width: 10, Height: 10, Density: 1, Ext: "jpg"}},
		{"a.b_10x10.jpg", Key{Name: "a.b", Width: 10, Height: 10, Density: 1, Ext: "jpg"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := Parse(tt.key)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.key, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.key, got, tt.want)
			}
			if s := got.String(); s != tt.key {
				t.Fatalf("String() = %q, want %q", s, tt.key)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		key  string
		want error
	}{
		{"", ErrInvalidKey},
		{"/earth_200x200.jpg", ErrInvalidKey},
		{"../earth_200x200.jpg", ErrInvalidKey},
		{"photos/../../etc/passwd_1x1.jpg", ErrInvalidKey},
		{"photos/./earth_200x200.jpg", ErrInvalidKey},
		{"photos//earth_200x200.jpg", ErrInvalidKey},
		{"photos/", ErrInvalidKey},
		{"a\\..\\b_1x1.jpg", ErrInvalidKey},
		{"earth\x00_200x200.jpg", ErrInvalidKey},
		{"earth\n_200x200.jpg", ErrInvalidKey},
		{"earth\xff_200x200.jpg", ErrInvalidKey},
		{strings.Repeat("a", MaxKeyBytes) + "_1x1.jpg", ErrInvalidKey},
		{"earth.jpg", ErrNotThumbnail},
		{"earth", ErrNotThumbnail},
		{"earth_200x200", ErrNotThumbnail},
		{"earth_200x200.gif", ErrNotThumbnail},
		{"earth_200x200.svg", ErrNotThumbnail},
		{"_200x200.jpg", ErrNotThumbnail},
		{"photos/_200x200.jpg", ErrNotThumbnail},
		{"earth_x.jpg", ErrNotThumbnail},
		{"earth_200.jpg", ErrNotThumbnail},
		{"earth_0x200.jpg", ErrNotThumbnail},
		{"earth_0200x200.jpg", ErrNotThumbnail},
		{"earth_200x200x3.jpg", ErrNotThumbnail},
		{"earth_-1x200.jpg", ErrNotThumbnail},
		{"earth_+1x200.jpg", ErrNotThumbnail},
		{"earth_100000x1.jpg", ErrNotThumbnail},
		{"earth_200X200.jpg", ErrNotThumbnail},
		{"earth_200x200_crop.jpg", ErrNotThumbnail},
		{"earth_200x200_FIT.jpg", ErrNotThumbnail},
		{"earth_200x200_Smart.jpg", ErrNotThumbnail},
		{"earth_200x200_attention.jpg", ErrNotThumbnail},
		{"earth_200x200_smart@2x_fit.jpg", ErrNotThumbnail},
		{"earth_200x200@1x.jpg", ErrNotThumbnail},
		{"earth_200x200@4x.jpg", ErrNotThumbnail},
		{"earth_200x200@2x_fit.jpg", ErrNotThumbnail},
		{"earth_200x200 .jpg", ErrNotThumbnail},
		{"earth_２００x200.jpg", ErrNotThumbnail},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			k, err := Parse(tt.key)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %+v, %v; want error %v", tt.key, k, err, tt.want)
			}
		})
	}
}

func TestPixelBox(t *testing.T) {
	tests := []struct {
		key  string
		w, h int
	}{
		{"a_200x100.jpg", 200, 100},
		{"a_200x100@2x.jpg", 400, 200},
		{"a_x100@3x.jpg", 0, 300},
	}
	for _, tt := range tests {
		k, err := Parse(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if w, h := k.PixelBox(); w != tt.w || h != tt.h {
			t.Errorf("%s: PixelBox() = %d, %d; want %d, %d", tt.key, w, h, tt.w, tt.h)
		}
	}
}

func TestOriginalKeys(t *testing.T) {
	tests := []struct {
		key  string
		exts []string
		want []string
	}{
		{"photos/earth_200x200.jpg", []string{"jpg", "jpeg", "png", "webp"},
			[]string{"photos/earth.jpg", "photos/earth.jpeg", "photos/earth.png", "photos/earth.webp",
				"photos/earth.JPG", "photos/earth.JPEG", "photos/earth.PNG", "photos/earth.WEBP"}},
		{"earth_200x200.webp", []string{"jpg", "png"},
			[]string{"earth.webp", "earth.jpg", "earth.png", "earth.JPG", "earth.PNG"}},
		// A camera's IMG_0042.JPG is found from any of its thumbnails.
		{"IMG_1_10x.JPG", []string{"jpg"}, []string{"IMG_1.JPG", "IMG_1.jpg"}},
		{"IMG_1_10x.webp", []string{"jpg"}, []string{"IMG_1.webp", "IMG_1.jpg", "IMG_1.JPG"}},
	}
	for _, tt := range tests {
		k, err := Parse(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.OriginalKeys(tt.exts); !slices.Equal(got, tt.want) {
			t.Errorf("%s: OriginalKeys = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestParseBox(t *testing.T) {
	for _, s := range []string{"200x200", "200x", "x300", "1x99999"} {
		b, err := ParseBox(s)
		if err != nil {
			t.Fatalf("ParseBox(%q): %v", s, err)
		}
		if b.String() != s {
			t.Errorf("ParseBox(%q).String() = %q", s, b.String())
		}
	}
	for _, s := range []string{"", "x", "200", "0x1", "01x1", "ax1", "1x1x1", "100000x1", " 1x1"} {
		if b, err := ParseBox(s); err == nil {
			t.Errorf("ParseBox(%q) = %v, want error", s, b)
		}
	}
}

// FuzzParse checks that Parse never panics, that every key it accepts is
// safe and formats back to itself, and that the original it names is safe
// and in the same folder.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"earth_200x200.jpg", "photos/earth_400x_fit@2x.webp", "a/b_x1_fill@3x.AVIF",
		"../x_1x1.jpg", "earth.jpg", "a_1x1_1x1.png", "日本/富士山_1x1.jpg", "a//b_1x1.jpg",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := Parse(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrNotThumbnail) {
				t.Fatalf("Parse(%q): untyped error %v", key, err)
			}
			return
		}
		if err := Validate(key); err != nil {
			t.Fatalf("Parse accepted unsafe key %q: %v", key, err)
		}
		if s := k.String(); s != key {
			t.Fatalf("round trip: Parse(%q).String() = %q", key, s)
		}
		if k.Width == 0 && k.Height == 0 {
			t.Fatalf("Parse(%q) gave an empty box", key)
		}
		if z, err := ParseSize(k.Size().String()); err != nil || z != k.Size() {
			t.Fatalf("Parse(%q): its size %q reads back as %+v, %v; want %+v", key, k.Size(), z, err, k.Size())
		}
		for _, orig := range k.OriginalKeys([]string{"jpg", "png"}) {
			if err := Validate(orig); err != nil {
				t.Fatalf("original %q of %q is unsafe: %v", orig, key, err)
			}
			if !strings.HasPrefix(orig, k.Dir) {
				t.Fatalf("original %q is outside the folder of %q", orig, key)
			}
		}
	})
}

func TestMaxSideDigits(t *testing.T) {
	if got := len(strconv.Itoa(MaxSide)); got != maxSideDigits {
		t.Errorf("MaxSide %d has %d digits, maxSideDigits says %d", MaxSide, got, maxSideDigits)
	}
}

func TestClass(t *testing.T) {
	tests := []struct {
		class, original, key string
	}{
		{"_200x200.jpg", "photos/earth.jpg", "photos/earth_200x200.jpg"},
		{"_200x200.jpg", "photos/earth.png", "photos/earth_200x200.jpg"},
		{"_x300_fit@2x.webp", "earth.jpeg", "earth_x300_fit@2x.webp"},
		{"_200x200.*", "photos/earth.png", "photos/earth_200x200.png"},
		{"_320x240_fill.*", "cam/IMG_0042.JPG", "cam/IMG_0042_320x240_fill.JPG"},
		{"_320x.*", "a b/Été.jpeg", "a b/Été_320x.jpeg"},
		{"_1200x630.*", "social/banner_1200x630.jpg", "social/banner_1200x630_1200x630.jpg"},
	}
	for _, tt := range tests {
		c, err := ParseClass(tt.class)
		if err != nil {
			t.Errorf("ParseClass(%q): %v", tt.class, err)
			continue
		}
		if got := c.String(); got != tt.class {
			t.Errorf("ParseClass(%q).String() = %q", tt.class, got)
		}
		k, err := c.KeyFor(tt.original)
		if err != nil || k.String() != tt.key {
			t.Errorf("%s.KeyFor(%q) = %q, %v; want %q", tt.class, tt.original, k.String(), err, tt.key)
			continue
		}
		if back, _ := Parse(tt.key); back.Class() != k.Class() || (c.IsOwnFormat() && back.Class().IsOwnFormat()) {
			t.Errorf("Parse(%q).Class() = %+v, want %+v", tt.key, back.Class(), k.Class())
		}
	}
	for _, bad := range []string{"", "200x200.jpg", "_200x200", "_200x200.gif", "_0x0.jpg", "_200x200.**", "x_200x200.jpg", "_a/b_200x200.jpg", "_200x200_fit.*.jpg"} {
		if c, err := ParseClass(bad); err == nil {
			t.Errorf("ParseClass(%q) = %+v, want an error", bad, c)
		}
	}
	c, _ := ParseClass("_200x200.*")
	for _, bad := range []string{"photos/readme", "photos/notes.txt", "photos/.jpg", strings.Repeat("a", MaxKeyBytes) + ".jpg"} {
		if k, err := c.KeyFor(bad); err == nil {
			t.Errorf("KeyFor(%q) = %q, want an error", bad, k.String())
		}
	}
}

func TestParseOriginal(t *testing.T) {
	for key, want := range map[string]Original{
		"photos/earth.jpg":           {"photos/", "earth", "jpg"},
		"IMG_0042.JPG":               {"", "IMG_0042", "JPG"},
		"a b/Été.jpeg":               {"a b/", "Été", "jpeg"},
		"social/banner_1200x630.png": {"social/", "banner_1200x630", "png"},
		"x.y/z.avif":                 {"x.y/", "z", "avif"},
	} {
		if o, ok := ParseOriginal(key); !ok || o != want || o.String() != key {
			t.Errorf("ParseOriginal(%q) = %+v, %v; want %+v", key, o, ok, want)
		}
	}
	for _, key := range []string{"readme.txt", "photos/.jpg", "photos/earth", "x.jpg/readme", "gif.gif", ""} {
		if o, ok := ParseOriginal(key); ok {
			t.Errorf("ParseOriginal(%q) = %+v, want not an original's key", key, o)
		}
	}
}

// TestParseSize: a size is what a key holds between the original's name and
// the extension, read by the same rules.
func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"200x200", Size{Width: 200, Height: 200, Density: 1}, true},
		{"400x_fit", Size{Width: 400, Mode: ModeFit, Density: 1}, true},
		{"x300_fill@2x", Size{Height: 300, Mode: ModeFill, Density: 2}, true},
		{"200x200_smart", Size{Width: 200, Height: 200, Mode: ModeSmart, Density: 1}, true},
		{"400x300_entropy@3x", Size{Width: 400, Height: 300, Mode: ModeEntropy, Density: 3}, true},
		{"200x200_fill_smart", Size{}, false},
		{"100x100@3x", Size{Width: 100, Height: 100, Density: 3}, true},
		{"200", Size{}, false},
		{"x", Size{}, false},
		{"0x200", Size{}, false},
		{"200x200_stretch", Size{}, false},
		{"200x200@4x", Size{}, false},
		{"200x200_300x300", Size{}, false},
		{"200x200_fit_fill", Size{}, false},
		{"a/200x200", Size{}, false},
		{"200x200.jpg", Size{}, false},
		{"_200x200", Size{}, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if err == nil {
			if s := got.String(); s != tt.in {
				t.Errorf("ParseSize(%q).String() = %q", tt.in, s)
			}
			if k := got.Key("photos/", "earth", "webp"); k.Size() != got || k.String() != "photos/earth_"+tt.in+".webp" {
				t.Errorf("ParseSize(%q).Key = %q, size %+v", tt.in, k, k.Size())
			}
		}
	}
}

// TestParseList: items trimmed, blanks skipped, a repeat kept once, the
// first bad item's error returned.
func TestParseList(t *testing.T) {
	got, err := ParseList(" 200x200 ,,400x, 200x200,", ParseBox)
	if want := []Box{{Width: 200, Height: 200}, {Width: 400}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseList = %v, %v; want %v", got, err, want)
	}
	if got, err := ParseList(" , ", ParseBox); err != nil || got != nil {
		t.Errorf("ParseList of blanks = %v, %v; want nothing", got, err)
	}
	if _, err := ParseList("200x200,abc", ParseBox); err == nil || !strings.Contains(err.Error(), `"abc"`) {
		t.Errorf("ParseList with a bad item: %v; want the item's error", err)
	}
}

func TestIsThumbnailOf(t *testing.T) {
	exts := []string{"jpg", "png"}
	tests := []struct {
		key, original string
		want          bool
	}{
		{"earth_200x200.jpg", "earth.jpg", true},
		{"earth_200x200_fit@2x.webp", "earth.jpg", true}, // made of earth.webp if any, else earth.jpg
		{"earth_200x200.webp", "earth.PNG", true},
		{"earth_200x200.jpg", "earth.webp", false}, // webp is not a source extension here
		{"earth_200x200.webp", "earth.webp", true}, // the thumbnail's own extension comes first
		{"earth_2020_200x200.jpg", "earth.jpg", false},
		{"earth_200x200_100x100.jpg", "earth.jpg", false},
		{"earth_200x200_100x100.jpg", "earth_200x200.jpg", true},
		{"photos/earth_200x200.jpg", "earth.jpg", false},
		{"earth_200x200.jpg", "photos/earth.jpg", false},
		{"photos/earth_200x200.jpg", "photos/earth.jpg", true},
		{"Earth_200x200.jpg", "earth.jpg", false},
	}
	for _, tt := range tests {
		k, err := Parse(tt.key)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.key, err)
		}
		o, ok := ParseOriginal(tt.original)
		if !ok {
			t.Fatalf("ParseOriginal(%q) failed", tt.original)
		}
		if !strings.HasPrefix(tt.key, o.ThumbnailPrefix()) && tt.want {
			t.Errorf("%q does not start with %q, the prefix of %q's thumbnails", tt.key, o.ThumbnailPrefix(), tt.original)
		}
		if got := k.IsThumbnailOf(o, exts); got != tt.want {
			t.Errorf("Parse(%q).IsThumbnailOf(%q) = %v, want %v", tt.key, tt.original, got, tt.want)
		}
	}
}

// TestParseMode: every mode the grammar names parses, and which of them
// crop to the box.
func TestParseMode(t *testing.T) {
	tests := []struct {
		in    string
		want  Mode
		crops bool
	}{
		{"fit", ModeFit, false},
		{"fill", ModeFill, true},
		{"smart", ModeSmart, true},
		{"entropy", ModeEntropy, true},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if got.Crops() != tt.crops {
			t.Errorf("%q.Crops() = %v, want %v", got, got.Crops(), tt.crops)
		}
	}
	for _, bad := range []string{"", "Fill", "attention", "centre", "crop"} {
		if m, err := ParseMode(bad); err == nil || !strings.Contains(err.Error(), "fit, fill, smart or entropy") {
			t.Errorf("ParseMode(%q) = %q, %v; want an error listing the modes", bad, m, err)
		}
	}
	if ModeUnset.Crops() {
		t.Error("ModeUnset.Crops() = true; the default mode decides")
	}
}
