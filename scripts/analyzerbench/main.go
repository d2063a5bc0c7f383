// Command analyzerbench times `s3thumb analyze` end to end, as cron runs
// it, on the log generator's workload written as real log files:
//
//   - the first run over all of it (list, read, parse, decide, save), on one
//     core (GOMAXPROCS=1), in lines per second;
//   - a run right after, with no new logs (which reads the cursor, not the
//     state: see analytics.Config.DecideEvery);
//   - an hourly run, with the last hour of logs (about 10,000 lines at the
//     default size) arriving after the first run;
//   - the state's size per tracked thumbnail: the state object's bytes, and
//     the peak resident memory of the hourly run (which loads, updates
//     and saves the whole state) over that of a run with an empty state.
//
// Each figure is of the whole process: wall time, CPU time (user + system)
// and peak resident memory, from the operating system.
//
//	go run ./scripts/analyzerbench --binary bin/s3thumb            # 10,000,000 lines
//	go run ./scripts/analyzerbench --binary bin/s3thumb --lines 1000000
//
// The generated logs are kept under --dir for the next run (about 350
// bytes a line: 3.5 GB for 10 million).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "analyzerbench:", err)
		os.Exit(1)
	}
}

// Figures is what one analyze process cost.
type Figures struct {
	Wall   time.Duration `json:"wall_ns"`
	CPU    time.Duration `json:"cpu_ns"`
	PeakMB float64       `json:"peak_rss_mb"`
}

// Result is the benchmark's outcome.
type Result struct {
	Lines       int64   `json:"lines"`
	HourlyLines int64   `json:"hourly_lines"`
	Thumbnails  int     `json:"thumbnails"`
	First       Figures `json:"first_run"`
	// FirstLinesPerSecond is Lines over the first run's wall time, on one
	// core; per CPU-second over its CPU time.
	FirstLinesPerSecond    float64 `json:"first_lines_per_s"`
	FirstLinesPerCPUSecond float64 `json:"first_lines_per_cpu_s"`
	Empty                  Figures `json:"empty_run"`
	Hourly                 Figures `json:"hourly_run"`
	Baseline               Figures `json:"baseline_run"` // an empty state, no logs
	StateBytes             int64   `json:"state_bytes"`
	// StateBytesPerThumb is the state object's size per tracked thumbnail;
	// MemoryPerThumb the hourly run's peak memory over the baseline's, per
	// tracked thumbnail.
	StateBytesPerThumb float64 `json:"state_bytes_per_thumbnail"`
	MemoryPerThumb     float64 `json:"memory_bytes_per_thumbnail"`
	// HourlyWrote is what the hourly run wrote to the state store: a
	// delta on the first run's base (see analytics/state).
	HourlyWrote int64 `json:"hourly_wrote_bytes"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("analyzerbench", flag.ContinueOnError)
	binary := fs.String("binary", "bin/s3thumb", "the s3thumb binary to time")
	lines := fs.Int("lines", 10_000_000, "log lines to generate (at least 100,000)")
	dir := fs.String("dir", ".bench/analyzer", "where the generated logs are kept between runs, and the runs' state")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lines < 100_000 {
		return fmt.Errorf("--lines %d: want at least 100,000", *lines)
	}
	bin, err := filepath.Abs(*binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("--binary: %w (make build)", err)
	}
	logs := filepath.Join(*dir, "logs-"+strconv.Itoa(*lines))
	held := logs + "-last-hour"
	if err := generate(ctx, *lines, logs, held); err != nil {
		return err
	}
	// A child's peak resident memory counts what it shared with this
	// process before it started the binary: give the generator's back.
	debug.FreeOSMemory()
	work := filepath.Join(*dir, "run")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	res := &Result{}
	if res.Lines, err = countLines(logs); err != nil {
		return err
	}
	if res.HourlyLines, err = countLines(held); err != nil {
		return err
	}
	analyze := func(name, logDir string) (Figures, error) {
		w := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Join(w, "store"), 0o755); err != nil { // a bucket with no originals: the HEADs are what they cost
			return Figures{}, err
		}
		return timeRun(ctx, bin, []string{"analyze", "--logs", "file://" + logDir,
			"--state", "file://" + filepath.Join(w, "state"), "--store", "file://" + filepath.Join(w, "store"),
			"--queue", "file://" + filepath.Join(w, "queue"), "--json", "--progress=false"})
	}
	fmt.Fprintln(os.Stderr, "analyzerbench: baseline run (empty state, no logs)")
	if err := os.MkdirAll(filepath.Join(work, "nologs"), 0o755); err != nil {
		return err
	}
	if res.Baseline, err = analyze("baseline", filepath.Join(work, "nologs")); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "analyzerbench: first run over", res.Lines, "lines")
	if res.First, err = analyze("main", logs); err != nil {
		return err
	}
	res.FirstLinesPerSecond = float64(res.Lines) / res.First.Wall.Seconds()
	res.FirstLinesPerCPUSecond = float64(res.Lines) / res.First.CPU.Seconds()
	fmt.Fprintln(os.Stderr, "analyzerbench: run with no new logs")
	if res.Empty, err = analyze("main", logs); err != nil {
		return err
	}
	if err := measureState(ctx, filepath.Join(work, "main", "state"), res); err != nil {
		return err
	}
	// The last hour arrives.
	if err := copyTree(held, logs+"-with-last-hour-links", logs); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "analyzerbench: hourly run,", res.HourlyLines, "new lines")
	if res.Hourly, err = analyze("main", logs+"-with-last-hour-links"); err != nil {
		return err
	}
	if res.HourlyWrote, err = deltaBytes(filepath.Join(work, "main", "state")); err != nil {
		return err
	}
	if res.Thumbnails > 0 {
		res.MemoryPerThumb = (res.Hourly.PeakMB - res.Baseline.PeakMB) * (1 << 20) / float64(res.Thumbnails)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.write(stdout)
}

// timeRun runs the binary with GOMAXPROCS=1 and returns what it cost.
func timeRun(ctx context.Context, bin string, args []string) (Figures, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout = io.Discard
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Figures{}, fmt.Errorf("%s %v: %w\n%s", bin, args, err, stderr.b)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Figures{}, errors.New("no resource usage for the process")
	}
	return Figures{
		Wall:   wall,
		CPU:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		PeakMB: float64(ru.Maxrss) / 1024, // Linux: kilobytes
	}, nil
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// measureState reads the state the runs left: its size and how many
// thumbnails it tracks.
func measureState(ctx context.Context, dir string, res *Result) error {
	info, err := os.Stat(filepath.Join(dir, layout.AnalyzerState))
	if err != nil {
		return fmt.Errorf("the state: %w", err)
	}
	res.StateBytes = info.Size()
	st, err := store.NewFile(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := state.LoadState(ctx, st)
	if err != nil {
		return err
	}
	res.Thumbnails = s.Thumbs.Len()
	if res.Thumbnails > 0 {
		res.StateBytesPerThumb = float64(res.StateBytes) / float64(res.Thumbnails)
	}
	return nil
}

// generate writes the workload's log objects into logs, all but the last
// hour's, which go into held, unless an earlier run did.
func generate(ctx context.Context, lines int, logs, held string) error {
	if _, err := os.Stat(filepath.Join(logs, ".complete")); err == nil {
		return nil
	}
	for _, d := range []string{logs, held} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	cfg := loggen.DefaultConfig()
	cfg.RequestsPerDay = 400_000
	cfg.Days = max(1, lines/(cfg.RequestsPerDay*6/5)+1)
	cfg.Originals, cfg.UploadsPerDay = 50_000, 2_000
	cfg.WarmupDays = 0
	g, err := loggen.New(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "analyzerbench: generating %d days of logs into %s\n", cfg.Days, logs)
	if err := g.Run(ctx, loggen.DirSink{Dir: logs}); err != nil {
		return err
	}
	// The newest hour of objects (by the delivery time in their names)
	// is held back for the hourly run.
	var names []string
	err = filepath.WalkDir(logs, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(filepath.Base(a), filepath.Base(b)) })
	last := filepath.Base(names[len(names)-1])
	hour := last[:len("2006-01-02-15")]
	for _, name := range names {
		if base := filepath.Base(name); base[:len(hour)] == hour {
			rel, _ := filepath.Rel(logs, name)
			if err := os.MkdirAll(filepath.Dir(filepath.Join(held, rel)), 0o755); err != nil {
				return err
			}
			if err := os.Rename(name, filepath.Join(held, rel)); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(logs, ".complete"), nil, 0o644)
}

// copyTree makes dst a tree of links to the files of both src trees.
func copyTree(held, dst, logs string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	for _, src := range []string{logs, held} {
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() == ".complete" {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			target := filepath.Join(dst, rel)
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			return os.Link(abs, target)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// countLines counts the lines of the files under dir.
func countLines(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, c := range b {
			if c == '\n' {
				n++
			}
		}
		return nil
	})
	return n, err
}

// deltaBytes is the size of the state deltas in dir.
func deltaBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "analyzer-state.delta.") {
			info, err := e.Info()
			if err != nil {
				return 0, err
			}
			n += info.Size()
		}
	}
	return n, nil
}

func (r *Result) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name string, f Figures, extra string) {
		fmt.Fprintf(tw, "%s\t%.2f s\t%.2f s\t%.0f MB\t%s\n", name, f.Wall.Seconds(), f.CPU.Seconds(), f.PeakMB, extra)
	}
	fmt.Fprintln(tw, "s3thumb analyze, whole process, GOMAXPROCS=1\twall\tCPU\tpeak RSS\t")
	row("first run, "+strconv.FormatInt(r.Lines, 10)+" lines", r.First,
		fmt.Sprintf("%.0f lines/s, %.0f lines/CPU-s (target: 1,000,000 lines/s)", r.FirstLinesPerSecond, r.FirstLinesPerCPUSecond))
	row("no new logs", r.Empty, "(target: 0.2 s)")
	row("hourly, "+strconv.FormatInt(r.HourlyLines, 10)+" new lines", r.Hourly, "(target: 0.5 s)")
	row("baseline: empty state, no logs", r.Baseline, "")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d thumbnails tracked; state %d bytes: %.0f bytes per thumbnail on disk, %.0f in memory (target: 64)\n"+
		"the hourly run wrote %d bytes (a delta on the base)\n",
		r.Thumbnails, r.StateBytes, r.StateBytesPerThumb, r.MemoryPerThumb, r.HourlyWrote)
	return err
}
