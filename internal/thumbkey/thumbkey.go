// Package thumbkey is the grammar of thumbnail object keys: it turns a key such
// as "photos/earth_200x200_fit@2x.webp" into the original it is made from and
// the box, mode, density and format it asks for, and back again.
//
// The grammar is DIR/NAME_SIZE[_MODE][@Dx].EXT where SIZE is WxH, Wx or xH,
// MODE is fit, fill, smart or entropy, D is 2 or 3 and EXT is jpg, jpeg, png, webp or avif
// (any letter case). Parse and String round-trip exactly.
package thumbkey

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultSourceExts are the extensions an original is looked for under,
// after a thumbnail's own (--source-exts).
var DefaultSourceExts = []string{"jpg", "jpeg", "png", "webp"}

// MaxKeyBytes is the longest key accepted, the same limit S3 puts on object keys.
const MaxKeyBytes = 1024

var (
	// ErrInvalidKey means the key cannot name an object safely: empty, too long,
	// not UTF-8, with control characters, or with path segments that could
	// escape the store ("..", ".", empty, a leading slash).
	ErrInvalidKey = errors.New("invalid key")
	// ErrNotThumbnail means the key is a valid object key that does not follow
	// the thumbnail grammar.
	ErrNotThumbnail = errors.New("not a thumbnail key")
)

// Mode says how an image is fitted to the requested box.
type Mode string

const (
	// ModeUnset means the key names no mode; the service's default applies.
	ModeUnset Mode = ""
	// ModeFit scales the image to fit inside the box, keeping its aspect ratio.
	ModeFit Mode = "fit"
	// ModeFill scales the image to cover the box and crops it, centred, to
	// exactly the box.
	ModeFill Mode = "fill"
	// ModeSmart scales the image to cover the box and crops it to exactly
	// the box where its most interesting part is: libvips' attention
	// measure (skin tones, saturated colour, edges).
	ModeSmart Mode = "smart"
	// ModeEntropy scales the image to cover the box and crops it to exactly
	// the box where its detail is: libvips' entropy measure.
	ModeEntropy Mode = "entropy"
)

// Modes are the modes a key may name, in the order the grammar documents
// them.
var Modes = []Mode{ModeFit, ModeFill, ModeSmart, ModeEntropy}

// ParseMode parses a mode's name: fit, fill, smart or entropy.
func ParseMode(s string) (Mode, error) {
	if m := Mode(s); slices.Contains(Modes, m) {
		return m, nil
	}
	return ModeUnset, fmt.Errorf("unknown mode %q (want %s)", s, modeNames())
}

// Crops reports whether the mode crops the image to exactly the box when
// both its sides are given: every mode but fit (and unset).
func (m Mode) Crops() bool {
	return m == ModeFill || m == ModeSmart || m == ModeEntropy
}

// modeNames lists the modes for messages: "fit, fill, smart or entropy".
func modeNames() string {
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Format is an image format: one a key's extension names, or one an
// original may be in.
type Format string

// The output formats a thumbnail key can name.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
	AVIF Format = "avif"
)

// The formats an original may be in that no thumbnail key names.
const (
	HEIF Format = "heif"
	GIF  Format = "gif"
)

// ContentType is the MIME type of the format.
func (f Format) ContentType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case WebP:
		return "image/webp"
	case AVIF:
		return "image/avif"
	case HEIF:
		return "image/heif"
	case GIF:
		return "image/gif"
	}
	return "application/octet-stream"
}

// ImageExts are the extensions a key's format may be named by, in lower
// case (any case is read).
var ImageExts = []string{"jpg", "jpeg", "png", "webp", "avif"}

// FormatOf returns the format an extension (without the dot, any case) names.
func FormatOf(ext string) (Format, bool) {
	switch strings.ToLower(ext) {
	case "jpg", "jpeg":
		return JPEG, true
	case "png":
		return PNG, true
	case "webp":
		return WebP, true
	case "avif":
		return AVIF, true
	}
	return "", false
}

// Key is a parsed thumbnail key.
type Key struct {
	Dir     string // folder, "" or ending in "/"
	Name    string // the original's name without extension
	Width   int    // box width in CSS pixels; 0 when only the height is given
	Height  int    // box height in CSS pixels; 0 when only the width is given
	Mode    Mode   // ModeUnset when the key names none
	Density int    // 1 (or 0) when the key names none, else 2 or 3
	Ext     string // extension as written, without the dot
}

// Format is the output format the key's extension names.
func (k Key) Format() Format {
	f, _ := FormatOf(k.Ext)
	return f
}

// PixelBox is the box in output pixels: the size times the density.
// A side that the key leaves free is 0.
func (k Key) PixelBox() (width, height int) {
	d := max(k.Density, 1)
	return k.Width * d, k.Height * d
}

// Size is the key's size: box, mode and density.
func (k Key) Size() Size {
	return Size{Width: k.Width, Height: k.Height, Mode: k.Mode, Density: k.Density}
}

// String formats the key; String(Parse(s)) == s for every thumbnail key s.
func (k Key) String() string {
	var b strings.Builder
	b.Grow(len(k.Dir) + len(k.Name) + 24)
	b.WriteString(k.Dir)
	b.WriteString(k.Name)
	k.Class().write(&b)
	return b.String()
}

// Class is the key's size class: everything after the original's name.
func (k Key) Class() Class {
	return Class{Size: k.Size(), Ext: k.Ext}
}

// OwnFormat is the extension of a Class that makes each original's
// thumbnail in the original's own format, spelled as the original's
// extension is: "_200x200.*" is photo_200x200.png for photo.png and
// IMG_0042_200x200.JPG for IMG_0042.JPG.
const OwnFormat = "*"

// Class is a size class: the part of a thumbnail key after the original's
// name, "_200x200_fit@2x.webp": a Size and a format. With Ext OwnFormat
// ("_200x200.*") the format is each original's own.
type Class struct {
	Size
	Ext string // as written, or OwnFormat
}

// ParseClass parses a class as String writes it: "_200x200.jpg",
// "_x300_fit@2x.webp", "_200x200.*".
func ParseClass(s string) (Class, error) {
	probe, own := strings.CutSuffix(s, "."+OwnFormat)
	if own {
		probe += ".jpg"
	} else {
		probe = s
	}
	k, err := Parse("x" + probe)
	if err != nil || k.Dir != "" || k.Name != "x" || !strings.HasPrefix(s, "_") {
		return Class{}, fmt.Errorf("%q is not a size class (want _WxH[_MODE][@Dx].EXT, EXT an image extension or %s)", s, OwnFormat)
	}
	c := k.Class()
	if own {
		c.Ext = OwnFormat
	}
	return c, nil
}

// IsOwnFormat reports whether the class takes each original's format.
func (c Class) IsOwnFormat() bool { return c.Ext == OwnFormat }

// String formats the class as ParseClass reads it.
func (c Class) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c Class) write(b *strings.Builder) {
	b.WriteByte('_')
	c.Size.write(b)
	b.WriteByte('.')
	b.WriteString(c.Ext)
}

// Size is the part of a thumbnail key between the original's name and "_"
// and the extension: box, mode and density, "400x_fit@2x". It is a size
// class without a format, as `enqueue --sizes` lists them.
type Size struct {
	Width, Height int  // CSS pixels; one may be 0 (free)
	Mode          Mode // ModeUnset when the size names none
	Density       int  // 1 (or 0) when the size names none, else 2 or 3
}

// ParseSize parses a size as String writes it: "200x200", "400x_fit",
// "x300_fill@2x". The density of a size that names none is 1.
func ParseSize(s string) (Size, error) {
	rest, z := cutModeDensity(s)
	box, err := ParseBox(rest)
	if err != nil {
		return Size{}, fmt.Errorf("size %q: want WxH, Wx or xH, then optionally _MODE (%s), then optionally @2x or @3x", s, modeNames())
	}
	z.Width, z.Height = box.Width, box.Height
	return z, nil
}

// cutModeDensity cuts a key stem's "@Dx" and "_MODE" suffixes, returning
// the rest and a Size holding the two (density 1 when it names none).
func cutModeDensity(stem string) (rest string, z Size) {
	z.Density = 1
	if r, ok := strings.CutSuffix(stem, "@2x"); ok {
		stem, z.Density = r, 2
	} else if r, ok := strings.CutSuffix(stem, "@3x"); ok {
		stem, z.Density = r, 3
	}
	for _, m := range Modes {
		if r, ok := strings.CutSuffix(stem, "_"+string(m)); ok {
			return r, Size{Mode: m, Density: z.Density}
		}
	}
	return stem, z
}

// String formats the size as ParseSize reads it.
func (z Size) String() string {
	var b strings.Builder
	z.write(&b)
	return b.String()
}

func (z Size) write(b *strings.Builder) {
	b.WriteString(Box{Width: z.Width, Height: z.Height}.String())
	if z.Mode != ModeUnset {
		b.WriteByte('_')
		b.WriteString(string(z.Mode))
	}
	if z.Density > 1 {
		b.WriteByte('@')
		b.WriteString(strconv.Itoa(z.Density))
		b.WriteByte('x')
	}
}

// ParseList parses a comma-separated list, as flags such as --sizes give
// it, with parse: items are trimmed, blank ones skipped, and one listed
// twice is kept once.
func ParseList[T comparable](s string, parse func(string) (T, error)) ([]T, error) {
	var items []T
	seen := map[T]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		item, err := parse(part)
		if err != nil {
			return nil, err
		}
		if !seen[item] {
			seen[item] = true
			items = append(items, item)
		}
	}
	return items, nil
}

// Key is the key of the thumbnail of this size of the original dir+name,
// in the format ext names.
func (z Size) Key(dir, name, ext string) Key {
	return Key{Dir: dir, Name: name, Width: z.Width, Height: z.Height, Mode: z.Mode, Density: max(z.Density, 1), Ext: ext}
}

// Original is the key of an object thumbnails can be made of, split: its
// folder ("" or ending in "/"), its name and its image extension as
// written. The grammar alone does not tell an original from a thumbnail
// (an untagged banner_1200x630.jpg is an original: see package thumbtag);
// it tells what a key would be made of and how its thumbnails are named.
type Original struct {
	Dir, Name, Ext string
}

// ParseOriginal splits key; ok is false when it has no name or no image
// extension (jpg, jpeg, png, webp or avif, any case).
func ParseOriginal(key string) (o Original, ok bool) {
	o.Dir, o.Name = "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		o.Dir, o.Name = key[:i+1], key[i+1:]
	}
	dot := strings.LastIndexByte(o.Name, '.')
	if dot < 1 {
		return Original{}, false
	}
	o.Name, o.Ext = o.Name[:dot], o.Name[dot+1:]
	if _, ok := FormatOf(o.Ext); !ok {
		return Original{}, false
	}
	return o, true
}

// Stem is the folder and name: what the original's thumbnails' keys start
// with.
func (o Original) Stem() string { return o.Dir + o.Name }

// String is the key.
func (o Original) String() string { return o.Dir + o.Name + "." + o.Ext }

// ThumbnailPrefix is what the key of every thumbnail of o starts with,
// "DIR/NAME_": one listing of it finds them all, beside keys that are not
// o's (thumbnails of NAME_2020.jpg, keys in a folder NAME_x/), which
// IsThumbnailOf tells apart.
func (o Original) ThumbnailPrefix() string { return o.Dir + o.Name + "_" }

// IsThumbnailOf reports whether o is one of the originals k is made of:
// k is in o's folder, names o's name, and o's key is among the keys its
// original is looked for under (OriginalKeys with sourceExts). Which of
// those is k's original depends on which exist: earth_200x200.webp is made
// of earth.webp when there is one, else of earth.jpg.
func (k Key) IsThumbnailOf(o Original, sourceExts []string) bool {
	return k.Dir == o.Dir && k.Name == o.Name && slices.Contains(k.OriginalKeys(sourceExts), o.String())
}

// KeyFor is the key of the thumbnail of this class made from the original
// stored under original (folder, name and extension): in the original's
// own format with OwnFormat. It fails for a key without an image extension
// and for a key the grammar cannot read back (too long, or a name the
// class's own suffix would be read into).
func (c Class) KeyFor(original string) (Key, error) {
	o, ok := ParseOriginal(original)
	if !ok {
		return Key{}, fmt.Errorf("original %q: no name and image extension", original)
	}
	k := c.Size.Key(o.Dir, o.Name, c.Ext)
	if c.IsOwnFormat() {
		k.Ext = o.Ext
	}
	s := k.String()
	if back, err := Parse(s); err != nil || back != k {
		return Key{}, fmt.Errorf("%q is not a thumbnail key the grammar reads back", s)
	}
	return k, nil
}

// Original is the key of the original with the given extension.
func (k Key) Original(ext string) string {
	return k.Dir + k.Name + "." + ext
}

// OriginalKeys lists the keys the original may be stored under, most likely
// first: the thumbnail's own extension, then each of sourceExts, then each
// of them in upper case (IMG_0042.JPG, as cameras name files).
func (k Key) OriginalKeys(sourceExts []string) []string {
	return OriginalKeys(k.Dir+k.Name, k.Ext, sourceExts)
}

// OriginalKeys lists the keys the original of stem (folder and name) may be
// stored under: stem.first when first is not empty, then stem.EXT for each
// of sourceExts as given and then in upper case, each key once.
func OriginalKeys(stem, first string, sourceExts []string) []string {
	keys := make([]string, 0, 2*len(sourceExts)+1)
	add := func(ext string) {
		key := stem + "." + ext
		if ext != "" && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	add(first)
	for _, ext := range sourceExts {
		add(ext)
	}
	for _, ext := range sourceExts {
		add(strings.ToUpper(ext))
	}
	return keys
}

// Validate reports whether key can name an object safely, without any chance
// of escaping the store it is looked up in. The error wraps ErrInvalidKey.
func Validate(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case key[0] == '/':
		return fmt.Errorf("%w: starts with a slash", ErrInvalidKey)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%w: contains control character or backslash %q", ErrInvalidKey, r)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty path segment", ErrInvalidKey)
		case ".", "..":
			return fmt.Errorf("%w: path segment %q", ErrInvalidKey, seg)
		}
	}
	return nil
}

// Parse parses a thumbnail key. A key that is unsafe gives an error wrapping
// ErrInvalidKey; a safe key outside the grammar gives one wrapping
// ErrNotThumbnail.
func Parse(key string) (Key, error) {
	if err := Validate(key); err != nil {
		return Key{}, err
	}
	notThumb := func(why string) (Key, error) {
		return Key{}, fmt.Errorf("%w: %q %s", ErrNotThumbnail, key, why)
	}
	var k Key
	base := key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		k.Dir, base = key[:i+1], key[i+1:]
	}
	dot := strings.LastIndexByte(base, '.')
	if dot < 0 {
		return notThumb("has no extension")
	}
	stem := base[:dot]
	k.Ext = base[dot+1:]
	if _, ok := FormatOf(k.Ext); !ok {
		return notThumb("has no image extension (jpg, jpeg, png, webp, avif)")
	}
	var z Size
	stem, z = cutModeDensity(stem)
	k.Mode, k.Density = z.Mode, z.Density
	us := strings.LastIndexByte(stem, '_')
	if us < 1 {
		return notThumb("has no _WxH size after a name")
	}
	box, err := ParseBox(stem[us+1:])
	if err != nil {
		return notThumb("has no valid _WxH size")
	}
	k.Name, k.Width, k.Height = stem[:us], box.Width, box.Height
	return k, nil
}

// Box is a requested size, in CSS pixels; one side may be 0 (free).
type Box struct {
	Width, Height int
}

// MaxSide is the largest number a size may name on one side; the service's
// own limit (--max-dimension) is usually far smaller.
const MaxSide = 99999

// maxSideDigits is the number of digits of MaxSide.
const maxSideDigits = 5

// ParseBox parses "WxH", "Wx" or "xH" with positive decimal sides written
// without leading zeros.
func ParseBox(s string) (Box, error) {
	ws, hs, ok := strings.Cut(s, "x")
	if !ok || (ws == "" && hs == "") {
		return Box{}, fmt.Errorf("size %q: want WxH, Wx or xH", s)
	}
	w, err := parseSide(ws)
	if err != nil {
		return Box{}, fmt.Errorf("size %q: width: %w", s, err)
	}
	h, err := parseSide(hs)
	if err != nil {
		return Box{}, fmt.Errorf("size %q: height: %w", s, err)
	}
	return Box{Width: w, Height: h}, nil
}

// parseSide parses one side of a box; "" is a free side (0).
func parseSide(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > maxSideDigits || s[0] == '0' {
		return 0, fmt.Errorf("%q is not a number from 1 to %d without leading zeros", s, MaxSide)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	n, _ := strconv.Atoi(s) // only digits, at most five of them
	return n, nil
}

// String formats the box as ParseBox reads it.
func (b Box) String() string {
	var s string
	if b.Width > 0 {
		s = strconv.Itoa(b.Width)
	}
	s += "x"
	if b.Height > 0 {
		s += strconv.Itoa(b.Height)
	}
	return s
}
