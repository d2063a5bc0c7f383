package watch

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
)

// recorder keeps what is sent.
type recorder struct{ bodies [][]byte }

func (r *recorder) Send(_ context.Context, bodies [][]byte) error {
	r.bodies = append(r.bodies, bodies...)
	return nil
}

// events decodes what was sent since the last call, as a worker would:
// keys, removed ones after "-".
func (r *recorder) events(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, b := range r.bodies {
		c, err := queue.DecodeContent(b)
		if err != nil || c.Job != nil {
			t.Fatalf("DecodeContent(%s) = %+v, %v; want an S3 event", b, c, err)
		}
		for _, u := range c.Uploads {
			if u.Removed {
				out = append(out, "-"+u.Key)
			} else {
				out = append(out, u.Key)
			}
		}
	}
	r.bodies = nil
	slices.Sort(out)
	return out
}

// TestScan: files created, replaced and removed in a directory store become
// the S3 events a worker reads; what is not an image, and the first
// listing, give none.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("photos/earth.jpg", "one", t0)
	write("photos/red flower+1.png", "one", t0)
	write("notes.txt", "one", t0)
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &recorder{}
	w := New(st, rec, slog.New(slog.DiscardHandler))
	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"first listing", func() {}, nil},
		{"nothing changed", func() {}, nil},
		{"replaced, created, removed, not an image", func() {
			write("photos/earth.jpg", "two", t0.Add(time.Minute))
			write("photos/moon.webp", "one", t0)
			write("notes.txt", "two", t0.Add(time.Minute))
			if err := os.Remove(filepath.Join(dir, "photos", "red flower+1.png")); err != nil {
				t.Fatal(err)
			}
		}, []string{"-photos/red flower+1.png", "photos/earth.jpg", "photos/moon.webp"}},
		{"settled", func() {}, nil},
	}
	for _, s := range steps {
		s.change()
		n, err := w.Scan(t.Context())
		got := rec.events(t)
		if err != nil || n != len(s.want) || !slices.Equal(got, s.want) {
			t.Errorf("%s: Scan = %d, %v, events %q; want %q", s.name, n, err, got, s.want)
		}
	}
}
