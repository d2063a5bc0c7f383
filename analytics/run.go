package analytics

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// Sender queues job messages (queue.Queue does).
type Sender interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// Bucket is what the analyzer asks of the bucket the thumbnails live in.
type Bucket interface {
	Cleaner
	List(ctx context.Context, prefix, startAfter string, fn func(store.Attrs) error) error
}

// LogSource holds the access log objects.
type LogSource interface {
	Get(ctx context.Context, key string) (*store.Object, error)
	List(ctx context.Context, prefix, startAfter string, fn func(store.Attrs) error) error
}

// Progress hears how reading the logs goes, for a progress bar.
type Progress interface {
	Start(objects int, bytes int64)
	Add(bytes int64, lines int64)
	Finish()
}

// Deps are what a run reads and changes. Logs and State are required;
// without Bucket nothing is checked with HEAD and nothing is cleaned up,
// without Queue no job is sent.
type Deps struct {
	Logs   LogSource
	State  store.Store
	Bucket Bucket
	Queue  Sender
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, hears about the logs read.
	Progress Progress
	// BeforeSave, when set, runs after everything else and before the state
	// is written; an error from it ends the run there, as a crash would.
	BeforeSave func() error
}

// ErrPartial means the run finished but some log objects could not be
// read; they are read again by the next run.
var ErrPartial = errors.New("some log objects could not be read")

// stateStore is where this run keeps its state and lock: the state store,
// or a shard's part of it.
func (a *Analyzer) stateStore() store.Store {
	if a.cfg.Shard.Count <= 1 {
		return a.deps.State
	}
	return store.Sub(a.deps.State, fmt.Sprintf("shard-%d-of-%d/", a.cfg.Shard.Index, a.cfg.Shard.Count))
}

// ErrAsOf means Config.AsOf is earlier than the state's last run.
var ErrAsOf = errors.New("run time earlier than the state's last run")

// maxLogObjectBytes bounds one log object, decompressed: S3 writes objects
// of a few megabytes at most.
const maxLogObjectBytes = 1 << 30

// Analyzer runs the analysis.
type Analyzer struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
}

// New returns an analyzer for a valid config.
func New(cfg Config, deps Deps) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logs == nil || deps.State == nil {
		return nil, fmt.Errorf("%w: the log source and the state store are required", ErrConfig)
	}
	a := &Analyzer{cfg: cfg, deps: deps, log: deps.Log, now: deps.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if !cfg.AsOf.IsZero() {
		clock, started := a.now, a.now()
		a.now = func() time.Time { return cfg.AsOf.Add(clock().Sub(started)) }
	}
	return a, nil
}

// Run does one analysis: lock, read the new log objects, decide, queue,
// clean up, write the state, unlock. The report is returned with any error
// that came after it was made (ErrPartial).
func (a *Analyzer) Run(ctx context.Context) (rep *report.Report, err error) {
	started := a.now()
	cur, err := state.LoadCursor(ctx, a.stateStore())
	if err != nil {
		a.log.Warn("analyzer cursor unreadable; the state is read instead", "err", err)
		cur = nil
	}
	var read func(key string, at int64) bool
	if cur != nil {
		read = cur.Read
	}
	todo, skipped, err := a.listLogs(ctx, read)
	if err != nil {
		return nil, err
	}
	if rep, err := a.idle(ctx, cur, todo, skipped, started); rep != nil || err != nil {
		return rep, err
	}
	host, _ := os.Hostname()
	owner := host + " pid " + strconv.Itoa(os.Getpid()) + " at " + started.UTC().Format(time.RFC3339)
	if !a.cfg.DryRun {
		release, err := acquireLock(ctx, a.stateStore(), owner, started, a.cfg.LockTTL)
		if err != nil {
			return nil, err
		}
		defer func() {
			// Released even when ctx is done: a fresh context, briefly.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if rerr := release(rctx); rerr != nil {
				a.log.Warn("analyzer lock", "err", rerr)
			}
		}()
	}
	s, err := state.LoadState(ctx, a.stateStore())
	if err != nil {
		return nil, err
	}
	if !a.cfg.AsOf.IsZero() && started.Before(s.LastRun) {
		return nil, fmt.Errorf("%w: as of %s is before the state's last run, %s: the state cannot go back in time (replay into a new --state)",
			ErrAsOf, started.UTC().Format(time.RFC3339), s.LastRun.UTC().Format(time.RFC3339))
	}
	agg := NewAggregator(s)
	agg.DedupeWindow = a.cfg.DedupeWindow
	agg.ClientCap = a.cfg.ClientCap
	agg.Shard = a.cfg.Shard
	// The cursor may be older than the state (a run stopped between the
	// two writes): the state says what is read.
	todo = slices.DeleteFunc(todo, func(o logObject) bool { return s.Read(o.key, o.at.Unix()) })
	rs, err := a.readLogs(ctx, s, todo, agg)
	if err != nil {
		return nil, err
	}
	rs.Skipped = skipped
	now := a.now()
	rs.Elapsed = now.Sub(started)
	newStems, err := a.listNew(ctx, now)
	if err != nil {
		return nil, err
	}
	var bucket Checker
	if a.deps.Bucket != nil {
		bucket = a.deps.Bucket
	}
	p, err := plan(ctx, s, a.cfg, now, newStems, bucket)
	if err != nil {
		return nil, err
	}
	if !a.cfg.DryRun && a.deps.Queue != nil && len(p.Jobs) > 0 {
		if err := a.send(ctx, p.Jobs, now); err != nil {
			return nil, err
		}
		markQueued(s, a.cfg, p.Jobs, now)
		s.Totals.JobsQueued += int64(len(p.Jobs))
	}
	stale := staleThumbs(s, a.cfg, now)
	var deleted int
	var freed int64
	if a.deps.Bucket != nil && len(stale) > 0 {
		deleted, freed, err = cleanup(ctx, s, stale, a.deps.Bucket, a.cfg.DeleteStale && !a.cfg.DryRun, now)
		if err != nil {
			return nil, err
		}
	} else {
		for i := range stale {
			stale[i].Outcome = "listed"
		}
	}
	s.Totals.Deleted += int64(deleted)
	s.Totals.BytesFreed += freed
	s.Totals.Runs++
	s.LastRun = now
	if s.Last != 0 {
		stored, _ := s.StoredCount()
		s.Day(state.DayOf(s.Last)).Stored = stored
	}
	s.Prune(a.cfg.keepDays(), a.cfg.DedupeWindow)
	if _, err := s.Compact(now, a.cfg.Window); err != nil {
		return nil, err
	}
	rep = buildReport(s, a.cfg, now, rs, p, stale, deleted, freed)
	if a.cfg.DryRun {
		return rep, nil
	}
	if a.deps.BeforeSave != nil {
		if err := a.deps.BeforeSave(); err != nil {
			return nil, err
		}
	}
	if err := state.SaveState(ctx, a.stateStore(), s); err != nil {
		return nil, err
	}
	if err := state.SaveCursor(ctx, a.stateStore(), s, a.cfg.settings()); err != nil {
		// Only a hint lost: the next run reads the state.
		a.log.Warn("analyzer cursor not written; the next run reads the state", "err", err)
	}
	// After the state, so that a run that fails earlier changes nothing;
	// if this fails, the next run publishes again.
	shares := make([]popular.ClassShare, len(p.Classes))
	for i, c := range p.Classes {
		shares[i] = c.ClassShare
	}
	if a.cfg.Shard.Index == 0 { // every shard ranks the classes alike; one publishes them
		if err := popular.Write(ctx, a.deps.State, shares, fmt.Sprintf("%dd", a.cfg.windowDays()), now); err != nil {
			return rep, err
		}
	}
	if len(rs.Failed) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrPartial, strings.Join(rs.Failed, ", "))
	}
	return rep, nil
}

type logObject struct {
	key  string
	at   time.Time
	size int64
}

// listLogs lists the log objects not read, by read (nil: none read),
// oldest first; skipped counts the objects that are not access logs.
func (a *Analyzer) listLogs(ctx context.Context, read func(key string, at int64) bool) (todo []logObject, skipped int64, err error) {
	err = a.deps.Logs.List(ctx, "", "", func(at store.Attrs) error {
		lk, err := accesslog.ParseLogKey(at.Key)
		if err != nil {
			skipped++
			return nil
		}
		if read != nil && read(at.Key, lk.Time.Unix()) {
			return nil
		}
		todo = append(todo, logObject{key: at.Key, at: lk.Time, size: at.Size})
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list log objects: %w", err)
	}
	slices.SortFunc(todo, func(x, y logObject) int { return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.key, y.key)) })
	return todo, skipped, nil
}

// idle returns the report of a run that need not read the state: one that
// found no new log object (todo) within DecideEvery of the last run, whose
// state is the one the cursor describes. It returns nil for a run that
// must go on.
func (a *Analyzer) idle(ctx context.Context, cur *state.Cursor, todo []logObject, skipped int64, started time.Time) (*report.Report, error) {
	if cur == nil || a.cfg.DryRun || a.cfg.DecideEvery <= 0 || len(todo) > 0 ||
		started.Before(cur.LastRun) || started.Sub(cur.LastRun) >= a.cfg.DecideEvery || cur.Settings != a.cfg.settings() {
		return nil, nil
	}
	if ok, err := cur.Describes(ctx, a.stateStore()); err != nil || !ok {
		return nil, err
	}
	now := a.now()
	return &report.Report{
		Generated: now.UTC(), Shard: a.cfg.Shard.String(), Window: fmt.Sprintf("%dd", a.cfg.windowDays()),
		Run:       report.RunStats{Skipped: skipped, Elapsed: now.Sub(started)},
		Unchanged: true, LastRun: cur.LastRun.UTC(),
	}, nil
}

// readLogs reads the log objects todo into agg and marks them read in s.
func (a *Analyzer) readLogs(ctx context.Context, s *state.State, todo []logObject, agg *Aggregator) (report.RunStats, error) {
	var rs report.RunStats
	var total int64
	for _, o := range todo {
		total += o.size
	}
	if a.deps.Progress != nil {
		a.deps.Progress.Start(len(todo), total)
		defer a.deps.Progress.Finish()
	}
	r, err := accesslog.NewReader(nil, agg.ReaderConfig())
	if err != nil {
		return rs, err
	}
	var raw, plain, body []byte
	var zr *gzip.Reader
	var rec accesslog.Record
	for _, obj := range todo {
		if err := ctx.Err(); err != nil {
			return rs, err
		}
		body, raw, plain, zr, err = fetch(ctx, a.deps.Logs, obj.key, raw, plain, zr)
		if err != nil {
			a.log.Warn("log object unreadable; read again next run", "key", obj.key, "err", err)
			rs.Failed = append(rs.Failed, obj.key)
			continue
		}
		r.ResetBytes(body)
		before := agg.Records + agg.Duplicates + agg.Ignored + agg.Foreign
		for {
			err := r.Read(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil { // reading from memory: cannot happen
				return rs, fmt.Errorf("read %s: %w", obj.key, err)
			}
			agg.Add(&rec)
		}
		st := r.Stats()
		rs.LogObjects++
		rs.Bytes += int64(len(raw))
		rs.Lines += st.Lines
		rs.Records += agg.Records + agg.Duplicates + agg.Ignored + agg.Foreign - before
		rs.Malformed += st.Malformed
		for _, m := range st.Samples {
			if len(rs.Samples) < 5 {
				rs.Samples = append(rs.Samples, obj.key+": "+m.String())
			}
		}
		if st.Malformed > 0 {
			a.log.Debug("malformed lines skipped", "key", obj.key, "count", st.Malformed)
		}
		s.MarkRead(obj.key, obj.at.Unix())
		if a.deps.Progress != nil {
			a.deps.Progress.Add(obj.size, st.Lines)
		}
	}
	if len(rs.Samples) > 0 {
		a.log.Warn("malformed log lines skipped", "count", rs.Malformed, "first", rs.Samples[0])
	}
	rs.Counted, rs.Duplicates, rs.Ignored, rs.Foreign = agg.Records, agg.Duplicates, agg.Ignored, agg.Foreign
	s.Totals.LogObjects += rs.LogObjects
	s.Totals.Lines += rs.Lines
	s.Totals.Records += rs.Records
	s.Totals.Malformed += rs.Malformed
	s.Totals.Duplicates += rs.Duplicates
	return rs, nil
}

// ReaderConfig is how the analyzer reads logs: only the fields it uses (of
// the user agents, only writers'), and enough keys remembered that popular
// keys cost no allocation.
func ReaderConfig() accesslog.Config {
	return accesslog.Config{
		KeyLimit: 1 << 20,
		Skip: accesslog.FieldBucketOwner | accesslog.FieldRemoteIP | accesslog.FieldRequester |
			accesslog.FieldReferer | accesslog.FieldReaderAgent | accesslog.FieldHostHeader |
			accesslog.FieldTLS | accesslog.FieldAccessPoint | accesslog.FieldRequestID,
	}
}

// fetch reads a whole log object and, when it is gzip, decompresses it,
// reusing the buffers given: raw for what is read, plain for what is
// decompressed (the two never share memory, or decompressing would
// overwrite its own input). body is the object's text: raw or plain.
// Reading it whole before counting anything means an object that breaks
// off half-way counts nothing.
func fetch(ctx context.Context, src LogSource, key string, raw, plain []byte, zr *gzip.Reader) (body, raw2, plain2 []byte, zr2 *gzip.Reader, err error) {
	obj, err := src.Get(ctx, key)
	if err != nil {
		return nil, raw, plain, zr, err
	}
	defer obj.Body.Close()
	if raw, err = store.ReadAll(obj.Body, raw, maxLogObjectBytes); err != nil {
		return nil, raw, plain, zr, err
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, raw, plain, zr, nil
	}
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(raw))
	} else {
		err = zr.Reset(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, raw, plain, zr, fmt.Errorf("decompress: %w", err)
	}
	if plain, err = store.ReadAll(zr, plain, maxLogObjectBytes); err != nil {
		return nil, raw, plain, zr, fmt.Errorf("decompress: %w", err)
	}
	return plain, raw, plain, zr, nil
}

// listNew lists the bucket for originals uploaded within NewWithin.
func (a *Analyzer) listNew(ctx context.Context, now time.Time) (map[string]bool, error) {
	if !a.cfg.ListNew || a.deps.Bucket == nil || a.cfg.NewWithin == 0 {
		return nil, nil
	}
	since := now.Add(-a.cfg.NewWithin)
	out := make(map[string]bool)
	err := a.deps.Bucket.List(ctx, "", "", func(at store.Attrs) error {
		if at.LastModified.Before(since) {
			return nil
		}
		if _, err := thumbkey.Parse(at.Key); err == nil || !errors.Is(err, thumbkey.ErrNotThumbnail) {
			return nil // a thumbnail, or a key no thumbnail can be made of
		}
		if o, ok := thumbkey.ParseOriginal(at.Key); ok {
			out[o.Stem()] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list new originals: %w", err)
	}
	return out, nil
}

// send queues the jobs, in batches.
func (a *Analyzer) send(ctx context.Context, jobs []report.Job, now time.Time) error {
	const batch = 500
	bodies := make([][]byte, 0, min(batch, len(jobs)))
	for i, j := range jobs {
		qj := j.Job
		qj.EnqueuedAt = now
		body, err := queue.Encode(qj)
		if err != nil {
			return fmt.Errorf("job for %s: %w", j.Key, err)
		}
		bodies = append(bodies, body)
		if len(bodies) == batch || i == len(jobs)-1 {
			if err := a.deps.Queue.Send(ctx, bodies); err != nil {
				return fmt.Errorf("queue jobs: %w", err)
			}
			bodies = bodies[:0]
		}
	}
	return nil
}
