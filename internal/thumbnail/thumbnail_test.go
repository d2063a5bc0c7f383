package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// newMaker returns a maker on a real directory store holding the sample
// photograph (1600x900) as photos/earth.jpg, and the real engine.
func newMaker(t *testing.T, cfg Config) (*Maker, *store.FileStore) {
	t.Helper()
	dir := t.TempDir()
	photo, err := os.ReadFile("../../scripts/sample/kleiber.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "photos"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "photos", "earth.jpg"), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMaker(st, vips, nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

func TestEnsure(t *testing.T) {
	tests := []struct {
		key         string
		defaultMode thumbkey.Mode
		w, h        int
		ctype       string
	}{
		{"photos/earth_200x200.jpg", thumbkey.ModeFill, 200, 200, "image/jpeg"},
		{"photos/earth_200x200.jpg", thumbkey.ModeFit, 200, 113, "image/jpeg"},
		{"photos/earth_200x200_fit.png", thumbkey.ModeFill, 200, 113, "image/png"},
		{"photos/earth_200x200_fill.png", thumbkey.ModeFit, 200, 200, "image/png"},
		{"photos/earth_320x.jpg", thumbkey.ModeFill, 320, 180, "image/jpeg"},
		{"photos/earth_x90@2x.jpg", thumbkey.ModeFill, 320, 180, "image/jpeg"},
		{"photos/earth_100x50@3x.webp", thumbkey.ModeFill, 300, 150, "image/webp"},
		{"photos/earth_2000x.jpg", thumbkey.ModeFill, 1600, 900, "image/jpeg"}, // never enlarged
		{"photos/earth_200x200_smart.jpg", thumbkey.ModeFit, 200, 200, "image/jpeg"},
		{"photos/earth_150x250_entropy.png", thumbkey.ModeFit, 150, 250, "image/png"},
		{"photos/earth_200x200.jpg", thumbkey.ModeSmart, 200, 200, "image/jpeg"},
		{"photos/earth_320x_smart.jpg", thumbkey.ModeFill, 320, 180, "image/jpeg"},
	}
	for _, tt := range tests {
		t.Run(string(tt.defaultMode)+" "+tt.key, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DefaultMode = tt.defaultMode
			m, st := newMaker(t, cfg)
			k, err := thumbkey.Parse(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Ensure(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Stored || res.SaveErr != nil || res.OriginalKey != "photos/earth.jpg" || res.ContentType != tt.ctype {
				t.Fatalf("result: stored %v, save error %v, original %q, type %q", res.Stored, res.SaveErr, res.OriginalKey, res.ContentType)
			}
			if res.Image.Width != tt.w || res.Image.Height != tt.h {
				t.Fatalf("made %dx%d, want %dx%d", res.Image.Width, res.Image.Height, tt.w, tt.h)
			}
			if tt.ctype != "image/webp" {
				cfg, _, err := image.DecodeConfig(bytes.NewReader(res.Image.Data))
				if err != nil || cfg.Width != tt.w || cfg.Height != tt.h {
					t.Fatalf("encoded image is %dx%d (%v), want %dx%d", cfg.Width, cfg.Height, err, tt.w, tt.h)
				}
			}
			attrs, err := st.Head(context.Background(), tt.key)
			if err != nil || attrs.ContentType != tt.ctype || attrs.ETag != res.ETag || attrs.CacheControl != cfg.CacheControl {
				t.Fatalf("stored attrs %+v, %v; want type %s and etag %s", attrs, err, tt.ctype, res.ETag)
			}
			again, err := m.Ensure(context.Background(), k)
			if err != nil || again.Existing == nil || again.Image.Data != nil {
				t.Fatalf("second Ensure = %+v, %v; want the existing thumbnail", again, err)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	m, st := newMaker(t, cfg)
	k, err := thumbkey.Parse("photos/earth_200x200.webp")
	if err != nil {
		t.Fatal(err)
	}
	// Not stored yet: Refresh makes it.
	res, err := m.Refresh(ctx, k)
	if err != nil || !res.Stored || res.Refreshed || res.Image.Data == nil {
		t.Fatalf("Refresh of a missing thumbnail = %+v, %v; want it made", res, err)
	}
	made, err := st.Head(ctx, k.String())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a later write has a later time
	res, err = m.Refresh(ctx, k)
	if err != nil || !res.Stored || !res.Refreshed || res.SaveErr != nil || res.Existing == nil || res.Image.Data != nil {
		t.Fatalf("Refresh of a stored thumbnail = %+v, %v; want it written again, not made", res, err)
	}
	now, err := st.Head(ctx, k.String())
	if err != nil {
		t.Fatal(err)
	}
	if !now.LastModified.After(made.LastModified) || now.ETag != made.ETag || now.ContentType != "image/webp" || now.CacheControl != cfg.CacheControl {
		t.Errorf("after Refresh: %+v; before: %+v; want the same object written again", now, made)
	}
	tags, err := st.Tags(ctx, k.String())
	if err != nil || tags["thumbnail"] != "yes" {
		t.Errorf("tags after Refresh = %v, %v; want thumbnail=yes kept", tags, err)
	}
	// The size policy holds for refreshes too.
	big, _ := thumbkey.Parse("photos/earth_9000x.jpg")
	if _, err := m.Refresh(ctx, big); !errors.Is(err, policy.ErrSizeNotAllowed) {
		t.Errorf("Refresh of a size the policy refuses: %v, want policy.ErrSizeNotAllowed", err)
	}
}

func TestEnsureErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Policy.MaxDimension = 500
	m, st := newMaker(t, cfg)
	for key, want := range map[string]error{
		"photos/earth_600x10.jpg":  policy.ErrSizeNotAllowed,
		"photos/mars_100x100.jpg":  ErrOriginalMissing,
		"elsewhere/earth_10x.jpeg": ErrOriginalMissing,
	} {
		k, err := thumbkey.Parse(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Ensure(context.Background(), k); !errors.Is(err, want) {
			t.Errorf("Ensure(%s) = %v, want %v", key, err, want)
		}
		if _, err := st.Head(context.Background(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Ensure(%s) stored something", key)
		}
	}

	small := DefaultConfig()
	small.MaxSourceBytes = 1000
	m, _ = newMaker(t, small)
	k, _ := thumbkey.Parse("photos/earth_10x10.jpg")
	if _, err := m.Ensure(context.Background(), k); !errors.Is(err, ErrOriginalTooLarge) {
		t.Errorf("Ensure with a 1000-byte limit = %v, want ErrOriginalTooLarge", err)
	}
}

func TestStoreBackOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StoreBack = false
	m, st := newMaker(t, cfg)
	k, _ := thumbkey.Parse("photos/earth_10x10.jpg")
	for range 2 {
		res, err := m.Ensure(context.Background(), k)
		if err != nil || res.Existing != nil || res.Stored || len(res.Image.Data) == 0 {
			t.Fatalf("Ensure = %+v, %v; want a fresh thumbnail every time", res, err)
		}
	}
	if _, err := st.Head(context.Background(), k.String()); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("stored with store-back off")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Policy.MaxDimension = 0 },
		func(c *Config) { c.Policy.MaxDimension = imaging.MaxDimension + 1 },
		func(c *Config) { c.DefaultMode = "stretch" },
		func(c *Config) { c.SourceExts = nil },
		func(c *Config) { c.SourceExts = []string{"gif"} },
		func(c *Config) { c.Quality[imaging.JPEG] = 101 },
		func(c *Config) { c.MaxSourceBytes = 0 },
	}
	for i, mutate := range bad {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted a bad config", i)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestOptions: each mode of the grammar, named or the default, asks the
// engine for its fit and focus; a mode that crops, with a free side, fits.
func TestOptions(t *testing.T) {
	tests := []struct {
		key         string
		defaultMode thumbkey.Mode
		fit         imaging.Fit
		focus       imaging.Focus
	}{
		{"a_200x200.jpg", thumbkey.ModeFill, imaging.Cover, imaging.Centre},
		{"a_200x200.jpg", thumbkey.ModeFit, imaging.Inside, imaging.Centre},
		{"a_200x200.jpg", thumbkey.ModeSmart, imaging.Cover, imaging.Attention},
		{"a_200x200.jpg", thumbkey.ModeEntropy, imaging.Cover, imaging.Entropy},
		{"a_200x200_fill.jpg", thumbkey.ModeSmart, imaging.Cover, imaging.Centre},
		{"a_200x200_fit.jpg", thumbkey.ModeSmart, imaging.Inside, imaging.Centre},
		{"a_200x200_smart.jpg", thumbkey.ModeFit, imaging.Cover, imaging.Attention},
		{"a_200x200_entropy@2x.webp", thumbkey.ModeFill, imaging.Cover, imaging.Entropy},
		{"a_200x_smart.jpg", thumbkey.ModeFill, imaging.Inside, imaging.Attention},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.DefaultMode = tt.defaultMode
		m := &Maker{cfg: cfg}
		k, err := thumbkey.Parse(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if o := m.options(k); o.Fit != tt.fit || o.Focus != tt.focus {
			t.Errorf("%s with default %s: fit %d focus %d, want fit %d focus %d", tt.key, tt.defaultMode, o.Fit, o.Focus, tt.fit, tt.focus)
		}
	}
}

// recordingGate records what the maker asks of it, around a real limiter.
type recordingGate struct {
	l      *Limiter
	events *[]string
}

func (g recordingGate) Admit(ctx context.Context) (Ticket, error) {
	*g.events = append(*g.events, "admit")
	t, err := g.l.Admit(ctx)
	return recordingTicket{t, g.events}, err
}

func (g recordingGate) Reserve(ctx context.Context, bytes int64) (func(), error) {
	*g.events = append(*g.events, "reserve")
	return g.l.Reserve(ctx, bytes)
}

type recordingTicket struct {
	Ticket
	events *[]string
}

func (t recordingTicket) Acquire(ctx context.Context, work time.Duration) (func(), error) {
	*t.events = append(*t.events, fmt.Sprintf("acquire %v", work))
	return t.Ticket.Acquire(ctx, work)
}

// readHook records reads of the original.
type readHook struct {
	Store
	events *[]string
}

func (h readHook) Get(ctx context.Context, key string) (*store.Object, error) {
	*h.events = append(*h.events, "get "+key)
	return h.Store.Get(ctx, key)
}

// TestEnsureQueuesByWork: a request is admitted before its original is
// read, and waits for a slot with the work the engine estimates from the
// original's header; the place is given back once the thumbnail is made.
func TestEnsureQueuesByWork(t *testing.T) {
	_, st := newMaker(t, DefaultConfig())
	vips, err := imaging.New(imaging.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	l := NewLimiter(1, 0, DefaultMaxMemory)
	cfg := DefaultConfig()
	cfg.StoreBack = false
	m, err := NewMaker(readHook{st, &events}, vips, recordingGate{l, &events}, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	k, err := thumbkey.Parse("photos/earth_200x200.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	want, err := vips.Work(samplePhoto(t), m.options(k))
	if err != nil || want <= 0 {
		t.Fatalf("Work = %v, %v", want, err)
	}
	if w := []string{"admit", "get photos/earth.jpg", fmt.Sprintf("acquire %v", want), "reserve"}; !slices.Equal(events, w) {
		t.Errorf("events %q, want %q", events, w)
	}
	if l.admitted != 0 || l.free != 1 {
		t.Errorf("after the thumbnail: %d admitted, %d slots free; want 0 and 1", l.admitted, l.free)
	}
}
