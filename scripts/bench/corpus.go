package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// photo is one original of the corpus.
type photo struct {
	Name   string `json:"name"`   // key stem in the benchmark's store, e.g. "volna-5120x2880"
	Source string `json:"source"` // path under the corpus cache
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Bytes  int64  `json:"bytes"`
	path   string
	// transposeBox has the benchmark ask for this photo's thumbnails with
	// the box's sides swapped (see sameOutputCorpus).
	transposeBox bool
}

// megapixels is the photo's pixel count in millions.
func (p photo) megapixels() float64 { return float64(p.Width) * float64(p.Height) / 1e6 }

// The corpus: all 12-21 MP JPEGs (up to maxLarge) and a spread of 2-8 MP
// ones (up to maxSmall). 21 lets in the 20.4 MP photograph of
// lomiri-wallpapers.
const (
	largeMinMP, largeMaxMP = 12, 21
	smallMinMP, smallMaxMP = 2, 8
)

// fetchCorpus runs the fetch script unless dir already holds a complete
// download.
func fetchCorpus(ctx context.Context, script, dir string, stderr io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, "raw", ".complete")); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, script, dir)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("fetch corpus with %s: %w", script, err)
	}
	return nil
}

// scanCorpus lists the JPEGs under dir/raw with their sizes.
func scanCorpus(dir string) ([]photo, error) {
	raw := filepath.Join(dir, "raw")
	var ps []photo
	err := filepath.WalkDir(raw, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || (ext != ".jpg" && ext != ".jpeg") {
			return nil
		}
		p, err := readPhoto(path)
		if err != nil {
			return nil // not a JPEG we can read the header of: not for the corpus
		}
		rel, err := filepath.Rel(raw, path)
		if err != nil {
			return err
		}
		p.Source, p.Name = rel, slug(rel)
		ps = append(ps, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan corpus %s: %w", raw, err)
	}
	return ps, nil
}

func readPhoto(path string) (photo, error) {
	f, err := os.Open(path)
	if err != nil {
		return photo{}, err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return photo{}, err
	}
	if format != "jpeg" {
		return photo{}, fmt.Errorf("%s is %s, not JPEG", path, format)
	}
	st, err := f.Stat()
	if err != nil {
		return photo{}, err
	}
	return photo{Width: cfg.Width, Height: cfg.Height, Bytes: st.Size(), path: path}, nil
}

// slug makes a short, unique key stem from a path in a package:
// "usr/share/wallpapers/Volna/contents/images/5120x2880.jpg" becomes
// "volna-5120x2880". The result has no underscore, so a thumbnail key built
// from it parses back to it.
func slug(rel string) string {
	rel = strings.TrimSuffix(rel, filepath.Ext(rel))
	var parts []string
	for _, p := range strings.Split(filepath.ToSlash(rel), "/") {
		switch p {
		case "usr", "share", "wallpapers", "backgrounds", "contents", "images":
			continue
		}
		parts = append(parts, p)
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.Join(parts, "-")) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// pickCorpus chooses the benchmark's originals: every 12-21 MP photo (the
// largest first, at most maxLarge), then maxSmall 2-8 MP ones spread over
// that range. The choice depends only on the candidates, not on their order.
func pickCorpus(all []photo, maxLarge, maxSmall int) []photo {
	byMP := func(a, b photo) int {
		return cmp.Or(cmp.Compare(b.megapixels(), a.megapixels()), cmp.Compare(a.Name, b.Name))
	}
	var large, small []photo
	for _, p := range all {
		switch mp := p.megapixels(); {
		case mp >= largeMinMP && mp <= largeMaxMP:
			large = append(large, p)
		case mp >= smallMinMP && mp <= smallMaxMP:
			small = append(small, p)
		}
	}
	slices.SortFunc(large, byMP)
	slices.SortFunc(small, byMP)
	large = large[:min(len(large), maxLarge)]
	return append(large, spread(small, maxSmall)...)
}

// spread takes n elements evenly spaced over s, the first and last included.
func spread[T any](s []T, n int) []T {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return nil
	}
	if n == 1 {
		return s[:1]
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, s[i*(len(s)-1)/(n-1)])
	}
	return out
}

// quickCorpus is the smoke test's three images: the two largest and the
// largest small one.
func quickCorpus(ps []photo) []photo {
	var large, small []photo
	for _, p := range ps {
		if p.megapixels() >= largeMinMP {
			large = append(large, p)
		} else {
			small = append(small, p)
		}
	}
	return append(large[:min(2, len(large))], small[:min(1, len(small))]...)
}

// uniqueNames makes the photos' names distinct by numbering repeats.
func uniqueNames(ps []photo) {
	seen := map[string]int{}
	for i := range ps {
		seen[ps[i].Name]++
		if n := seen[ps[i].Name]; n > 1 {
			ps[i].Name = fmt.Sprintf("%s-%d", ps[i].Name, n)
		}
	}
}

// copyCorpus copies the photos into dir as NAME.jpg, the originals of the
// benchmark's store.
func copyCorpus(ps []photo, dir string) error {
	for _, p := range ps {
		data, err := os.ReadFile(p.path)
		if err != nil {
			return fmt.Errorf("copy %s: %w", p.Source, err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.Name+".jpg"), data, 0o644); err != nil {
			return fmt.Errorf("copy %s: %w", p.Source, err)
		}
	}
	return nil
}

// orientedCorpus writes a copy of each photo carrying an EXIF orientation
// (the i-th photo orientation i%8+1, so that a corpus of 8 or more covers
// all eight) into dir as NAME-oN.jpg, and returns those photos with their
// size as shown (width and height swapped for orientations 5 to 8). Phone
// photographs are stored as the sensor reads them and turned by this tag.
func orientedCorpus(ps []photo, dir string) ([]photo, error) {
	var out []photo
	for i, p := range ps {
		data, err := os.ReadFile(filepath.Join(dir, p.Name+".jpg"))
		if err != nil {
			return nil, fmt.Errorf("oriented copy of %s: %w", p.Name, err)
		}
		o := i%8 + 1
		data, err = withOrientation(data, o)
		if err != nil {
			return nil, fmt.Errorf("oriented copy of %s: %w", p.Name, err)
		}
		q := p
		q.Name = fmt.Sprintf("%s-o%d", p.Name, o)
		q.Bytes = int64(len(data))
		if o >= 5 {
			q.Width, q.Height = p.Height, p.Width
		}
		if err := os.WriteFile(filepath.Join(dir, q.Name+".jpg"), data, 0o644); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// sameOutputCorpus is the unoriented twin of an oriented corpus (see
// orientedCorpus): the same photographs, each asked for with the box's
// sides swapped where its oriented copy is turned by a quarter, so that it
// makes a thumbnail of the same size as the oriented copy's, turned. A
// 1024-wide thumbnail of a landscape photograph shown as a portrait has
// three times the pixels of the unoriented one's; against this twin, the
// oriented copies cost what turning costs, not what a larger thumbnail
// does. Square boxes need no twin: their thumbnails have the same size.
func sameOutputCorpus(ps, oriented []photo) []photo {
	out := make([]photo, len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].transposeBox = oriented[i].Width != p.Width
	}
	return out
}

// withOrientation returns the JPEG jpg with its EXIF segments replaced by
// one that holds only the Orientation tag, o (1-8), right after SOI and any
// JFIF APP0.
func withOrientation(jpg []byte, o int) ([]byte, error) {
	if len(jpg) < 4 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		return nil, errors.New("not a JPEG")
	}
	// A big-endian TIFF header, one IFD with one SHORT entry.
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := append([]byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	out := append([]byte{}, jpg[:2]...)
	inserted := false
	i := 2
	for i+4 <= len(jpg) && jpg[i] == 0xFF {
		marker := jpg[i+1]
		if marker == 0xDA || marker == 0xD9 { // scan: the rest is image data
			break
		}
		n := int(binary.BigEndian.Uint16(jpg[i+2:])) + 2
		if i+n > len(jpg) {
			return nil, errors.New("truncated segment")
		}
		if !inserted && marker != 0xE0 {
			out = append(out, seg...)
			inserted = true
		}
		if !(marker == 0xE1 && bytes.HasPrefix(jpg[i+4:i+n], []byte("Exif\x00"))) {
			out = append(out, jpg[i:i+n]...)
		}
		i += n
	}
	if !inserted {
		out = append(out, seg...)
	}
	return append(out, jpg[i:]...), nil
}

// corpus is a set of originals the miss path is measured on, its cells
// labelled with label.
type corpus struct {
	label      string
	ps         []photo
	squareSkip bool // only the variants whose box is not square
}

// variants are those of vs run on this corpus.
func (c corpus) variants(vs []variant) []variant {
	var out []variant
	for _, v := range vs {
		if !(c.squareSkip && v.square()) {
			out = append(out, v)
		}
	}
	return out
}

// checkNotStoredBack fails when a thumbnail the miss path asked for, of
// any corpus (the oriented copies' and the twins' with their box turned
// included), is in storeDir: with --store-back=false none may be.
func checkNotStoredBack(storeDir string, corpora []corpus, vs []variant) error {
	for _, c := range corpora {
		for _, v := range c.variants(vs) {
			for _, p := range c.ps {
				key := v.forPhoto(p).keyFor(p.Name)
				if _, err := os.Stat(filepath.Join(storeDir, key)); err == nil {
					return fmt.Errorf("%s was stored back despite --store-back=false", key)
				}
			}
		}
	}
	return nil
}
