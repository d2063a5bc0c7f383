package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// genLogs generates days of logs ending at the start of today (UTC), so that
// the command, which runs on the wall clock, finds them inside its window.
func genLogs(t *testing.T, days int, sink loggen.Sink) *loggen.Generator {
	t.Helper()
	cfg := loggen.DefaultConfig()
	cfg.Days, cfg.RequestsPerDay, cfg.Originals, cfg.UploadsPerDay = days, 3000, 200, 5
	cfg.Start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days)
	cfg.Layout, cfg.Gzip, cfg.Fields = loggen.LayoutBoth, true, 0
	cfg.DuplicateRate, cfg.MalformedRate = 0.01, 0.002
	g, err := loggen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	return g
}

// analyzeRun runs s3thumb analyze in-process and returns its exit code and
// output.
func analyzeRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).RunContext(context.Background(), append([]string{"s3thumb", "--log-level", "warn", "analyze", "--progress=false"}, args...))
	if err != nil {
		errOut.WriteString("\nerror: " + err.Error())
	}
	return exitCode(err), out.String(), errOut.String()
}

// analyzeJSON runs analyze with --json, wants exit code 0 and decodes the
// report.
func analyzeJSON(t *testing.T, args ...string) *report.Report {
	t.Helper()
	code, out, errOut := analyzeRun(t, append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("analyze %v: exit %d\n%s", args, code, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out)
	}
	return &rep
}

// localDirs is a local setup: logs, state, queue and store directories.
type localDirs struct{ logs, state, queue, store string }

func newLocalDirs(t *testing.T) localDirs {
	root := t.TempDir()
	d := localDirs{filepath.Join(root, "logs"), filepath.Join(root, "state"), filepath.Join(root, "queue"), filepath.Join(root, "store")}
	for _, dir := range []string{d.logs, d.store} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d localDirs) args() []string {
	return []string{"--logs", "file://" + d.logs, "--state", "file://" + d.state, "--queue", "file://" + d.queue, "--store", "file://" + d.store}
}

func TestAnalyzeExitCodes(t *testing.T) {
	d := newLocalDirs(t)
	genLogs(t, 1, loggen.DirSink{Dir: d.logs})

	if code, _, errOut := analyzeRun(t, append(d.args(), "--window", "5h")...); code != exitUsage || !strings.Contains(errOut, "window") {
		t.Errorf("--window 5h: exit %d, want %d (usage)\n%s", code, exitUsage, errOut)
	}
	if code, _, errOut := analyzeRun(t, append(d.args(), "--logs", "ftp://x")...); code != exitUsage {
		t.Errorf("--logs ftp://x: exit %d, want %d (usage)\n%s", code, exitUsage, errOut)
	}

	// Another run's lock, valid for an hour: exit 3, nothing read.
	if err := os.MkdirAll(d.state, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, _ := json.Marshal(map[string]any{"owner": "other-host pid 42", "expires": time.Now().Add(time.Hour)})
	lockPath := filepath.Join(d.state, "analyzer.lock")
	if err := os.WriteFile(lockPath, lock, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := analyzeRun(t, d.args()...)
	if code != exitLocked || !strings.Contains(errOut, "other-host pid 42") {
		t.Errorf("locked: exit %d, want %d and the holder named\n%s", code, exitLocked, errOut)
	}
	if _, err := os.Stat(filepath.Join(d.state, layout.AnalyzerState)); !os.IsNotExist(err) {
		t.Errorf("a locked-out run wrote state (%v)", err)
	}
	if err := os.Remove(lockPath); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := analyzeRun(t, d.args()...); code != exitOK {
		t.Errorf("unlocked: exit %d, want 0\n%s", code, errOut)
	}
	// A shard out of range: usage.
	for _, shard := range [][]string{{"--shard", "3", "--shards", "1"}, {"--shard", "4", "--shards", "4"}, {"--shard", "-1", "--shards", "2"}, {"--shards", "-2"}} {
		if code, _, errOut := analyzeRun(t, append(d.args(), shard...)...); code != exitUsage || !strings.Contains(errOut, "shard") {
			t.Errorf("%v: exit %d, want %d (usage)\n%s", shard, code, exitUsage, errOut)
		}
	}
	// --as-of: not a time, or before the last run: usage, state unchanged.
	for _, v := range []string{"yesterday", "2001-01-01"} {
		if code, _, errOut := analyzeRun(t, append(d.args(), "--as-of", v)...); code != exitUsage || !strings.Contains(errOut, "as-of") && !strings.Contains(errOut, "as of") {
			t.Errorf("--as-of %s: exit %d, want %d (usage)\n%s", v, code, exitUsage, errOut)
		}
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Errorf("lock left behind after a run (%v)", err)
	}
}

// A log object that cannot be read (here: a corrupt gzip) makes exit code
// 4, and the object is read again next run.
func TestAnalyzePartial(t *testing.T) {
	d := newLocalDirs(t)
	genLogs(t, 1, loggen.DirSink{Dir: d.logs})
	// Delivered among the others (a log object far older than the newest
	// read ones is taken as read: see State.Watermark).
	bad := filepath.Join(d.logs, accesslog.SimpleLogKey("logs/", time.Now().Add(-12*time.Hour), "BADBADBADBADBAD1")+".gz")
	if err := os.WriteFile(bad, []byte{0x1f, 0x8b, 8, 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		code, _, errOut := analyzeRun(t, d.args()...)
		if code != exitPartial || !strings.Contains(errOut, "BADBADBADBADBAD1") {
			t.Errorf("run %d: exit %d, want %d naming the bad object\n%s", run, code, exitPartial, errOut)
		}
	}
}

func TestAnalyzeJSONShape(t *testing.T) {
	d := newLocalDirs(t)
	g := genLogs(t, 2, loggen.DirSink{Dir: d.logs})
	code, out, errOut := analyzeRun(t, append(d.args(), "--json")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"generated", "window", "run", "requests", "hits", "misses", "hit_ratio", "avoided",
		"classes", "top_originals", "jobs", "jobs_queued", "deleted", "bytes_freed", "stored", "days", "totals"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	if rep.Run.LogObjects != st.Objects || rep.Run.Lines != st.Lines || rep.Run.Duplicates != st.Duplicates {
		t.Errorf("run %+v; generator wrote %d objects, %d lines, %d duplicates", rep.Run, st.Objects, st.Lines, st.Duplicates)
	}
	if rep.Requests != st.Hits+st.Misses || len(rep.Days) < 2 || len(rep.Classes) == 0 || len(rep.Jobs) != min(rep.JobsQueued, 100) || rep.JobsQueued == 0 {
		t.Errorf("report: %d requests (want %d), %d days, %d classes, %d jobs queued of %d listed (want at most 100 listed)",
			rep.Requests, st.Hits+st.Misses, len(rep.Days), len(rep.Classes), rep.JobsQueued, len(rep.Jobs))
	}
	if rep.HitRatio <= 0 || rep.HitRatio >= 1 {
		t.Errorf("hit ratio %v", rep.HitRatio)
	}
}

func TestAnalyzeDryRun(t *testing.T) {
	d := newLocalDirs(t)
	genLogs(t, 2, loggen.DirSink{Dir: d.logs})
	code, out, errOut := analyzeRun(t, append(d.args(), "--dry-run", "--report", filepath.Join(d.store, "r.html"))...)
	if code != exitOK || !strings.Contains(out, "plan (dry run)") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	// Nothing recorded, nothing queued, the store untouched but for the
	// report asked for.
	if entries, err := os.ReadDir(d.state); err == nil {
		for _, e := range entries {
			t.Errorf("dry run left %s in the state directory", e.Name())
		}
	}
	if entries, err := os.ReadDir(d.queue); err == nil && len(entries) > 0 {
		q, err := queue.OpenFile(d.queue, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := q.Depth(context.Background()); n != 0 {
			t.Errorf("dry run queued %d jobs", n)
		}
	}
	entries, _ := os.ReadDir(d.store)
	if len(entries) != 1 || entries[0].Name() != "r.html" {
		t.Errorf("store after a dry run: %v, want only the report", entries)
	}
	// The real run afterwards sees every log object as new.
	if rep := analyzeJSON(t, d.args()...); rep.Run.LogObjects == 0 || rep.JobsQueued == 0 {
		t.Errorf("run after the dry run: read %d objects, queued %d", rep.Run.LogObjects, rep.JobsQueued)
	}
}

// writeOriginal stores a small picture under an original's key, in the
// format its extension names.
func writeOriginal(t *testing.T, st store.Store, key string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), 128, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(key, ".png") {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), key, buf.Bytes(), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAnalyzeLocalLoopWithWorkers is the whole local loop: generated logs →
// s3thumb analyze → file queue → real workers (libvips) → the thumbnails
// exist in the file store, tagged; a second run over the same logs queues
// nothing new.
func TestAnalyzeLocalLoopWithWorkers(t *testing.T) {
	ctx := context.Background()
	d := newLocalDirs(t)
	genLogs(t, 2, loggen.DirSink{Dir: d.logs})
	st, err := store.NewFile(d.store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// A dry run lists every job of the plan (a report lists at most 100
	// queued ones); the run that follows queues the same. Without the waste
	// budget: where it stops depends on expected reads, and those of an
	// original uploaded within the logs grow with its age, so a run a second
	// later may stop one job earlier or later.
	args := append(d.args(), "--max-unread", "1")
	plan := analyzeJSON(t, append(args, "--dry-run")...)
	rep := analyzeJSON(t, args...)
	if rep.JobsQueued == 0 || rep.JobsQueued != len(plan.Jobs) {
		t.Fatalf("queued %d jobs, the dry run planned %d", rep.JobsQueued, len(plan.Jobs))
	}
	// The bucket holds the originals the jobs need, under the keys the logs
	// name them by (the analyzer's state learned them from the logs).
	s, err := state.LoadState(ctx, mustFileStore(t, d.state))
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, j := range plan.Jobs {
		k, err := thumbkey.Parse(j.Key)
		if err != nil {
			t.Fatalf("job %q: %v", j.Key, err)
		}
		o := s.Originals[k.Dir+k.Name]
		if o == nil {
			t.Fatalf("job %s: the state knows no original for it", j.Key)
		}
		key := o.Key
		if key == "" {
			// Known only by its thumbnails' requests: the worker tries
			// the source extensions.
			key = k.Dir + k.Name + ".jpg"
		}
		if !written[key] {
			writeOriginal(t, st, key)
			written[key] = true
		}
	}
	runQueue(t, d.queue, newTestMaker(t, st))
	for _, j := range plan.Jobs {
		tags, err := st.Tags(ctx, j.Key)
		if err != nil || !thumbtag.Is(tags) {
			t.Errorf("job %s (%s): thumbnail tags %v, %v; want made and tagged", j.Key, j.Reason, tags, err)
		}
	}

	t.Logf("%d jobs queued and made from %d originals", len(plan.Jobs), len(written))

	again := analyzeJSON(t, args...)
	if again.Run.LogObjects != 0 || again.JobsQueued != 0 {
		t.Errorf("second run over the same logs read %d objects and queued %d jobs, want none", again.Run.LogObjects, again.JobsQueued)
	}
}

func mustFileStore(t *testing.T, dir string) *store.FileStore {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
