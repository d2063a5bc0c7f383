package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/queue/queuetest"

	"github.com/s3thumb/s3thumb/internal/backfill"
	"github.com/s3thumb/s3thumb/internal/queue"
)

// enqueueRun runs s3thumb with stdin and ctx, returning the exit code and
// outputs.
func enqueueRun(ctx context.Context, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	app := newApp(&out, &errOut)
	app.Reader = stdin
	err := app.RunContext(ctx, append([]string{"s3thumb"}, args...))
	if err != nil {
		fmt.Fprintln(&errOut, "s3thumb:", err)
	}
	return exitCode(err), out.String(), errOut.String()
}

// originalsDir makes a directory store holding dummy originals (enqueue
// never reads them).
func originalsDir(t *testing.T, keys ...string) string {
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
	return dir
}

// queuedKeys takes every job out of a file queue and returns the keys,
// sorted.
func queuedKeys(t *testing.T, dir string) []string {
	t.Helper()
	q, err := queue.OpenFile(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return queuetest.Keys(queuetest.Drain(t, q))
}

func TestEnqueueUsageErrors(t *testing.T) {
	dir := originalsDir(t, "a.jpg")
	store := []string{"enqueue", "--store", "file://" + dir}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--sizes", "200"}, "--sizes: bad backfill specification: size \"200\": want WxH"},
		{[]string{"--sizes", "200x200_stretch"}, "_MODE (fit, fill, smart or entropy)"},
		{[]string{"--sizes", "200x200", "--formats", "gif"}, `--formats: bad backfill specification: format "gif"`},
		{[]string{"--sizes", "200x200", "--since", "yesterday"}, `--since: bad backfill specification: date "yesterday": want YYYY-MM-DD`},
		{[]string{"--sizes", "5000x"}, "size 5000x: size not allowed"},
		{[]string{"--sizes", "300x300", "--allowed-sizes", "200x200"}, "300x300 is not one of the allowed sizes"},
		{[]string{}, "--sizes is required"},
		{[]string{"--from-file", "-", "a_200x200.jpg"}, "not both"},
		{[]string{"--prefix", "a/", "a_200x200.jpg"}, "--prefix"},
		{[]string{"--since", "2026-01-01", "a_200x200.jpg"}, "--since"},
		{[]string{"--sizes", "200x200", "--rate", "-5"}, "rate -5"},
		{[]string{"--sizes", "200x200", "--send-concurrency", "0"}, "concurrency 0"},
		{[]string{"--sizes", "200x200", "--queue", "ftp://x"}, "--queue"},
		{[]string{"--sizes", "200x200", "--reason", strings.Repeat("r", 65)}, "reason"},
		{[]string{"--from-file", filepath.Join(dir, "missing.txt")}, "--from-file"},
		{[]string{"--sizes", "200x200", "--progress-interval", "0s"}, "--progress-interval"},
		{[]string{"--stale-only", "--sizes", "200x200"}, "--stale-only lists the thumbnails stored"},
		{[]string{"--stale-only", "--skip-existing"}, "--skip-existing"},
		{[]string{"--stale-only", "a.jpg"}, "keys given do not apply"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := enqueueRun(context.Background(), strings.NewReader(""), append(store, tt.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d (usage), with %q in:\n%s", code, exitUsage, tt.want, errOut)
			}
		})
	}
	t.Run("s3 store without --queue", func(t *testing.T) {
		code, _, errOut := enqueueRun(context.Background(), nil, "enqueue", "--store", "s3://bucket", "--sizes", "200x200")
		if code != exitUsage || !strings.Contains(errOut, "--queue is required") {
			t.Errorf("exit %d, want %d (usage):\n%s", code, exitUsage, errOut)
		}
	})
}

func TestEnqueueDryRun(t *testing.T) {
	dir := originalsDir(t, "photos/b.jpg", "photos/a.png", "photos/a_200x200.png", "photos/notes.txt", "other/c.jpg")
	code, out, errOut := enqueueRun(context.Background(), nil, "enqueue", "--store", "file://"+dir, "--prefix", "photos/",
		"--sizes", "200x200,100x_fit@2x", "--formats", "webp,jpg", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	want := "photos/a_200x200.webp\nphotos/a_100x_fit@2x.webp\nphotos/a_200x200.jpg\nphotos/a_100x_fit@2x.jpg\n" +
		"photos/b_200x200.webp\nphotos/b_100x_fit@2x.webp\nphotos/b_200x200.jpg\nphotos/b_100x_fit@2x.jpg\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	for _, line := range []string{"listed                 4", "not originals          2", "would queue (dry run)  8"} {
		if !strings.Contains(errOut, line) {
			t.Errorf("summary on stderr lacks %q:\n%s", line, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".queue")); !os.IsNotExist(err) {
		t.Errorf("a dry run touched the queue: %v", err)
	}
}

func TestEnqueueKeysGiven(t *testing.T) {
	dir := originalsDir(t)
	qdir := filepath.Join(t.TempDir(), "q")
	args := []string{"enqueue", "--store", "file://" + dir, "--queue", "file://" + qdir, "--max-dimension", "1000"}

	code, out, errOut := enqueueRun(context.Background(), nil, append(args, "a_200x200.jpg", "b_300x_fit.webp")...)
	if code != exitOK || !strings.Contains(out, "queued                 2") {
		t.Fatalf("keys as arguments: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := queuedKeys(t, qdir); !slices.Equal(got, []string{"a_200x200.jpg", "b_300x_fit.webp"}) {
		t.Errorf("queued %q", got)
	}

	stdin := strings.NewReader("c_200x200.jpg\n\nnot a key\nd_2000x2000.jpg\nphotos/e.png\n")
	code, out, errOut = enqueueRun(context.Background(), stdin, append(args, "--from-file", "-", "--sizes", "50x50")...)
	if code != exitRejected {
		t.Errorf("two bad keys: exit %d, want %d\n%s", code, exitRejected, errOut)
	}
	if !strings.Contains(out, "rejected               2") || !strings.Contains(errOut, `key="not a key"`) || !strings.Contains(errOut, "d_2000x2000.jpg") {
		t.Errorf("the rejected keys are not reported:\n%s\n%s", out, errOut)
	}
	if got := queuedKeys(t, qdir); !slices.Equal(got, []string{"c_200x200.jpg", "photos/e_50x50.png"}) {
		t.Errorf("queued %q", got)
	}
}

// TestEnqueueInterruptAndResume interrupts a rate-limited backfill, then
// resumes it with the --start-after it printed.
func TestEnqueueInterruptAndResume(t *testing.T) {
	var keys, want []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("img%03d.jpg", i))
		want = append(want, fmt.Sprintf("img%03d_64x64.jpg", i))
	}
	dir := originalsDir(t, keys...)
	qdir := filepath.Join(t.TempDir(), "q")
	args := []string{"enqueue", "--store", "file://" + dir, "--queue", "file://" + qdir, "--sizes", "64x64", "--rate", "200", "--progress-interval", "100ms"}

	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	code, out, errOut := enqueueRun(ctx, nil, args...)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d (interrupted)\n%s\n%s", code, exitInterrupted, out, errOut)
	}
	if !strings.Contains(errOut, "enqueue progress") {
		t.Errorf("no progress logged:\n%s", errOut)
	}
	m := regexp.MustCompile(`--start-after '(img\d{3}\.jpg)'`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no --start-after printed:\n%s", errOut)
	}
	first := queuedKeys(t, qdir)
	if len(first) == 0 || len(first) == len(want) {
		t.Fatalf("the interrupted run queued %d of %d jobs", len(first), len(want))
	}
	for _, k := range want {
		if k[:6]+".jpg" <= m[1] && !slices.Contains(first, k) {
			t.Errorf("%s comes before the resume key %s but was not queued", k, m[1])
		}
	}

	code, _, errOut = enqueueRun(context.Background(), nil, append(args, "--rate", "0", "--start-after", m[1])...)
	if code != exitOK {
		t.Fatalf("resumed run: exit %d\n%s", code, errOut)
	}
	all := append(first, queuedKeys(t, qdir)...)
	slices.Sort(all)
	if got := slices.Compact(all); !slices.Equal(got, want) {
		t.Errorf("the two runs queued %d distinct jobs, want %d", len(got), len(want))
	}
}

func TestEnqueueProgressBar(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runBar(ctx, &buf, func() backfill.Counts { return backfill.Counts{Listed: 1234, Queued: 2468, Existing: 7} }, false)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	for _, want := range []string{"listed 1234", "skipped 7 existing", "2468", "jobs/s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("progress bar %q lacks %q", buf.String(), want)
		}
	}
}
