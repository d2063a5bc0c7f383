package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// generated writes days of generated logs into a new directory.
func generated(t *testing.T, days int, edit func(*loggen.Config)) (string, *loggen.Generator) {
	t.Helper()
	cfg := loggen.DefaultConfig()
	cfg.Days, cfg.RequestsPerDay, cfg.Originals, cfg.UploadsPerDay = days, 4000, 300, 10
	cfg.Layout, cfg.Gzip, cfg.Fields = loggen.LayoutBoth, true, 0
	cfg.DuplicateRate, cfg.MalformedRate = 0.01, 0.002
	if edit != nil {
		edit(&cfg)
	}
	g, err := loggen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.Run(context.Background(), loggen.DirSink{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	return dir, g
}

func fileStore(t *testing.T, dir string) *store.FileStore {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testLog builds an S3 server access log of bucket "b".
type testLog struct {
	data []byte
	n    int
}

// add appends rec with the bucket and, unless it has them, a request ID of
// its own and a client: one of five browsers, in turn, as visitors come.
func (l *testLog) add(rec accesslog.Record) {
	l.n++
	rec.Bucket = "b"
	if rec.RequestID == "" {
		rec.RequestID = "r" + strconv.Itoa(l.n)
	}
	if rec.RemoteIP == "" && rec.UserAgent == "" {
		rec.RemoteIP, rec.UserAgent = "192.0.2."+strconv.Itoa(1+l.n%5), "Mozilla/5.0"
	}
	l.data = accesslog.AppendS3(l.data, &rec, accesslog.S3FieldsLatest)
}

func newAnalyzer(t *testing.T, cfg analytics.Config, deps analytics.Deps) *analytics.Analyzer {
	t.Helper()
	a, err := analytics.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// loadState reads the state a run left.
func loadState(t *testing.T, st store.Store) *state.State {
	t.Helper()
	s, err := state.LoadState(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// thumbPregen is when the state says the thumbnail was queued, 0 for never
// or for a thumbnail it does not hold.
func thumbPregen(s *state.State, key string) int64 {
	t, err := s.ThumbState(key)
	if err != nil {
		return 0
	}
	return t.Pregen
}

// counters is the part of a state that must not depend on how runs went.
func counters(t *testing.T, s *state.State) string {
	t.Helper()
	days := make(map[int32]state.Day, len(s.Days))
	for d, x := range s.Days {
		x := *x
		x.Stored = 0 // a snapshot at the end of each run
		days[d] = x
	}
	b, err := json.Marshal(struct {
		Thumbs, Originals, Classes, Days any
		Records, Duplicates, Malformed   int64
		Done                             map[string]int64
	}{s.Thumbs, s.Originals, s.Classes, days, s.Totals.Records, s.Totals.Duplicates, s.Totals.Malformed, s.Done})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLocalLoop runs the analyzer on generated logs in a directory with a
// directory queue: jobs are queued for popular classes, each a valid job,
// and a second run over the same logs reads nothing and queues nothing.
func TestLocalLoop(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 3, nil)
	stateStore := fileStore(t, "")
	bucket := fileStore(t, "")
	q, err := queue.OpenFile(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deps := analytics.Deps{Logs: fileStore(t, logDir), State: stateStore, Bucket: bucket, Queue: q, Now: g.Now}
	a := newAnalyzer(t, analytics.DefaultConfig(), deps)
	rep, err := a.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	if rep.Run.LogObjects != st.Objects {
		t.Errorf("read %d log objects, generator wrote %d", rep.Run.LogObjects, st.Objects)
	}
	if rep.Run.Malformed != st.Malformed {
		t.Errorf("%d malformed lines, generator wrote %d", rep.Run.Malformed, st.Malformed)
	}
	s := loadState(t, stateStore)
	var requests, hits int64
	for _, d := range s.Days {
		requests += d.Requests
		hits += d.Hits
	}
	// Every thumbnail request counted once, duplicates dropped.
	if requests != st.Hits+st.Misses || hits != st.Hits {
		t.Errorf("state counts %d requests, %d hits; generator played %d requests, %d hits", requests, hits, st.Hits+st.Misses, st.Hits)
	}
	if rep.JobsQueued == 0 {
		t.Fatal("no jobs queued")
	}
	depth, err := q.Depth(ctx)
	if err != nil || depth != rep.JobsQueued {
		t.Fatalf("queue depth %d (%v), report says %d queued", depth, err, rep.JobsQueued)
	}
	msgs, err := q.Receive(ctx, queue.MaxBatch, time.Second)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("receive: %d messages, %v", len(msgs), err)
	}
	for _, m := range msgs {
		j, err := queue.Decode(m.Body)
		if err != nil {
			t.Fatalf("job %q: %v", m.Body, err)
		}
		if _, err := thumbkey.Parse(j.Key); err != nil || j.Reason == "" || thumbPregen(s, j.Key) == 0 {
			t.Errorf("job %+v: want a thumbnail marked queued in the state, with a reason (%v)", j, err)
		}
		if err := q.ChangeVisibility(ctx, m, 0); err != nil {
			t.Fatal(err)
		}
	}
	before := counters(t, s)

	rep2, err := a.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Run.LogObjects != 0 || rep2.JobsQueued != 0 {
		t.Errorf("second run read %d objects and queued %d jobs, want none", rep2.Run.LogObjects, rep2.JobsQueued)
	}
	if depth2, _ := q.Depth(ctx); depth2 != depth {
		t.Errorf("queue depth %d after the second run, want %d", depth2, depth)
	}
	if after := counters(t, loadState(t, stateStore)); after != before {
		t.Error("second run over the same logs changed the counters")
	}
}

// crash is what BeforeSave returns to play a crash.
var errCrash = errors.New("crash")

// TestCrashBeforeSave stops a run after it read and decided everything but
// before it wrote the state; the re-run must leave the same counters as one
// clean run.
func TestCrashBeforeSave(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 2, nil)
	logs := fileStore(t, logDir)

	clean := fileStore(t, "")
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: clean, Now: g.Now}).Run(ctx); err != nil {
		t.Fatal(err)
	}

	crashed := fileStore(t, "")
	deps := analytics.Deps{Logs: logs, State: crashed, Now: g.Now, BeforeSave: func() error { return errCrash }}
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), deps).Run(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("run: %v, want the crash", err)
	}
	if s := loadState(t, crashed); len(s.Done) != 0 || s.Totals.Records != 0 {
		t.Fatal("the crashed run left state behind")
	}
	deps.BeforeSave = nil
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), deps).Run(ctx); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if got, want := counters(t, loadState(t, crashed)), counters(t, loadState(t, clean)); got != want {
		t.Error("counters after a crash and a re-run differ from one clean run")
	}
}

// TestIncremental reads logs delivered in two parts in two runs, the
// second written as a delta on the first's base (after a try that
// crashed before its save): the counters equal one run over all of them,
// duplicates across the parts included.
func TestIncremental(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 2, nil)
	var keys []string
	filepath.WalkDir(logDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			keys = append(keys, path)
		}
		return nil
	})
	half := t.TempDir()
	for _, path := range keys[:len(keys)/2] {
		rel, _ := filepath.Rel(logDir, path)
		os.MkdirAll(filepath.Dir(filepath.Join(half, rel)), 0o755)
		if err := os.Rename(path, filepath.Join(half, rel)); err != nil {
			t.Fatal(err)
		}
	}
	one := fileStore(t, "")
	two := fileStore(t, "")
	// First run sees half; then the rest arrives.
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, logDir), State: two, Now: g.Now}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range keys[:len(keys)/2] {
		rel, _ := filepath.Rel(logDir, path)
		if err := os.Rename(filepath.Join(half, rel), path); err != nil {
			t.Fatal(err)
		}
	}
	// A run that stops before its save writes no delta.
	crashed := analytics.Deps{Logs: fileStore(t, logDir), State: two, Now: g.Now, BeforeSave: func() error { return errCrash }}
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), crashed).Run(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("run: %v, want the crash", err)
	}
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, logDir), State: two, Now: g.Now}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, logDir), State: one, Now: g.Now}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	var deltas int
	two.List(ctx, "analyzer-state.delta.", "", func(store.Attrs) error { deltas++; return nil })
	if deltas != 1 {
		t.Errorf("the second run wrote %d deltas, want 1 (on the first run's base)", deltas)
	}
	s := loadState(t, two)
	if got, want := counters(t, s), counters(t, loadState(t, one)); got != want {
		t.Error("two runs over two parts counted differently from one run over all")
	}
	if s.Totals.Duplicates == 0 {
		t.Error("no duplicate dropped; the generator delivers some")
	}
}

// TestLock makes a second run find the first's lock.
func TestLock(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 1, nil)
	stateStore := fileStore(t, "")
	var inner error
	deps := analytics.Deps{Logs: fileStore(t, logDir), State: stateStore, Now: g.Now}
	deps.BeforeSave = func() error {
		_, inner = newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: deps.Logs, State: stateStore, Now: g.Now}).Run(ctx)
		return nil
	}
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), deps).Run(ctx); err != nil {
		t.Fatal(err)
	}
	var le *analytics.LockError
	if !errors.Is(inner, analytics.ErrLocked) || !errors.As(inner, &le) || !strings.Contains(inner.Error(), "pid") {
		t.Fatalf("overlapping run: %v, want a LockError naming the holder", inner)
	}
	// Released: a later run goes ahead.
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: deps.Logs, State: stateStore, Now: g.Now}).Run(ctx); err != nil {
		t.Fatalf("run after the first ended: %v", err)
	}
	// An expired lock (its run died) is taken over.
	cfg := analytics.DefaultConfig()
	stale, _ := json.Marshal(map[string]any{"owner": "dead run", "expires": time.Now().Add(-time.Minute)})
	if err := stateStore.Put(ctx, "analyzer.lock", stale, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := newAnalyzer(t, cfg, analytics.Deps{Logs: deps.Logs, State: stateStore}).Run(ctx); err != nil {
		t.Fatalf("run over an expired lock: %v", err)
	}
}

// TestDryRun plans without queueing, deleting or writing state.
func TestDryRun(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 2, nil)
	stateStore := fileStore(t, "")
	q, err := queue.OpenFile(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := analytics.DefaultConfig()
	cfg.DryRun = true
	rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: fileStore(t, logDir), State: stateStore, Queue: q, Now: g.Now}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Jobs) == 0 || rep.JobsQueued != 0 {
		t.Errorf("dry run: %d jobs planned, %d queued; want some planned, none queued", len(rep.Jobs), rep.JobsQueued)
	}
	if d, _ := q.Depth(ctx); d != 0 {
		t.Errorf("dry run queued %d jobs", d)
	}
	if s := loadState(t, stateStore); len(s.Done) != 0 {
		t.Error("dry run wrote state")
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), "plan (dry run)") || !strings.Contains(out.String(), rep.Jobs[0].Key) {
		t.Errorf("dry run text (%v):\n%s", err, out.String())
	}
}

// TestPlainThenGzip reads an uncompressed log object between gzip ones:
// the buffers reused between objects must not make the next gzip object
// decompress over itself.
func TestPlainThenGzip(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 1, nil)
	logs := fileStore(t, logDir)
	first := g.Now().Add(-12 * time.Hour)
	rec := accesslog.Record{Time: first, RequestID: "PLAIN1", Operation: accesslog.OpWebsiteGetObject,
		Key: "photos/x_200x200.jpg", HTTPStatus: 200}
	if err := logs.Put(ctx, accesslog.SimpleLogKey("logs/", first, "PLAIN"), accesslog.AppendS3(nil, &rec, 27), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: fileStore(t, ""), Now: g.Now}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := g.Stats().Objects + 1; rep.Run.LogObjects != want || len(rep.Run.Failed) != 0 {
		t.Errorf("read %d log objects (failed: %v), want %d", rep.Run.LogObjects, rep.Run.Failed, want)
	}
}
