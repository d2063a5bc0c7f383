package backfill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/queue/queuetest"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// files makes a directory store holding the given keys (with a dummy body:
// a backfill never reads originals) and returns it.
func files(t testing.TB, keys ...string) (*store.FileStore, string) {
	t.Helper()
	dir := t.TempDir()
	for _, key := range keys {
		path := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}

func fileQueue(t testing.TB) *queue.FileQueue {
	t.Helper()
	q, err := queue.OpenFile(filepath.Join(t.TempDir(), "queue"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// queued receives and deletes every job in q and returns their keys,
// sorted, checking each job's reason and time.
func queued(t testing.TB, q queue.Queue) []string {
	t.Helper()
	jobs := queuetest.Drain(t, q)
	for _, j := range jobs {
		if j.Reason != "backfill" || time.Since(j.EnqueuedAt) > time.Minute {
			t.Errorf("job %+v: want reason backfill and a recent enqueued_at", j)
		}
	}
	return queuetest.Keys(jobs)
}

func mustSizes(t testing.TB, s string) []Size {
	t.Helper()
	sizes, err := ParseSizes(s)
	if err != nil {
		t.Fatal(err)
	}
	return sizes
}

func newBackfill(t testing.TB, cfg Config, st Store, q Sender) *Backfill {
	t.Helper()
	b, err := New(cfg, st, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    []Size
		wantErr bool
	}{
		{"200x200", []Size{{Width: 200, Height: 200, Density: 1}}, false},
		{" 200x200 , 400x_fit,x300_fill@2x,", []Size{{Width: 200, Height: 200, Density: 1}, {Width: 400, Mode: thumbkey.ModeFit, Density: 1}, {Height: 300, Mode: thumbkey.ModeFill, Density: 2}}, false},
		{"200x200,200x200", []Size{{Width: 200, Height: 200, Density: 1}}, false},
		{"100x100@3x", []Size{{Width: 100, Height: 100, Density: 3}}, false},
		{"", nil, false},
		{"200", nil, true},
		{"200x200_stretch", nil, true},
		{"200x200@4x", nil, true},
		{"0x200", nil, true},
		{"200x200_300x300", nil, true},
		{"a/200x200", nil, true},
		{"x", nil, true},
		{"200x200.jpg", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSizes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSizes(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), "want WxH") {
					t.Errorf("error %v: want ErrBadSpec saying what a size looks like", err)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseSizes(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			for _, s := range got {
				back, err := ParseSizes(s.String())
				if err != nil || len(back) != 1 || back[0] != s {
					t.Errorf("%+v.String() = %q does not parse back: %v %v", s, s.String(), back, err)
				}
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	got, err := ParseFormats("webp, .JPG,avif")
	if err != nil || !slices.Equal(got, []string{"webp", "JPG", "avif"}) {
		t.Errorf("ParseFormats = %q, %v", got, err)
	}
	for _, bad := range []string{"gif", "webp,heic", "exe"} {
		if _, err := ParseFormats(bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseFormats(%q) = %v, want ErrBadSpec", bad, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	tests := map[string]time.Time{
		"2026-01-02":                time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"2026-01-02T15:04:05Z":      time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		"2026-01-02T15:04:05+02:00": time.Date(2026, 1, 2, 13, 4, 5, 0, time.UTC),
	}
	for in, want := range tests {
		if got, err := ParseSince(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "2026-13-01", "02/01/2026", ""} {
		if _, err := ParseSince(bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseSince(%q) = %v, want ErrBadSpec", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sizes = mustSizes(t, "200x200,5000x")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "size 5000x") {
		t.Errorf("a size above --max-dimension: Validate = %v, want an error naming it", err)
	}
	cfg = DefaultConfig()
	cfg.Sizes = mustSizes(t, "200x200")
	cfg.Policy.AllowedSizes = []thumbkey.Box{{Width: 100, Height: 100}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "size 200x200") {
		t.Errorf("a size outside --allowed-sizes: Validate = %v, want an error naming it", err)
	}
	cfg = DefaultConfig()
	cfg.Reason = "bad\nreason"
	if err := cfg.Validate(); err == nil {
		t.Error("a reason with a newline: Validate = nil")
	}
	cfg = DefaultConfig()
	cfg.DryRun = true
	if err := cfg.Validate(); err == nil {
		t.Error("a dry run without Out: Validate = nil")
	}
}

func TestFromStore(t *testing.T) {
	st, dir := files(t,
		"photos/a.jpg", "photos/b.PNG", "photos/c.avif", "photos/sub/d.webp",
		"photos/a_200x200.jpg",           // a thumbnail: skipped
		"photos/readme.txt", "photos/es", // not images
		"photos/old.jpg",               // older than --since
		"photos/e.jpg", "photos/e.png", // one original, two extensions
		"photos/.hidden.jpg", // not an object of a directory store
		"other/x.jpg",        // outside the prefix
	)
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "photos", "old.jpg"), old, old); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		formats []string
		want    []string
		counts  Counts
	}{
		{
			name: "own formats",
			want: []string{
				"photos/a_200x200.jpg", "photos/a_400x_fit@2x.jpg",
				"photos/b_200x200.PNG", "photos/b_400x_fit@2x.PNG",
				"photos/c_200x200.avif", "photos/c_400x_fit@2x.avif",
				"photos/e_200x200.jpg", "photos/e_200x200.png", "photos/e_400x_fit@2x.jpg", "photos/e_400x_fit@2x.png",
				"photos/sub/d_200x200.webp", "photos/sub/d_400x_fit@2x.webp",
			},
			counts: Counts{Listed: 10, Ignored: 4, Queued: 12},
		},
		{
			// c.avif is not found from a .webp key with the default
			// --source-exts (b.PNG is: they are tried in upper case too);
			// e.jpg and e.png make the same keys.
			name:    "webp",
			formats: []string{"webp"},
			want: []string{
				"photos/a_200x200.webp", "photos/a_400x_fit@2x.webp",
				"photos/b_200x200.webp", "photos/b_400x_fit@2x.webp",
				"photos/e_200x200.webp", "photos/e_400x_fit@2x.webp",
				"photos/sub/d_200x200.webp", "photos/sub/d_400x_fit@2x.webp",
			},
			counts: Counts{Listed: 10, Ignored: 4, Queued: 8, Rejected: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fileQueue(t)
			cfg := DefaultConfig()
			cfg.Prefix = "photos/"
			cfg.Sizes = mustSizes(t, "200x200,400x_fit@2x")
			cfg.Formats = tt.formats
			cfg.Since = time.Now().Add(-24 * time.Hour)
			res, err := newBackfill(t, cfg, st, q).FromStore(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := queued(t, q); !slices.Equal(got, tt.want) {
				t.Errorf("queued %q,\nwant %q", got, tt.want)
			}
			if res.Counts != tt.counts {
				t.Errorf("counts %+v, want %+v", res.Counts, tt.counts)
			}
			if res.ResumeAfter != "photos/sub/d.webp" {
				t.Errorf("ResumeAfter = %q, want the last key listed", res.ResumeAfter)
			}
		})
	}
}

func TestDryRunAndSkipExisting(t *testing.T) {
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("p%02d.jpg", i))
	}
	// Some thumbnails exist already.
	keys = append(keys, "p03_100x100.jpg", "p17_50x.jpg", "p17_100x100.jpg")
	st, _ := files(t, keys...)
	var want []string
	for i := range 40 {
		for _, size := range []string{"100x100", "50x"} {
			key := fmt.Sprintf("p%02d_%s.jpg", i, size)
			if !slices.Contains(keys, key) {
				want = append(want, key)
			}
		}
	}
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Sizes = mustSizes(t, "100x100,50x")
	cfg.SkipExisting = true
	cfg.HeadConcurrency = 7
	cfg.DryRun = true
	cfg.Out = &out
	res, err := newBackfill(t, cfg, st, nil).FromStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// In listing order, one a line.
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("dry run printed %q,\nwant %q", got, want)
	}
	if want := (Counts{Listed: 43, Ignored: 3, Queued: 77, Existing: 3}); res.Counts != want {
		t.Errorf("counts %+v, want %+v", res.Counts, want)
	}
}

func TestFromKeys(t *testing.T) {
	keys := []string{
		"a_200x200.jpg", // as is
		"",              // blank lines are skipped
		"photos/b.png",  // an original: expanded
		"c_5000x.jpg",   // refused by the policy
		"../x_200x200.jpg",
		"notes.txt",
		"d_100x100_fit.webp",
	}
	tests := []struct {
		name       string
		startAfter string
		want       []string
		counts     Counts
		resume     string
	}{
		{"all", "", []string{"a_200x200.jpg", "d_100x100_fit.webp", "photos/b_300x300.png"}, Counts{Listed: 6, Queued: 3, Rejected: 3}, "d_100x100_fit.webp"},
		{"resumed", "c_5000x.jpg", []string{"d_100x100_fit.webp"}, Counts{Listed: 3, Queued: 1, Rejected: 2}, "d_100x100_fit.webp"},
		{"start key not given", "zzz.jpg", nil, Counts{}, "zzz.jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fileQueue(t)
			cfg := DefaultConfig()
			cfg.Sizes = mustSizes(t, "300x300")
			cfg.StartAfter = tt.startAfter
			res, err := newBackfill(t, cfg, nil, q).FromKeys(context.Background(), seqOf(keys))
			if err != nil {
				t.Fatal(err)
			}
			if got := queued(t, q); !slices.Equal(got, tt.want) {
				t.Errorf("queued %q, want %q", got, tt.want)
			}
			if res.Counts != tt.counts || res.ResumeAfter != tt.resume {
				t.Errorf("result %+v, want %+v resuming after %q", res, tt.counts, tt.resume)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		readErr := errors.New("stdin: broken pipe")
		seq := func(yield func(string, error) bool) {
			if yield("a_200x200.jpg", nil) {
				yield("", readErr)
			}
		}
		_, err := newBackfill(t, DefaultConfig(), nil, fileQueue(t)).FromKeys(context.Background(), seq)
		if !errors.Is(err, readErr) {
			t.Errorf("error = %v, want the read error", err)
		}
	})
}

// TestInterruptAndResume interrupts a backfill after a few batches, then
// resumes it from the key it reports: together the two runs queue every
// job, and the first run queued every job up to its resume key.
func TestInterruptAndResume(t *testing.T) {
	var keys, want []string
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("img%03d.jpg", i))
		want = append(want, fmt.Sprintf("img%03d_10x10.jpg", i), fmt.Sprintf("img%03d_20x20.jpg", i))
	}
	slices.Sort(want)
	st, _ := files(t, keys...)
	q := fileQueue(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupting := &cancelAfter{Sender: q, batches: 7, cancel: cancel}
	cfg := DefaultConfig()
	cfg.Sizes = mustSizes(t, "10x10,20x20")
	// One batch at a time, so that the batches before the interrupt are
	// the first ones: with several, the first batch may be sent after the
	// interrupt on a loaded machine, and nothing can be resumed after
	// (TestTracker covers batches finishing out of order).
	cfg.Concurrency = 1
	first, err := newBackfill(t, cfg, st, interrupting).FromStore(ctx)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want ErrInterrupted", err)
	}
	if first.ResumeAfter == "" || first.Queued == 0 || first.Queued >= int64(len(want)) {
		t.Fatalf("first run: %+v, want some but not all jobs queued and a resume key", first)
	}
	got1 := queued(t, q)
	if int64(len(got1)) != first.Queued {
		t.Errorf("first run counted %d queued, the queue holds %d", first.Queued, len(got1))
	}
	// Every job of every original up to the resume key was sent.
	for _, key := range want {
		if key[:len("img000")]+".jpg" <= first.ResumeAfter && !slices.Contains(got1, key) {
			t.Errorf("%s is before the resume key %s but was not queued", key, first.ResumeAfter)
		}
	}

	cfg.StartAfter = first.ResumeAfter
	second, err := newBackfill(t, cfg, st, q).FromStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got2 := queued(t, q)
	all := append(slices.Clone(got1), got2...)
	slices.Sort(all)
	if got := slices.Compact(all); !slices.Equal(got, want) {
		t.Errorf("the two runs queued %d distinct keys, want all %d", len(got), len(want))
	}
	for _, key := range got2 {
		if key[:len("img000")]+".jpg" <= first.ResumeAfter {
			t.Errorf("the resumed run queued %s again, which is before %s", key, first.ResumeAfter)
		}
	}
	if second.ResumeAfter != "img299.jpg" {
		t.Errorf("second run ResumeAfter = %q, want the last key", second.ResumeAfter)
	}
}

// cancelAfter cancels a context after some batches have been sent, as an
// interrupt would.
type cancelAfter struct {
	Sender
	batches int32
	n       atomic.Int32
	cancel  context.CancelFunc
}

func (c *cancelAfter) Send(ctx context.Context, bodies [][]byte) error {
	if c.n.Add(1) == c.batches {
		c.cancel()
	}
	return c.Sender.Send(ctx, bodies)
}

// TestSendFailure: when the queue fails, the backfill stops with the error
// and a resume key before the first job that was not sent.
func TestSendFailure(t *testing.T) {
	var keys []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("img%03d.jpg", i))
	}
	st, _ := files(t, keys...)
	qdir := filepath.Join(t.TempDir(), "queue")
	q, err := queue.OpenFile(qdir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	breaking := &breakAfter{Sender: q, batches: 5, dir: qdir}
	cfg := DefaultConfig()
	cfg.Sizes = mustSizes(t, "10x10")
	cfg.Concurrency = 1
	res, err := newBackfill(t, cfg, st, breaking).FromStore(context.Background())
	if err == nil || errors.Is(err, ErrInterrupted) {
		t.Fatalf("error = %v, want the queue's failure", err)
	}
	if res.Queued != 40 || res.ResumeAfter != "img039.jpg" {
		t.Errorf("result %+v, want 40 queued (4 batches) and resume after img039.jpg", res)
	}
}

// breakAfter removes the file queue's folder before the given batch.
type breakAfter struct {
	Sender
	batches int
	n       int
	dir     string
}

func (b *breakAfter) Send(ctx context.Context, bodies [][]byte) error {
	if b.n++; b.n == b.batches {
		if err := os.RemoveAll(b.dir); err != nil {
			return err
		}
	}
	return b.Sender.Send(ctx, bodies)
}

func TestRate(t *testing.T) {
	var keys []string
	for i := range 50 {
		keys = append(keys, fmt.Sprintf("img%03d_10x10.jpg", i))
	}
	cfg := DefaultConfig()
	cfg.Rate = 100
	q := fileQueue(t)
	start := time.Now()
	res, err := newBackfill(t, cfg, nil, q).FromKeys(context.Background(), seqOf(keys))
	if err != nil {
		t.Fatal(err)
	}
	// A burst of one batch, then 40 jobs at 100 a second.
	if took := time.Since(start); took < 350*time.Millisecond {
		t.Errorf("50 jobs at 100/s took %v, want at least 0.4s", took)
	}
	if res.Queued != 50 {
		t.Errorf("queued %d, want 50", res.Queued)
	}
}

func TestTracker(t *testing.T) {
	tr := tracker{pending: map[int64]*pendingKey{}, resume: "start"}
	tr.add(0, "a", 2)
	tr.add(1, "b", 0)
	tr.add(2, "c", 1)
	tr.add(3, "d", 0)
	steps := []struct {
		seq  int64
		want string
	}{
		{2, "start"}, // c is done, but a is not
		{0, "start"}, // a has one job left
		{0, "d"},     // a, then b, c and d, are done
	}
	for _, s := range steps {
		tr.done(s.seq, 1)
		if got := tr.resumeAfter(); got != s.want {
			t.Fatalf("after done(%d): resume after %q, want %q", s.seq, got, s.want)
		}
	}
}

// seqOf yields keys without errors.
func seqOf(keys []string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

// TestFromStoreOriginalsNamedLikeThumbnails: a key named like a thumbnail is
// an original unless it carries the thumbnail tag, on a directory store and
// on versitygw: an untagged banner_1200x630.jpg (no banner.jpg) gets its
// thumbnails, a tagged orphan (its original deleted) does not, and the
// thumbnails of a listed original are skipped without asking for tags.
func TestFromStoreOriginalsNamedLikeThumbnails(t *testing.T) {
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			thumb := store.PutOptions{Tags: thumbtag.Tags()}
			for key, opts := range map[string]store.PutOptions{
				"social/banner_1200x630.jpg": {}, // an original
				"social/icon_512x512.png":    {}, // an original
				"social/gone_100x100.jpg":    thumb,
				"social/photo.jpg":           {},
				"social/photo_200x200.jpg":   thumb,
			} {
				if err := st.Put(t.Context(), key, []byte("x"), opts); err != nil {
					t.Fatal(err)
				}
			}
			tags := &tagCounter{Store: st}
			q := fileQueue(t)
			cfg := DefaultConfig()
			cfg.Sizes = mustSizes(t, "200x200")
			res, err := newBackfill(t, cfg, tags, q).FromStore(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"social/banner_1200x630_200x200.jpg", "social/icon_512x512_200x200.png", "social/photo_200x200.jpg"}
			if got := queued(t, q); !slices.Equal(got, want) {
				t.Errorf("queued %q, want %q", got, want)
			}
			if want := (Counts{Listed: 5, Ignored: 2, Queued: 3}); res.Counts != want {
				t.Errorf("counts %+v, want %+v", res.Counts, want)
			}
			if got := tags.asked(); !slices.Equal(got, []string{"social/banner_1200x630.jpg", "social/gone_100x100.jpg", "social/icon_512x512.png"}) {
				t.Errorf("tags read of %q; want only the keys named like thumbnails of no listed original", got)
			}
		})
	}
}

// tagCounter is a real store that records whose tags were read.
type tagCounter struct {
	store.Store
	mu   sync.Mutex
	keys []string
}

func (s *tagCounter) Tags(ctx context.Context, key string) (map[string]string, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.Store.Tags(ctx, key)
}

func (s *tagCounter) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(slices.Values(s.keys))
}
