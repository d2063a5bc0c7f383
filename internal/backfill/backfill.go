// Package backfill queues thumbnail jobs in bulk, for the operator's
// `s3thumb enqueue`: a new size for a redesign, a new batch of uploads. It
// lists the originals under a prefix (or takes explicit keys), builds the
// thumbnail key of every requested size and format with the key grammar,
// checks each against the size policy, and sends the jobs in batches of
// queue.MaxBatch, several batches at once, at an optional rate.
//
// A backfill counts what it does as it goes (Counts) and always knows the
// last key up to which every job has been sent, so an interrupted run can
// be resumed from there (Result.ResumeAfter, --start-after).
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// ErrInterrupted means the backfill stopped because its context ended
// before every job was sent.
var ErrInterrupted = errors.New("backfill interrupted")

// Store is what a backfill needs of the object store.
type Store interface {
	List(ctx context.Context, prefix, startAfter string, fn func(store.Attrs) error) error
	Head(ctx context.Context, key string) (store.Attrs, error)
	Tags(ctx context.Context, key string) (map[string]string, error)
}

// Sender queues message bodies (queue.Queue).
type Sender interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// Config says what to queue.
type Config struct {
	// Prefix limits the listing to keys that start with it.
	Prefix string
	// StartAfter resumes a listing after this key; with explicit keys, the
	// keys up to and including it are skipped.
	StartAfter string
	// Sizes are made of every original; required for listing.
	Sizes []Size
	// Formats are the thumbnails' extensions; empty means each original's
	// own extension.
	Formats []string
	// Since, when set, skips originals last modified before it.
	Since time.Time
	// SkipExisting looks each thumbnail up first and queues only missing ones.
	SkipExisting bool
	// Policy and SourceExts are the workers': keys the policy refuses, or
	// whose original the workers would not find, are not queued.
	Policy     policy.Policy
	SourceExts []string
	// Reason is written into every job ("backfill").
	Reason string
	// Rate limits the jobs sent per second; 0 means no limit.
	Rate float64
	// Concurrency is how many batches are sent at once.
	Concurrency int
	// HeadConcurrency is how many thumbnails are looked up at once with
	// SkipExisting.
	HeadConcurrency int
	// DryRun prints the thumbnail keys, one a line, to Out in order,
	// instead of queueing them.
	DryRun bool
	Out    io.Writer
	// EventBucket and EventKeyPrefix name the store in the S3 event
	// notifications Stale queues, as S3 would: its bucket, and the prefix
	// of an s3://BUCKET/PREFIX store (the store's keys are relative to it).
	EventBucket, EventKeyPrefix string
	// SendTimeout bounds one batch's send; a batch being sent when the
	// backfill is interrupted is given this long to finish.
	SendTimeout time.Duration
}

// DefaultConfig returns the defaults the command line shows.
func DefaultConfig() Config {
	return Config{
		Policy:          policy.Policy{MaxDimension: policy.DefaultMaxDimension},
		SourceExts:      slices.Clone(thumbkey.DefaultSourceExts),
		Reason:          "backfill",
		Concurrency:     8,
		HeadConcurrency: 16,
		SendTimeout:     time.Minute,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Rate < 0:
		return fmt.Errorf("rate %v: must not be negative (0: no limit)", c.Rate)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency)
	case c.HeadConcurrency < 1:
		return fmt.Errorf("head concurrency %d: must be at least 1", c.HeadConcurrency)
	case c.SendTimeout <= 0:
		return fmt.Errorf("send timeout %v: must be positive", c.SendTimeout)
	case c.DryRun && c.Out == nil:
		return errors.New("a dry run needs somewhere to print (Out)")
	}
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	if _, err := queue.Encode(queue.Job{Key: "x_1x1.jpg", Reason: c.Reason}); err != nil {
		return fmt.Errorf("reason %q: %w", c.Reason, err)
	}
	// Every size must be allowed, or every key would be refused: say so
	// before listing anything.
	for _, s := range c.Sizes {
		if err := c.Policy.Check(s.Key("", "n", "jpg")); err != nil {
			return fmt.Errorf("size %s: %w", s, err)
		}
	}
	return nil
}

// Counts are what a backfill has done so far.
type Counts struct {
	Listed   int64 // objects listed, or keys given
	Ignored  int64 // listed objects that are not originals: thumbnails, other files, older than Since
	Queued   int64 // jobs sent (printed, in a dry run)
	Existing int64 // jobs not sent because the thumbnail exists (SkipExisting)
	Rejected int64 // thumbnail keys refused by the size policy, or whose original the workers would not find, and invalid given keys

	// Stale only; Queued counts originals.
	Checked  int64 // keys named like thumbnails looked up
	Stale    int64 // thumbnails not made of the original stored now, or whose original is gone
	Gone     int64 // originals queued as removed (no original under any source extension)
	Untagged int64 // keys named like thumbnails that looked stale but carry no thumbnail tag: originals, left alone
}

// Result is the outcome of a backfill.
type Result struct {
	Counts
	// ResumeAfter is the last key (listed, or given) whose jobs were all
	// sent, as were those of every key before it: a new run with it as
	// StartAfter sends what this one did not. "" when there is none.
	ResumeAfter string
}

// Backfill queues thumbnail jobs. Create it with New; run it once.
type Backfill struct {
	cfg    Config
	store  Store
	sender Sender
	log    *slog.Logger

	listed, ignored, queued, existing, rejected atomic.Int64
	checked, stale, gone, untagged              atomic.Int64
	track                                       tracker
}

// New returns a backfill that lists st and sends to q (nil for a dry run).
func New(cfg Config, st Store, q Sender, log *slog.Logger) (*Backfill, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if q == nil && !cfg.DryRun {
		return nil, errors.New("backfill: no queue to send to")
	}
	if cfg.DryRun {
		// Printed in order: one batch at a time.
		cfg.Concurrency = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backfill{cfg: cfg, store: st, sender: q, log: log}
	// Until a key is finished, a new run resumes where this one started.
	b.track = tracker{pending: map[int64]*pendingKey{}, resume: cfg.StartAfter}
	return b, nil
}

// Counts returns the counts so far; safe to call while the backfill runs.
func (b *Backfill) Counts() Counts {
	return Counts{
		Listed:   b.listed.Load(),
		Ignored:  b.ignored.Load(),
		Queued:   b.queued.Load(),
		Existing: b.existing.Load(),
		Rejected: b.rejected.Load(),
		Checked:  b.checked.Load(),
		Stale:    b.stale.Load(),
		Gone:     b.gone.Load(),
		Untagged: b.untagged.Load(),
	}
}

func (b *Backfill) result() Result {
	return Result{Counts: b.Counts(), ResumeAfter: b.track.resumeAfter()}
}

// FromStore lists the originals under the prefix (after StartAfter) and
// queues their thumbnails. Keys without an image extension, thumbnails and
// (with Since) older originals are skipped.
//
// A thumbnail is an object with the thumbnail tag (package thumbtag), not a
// name: a key named like a thumbnail (banner_1200x630.jpg) is an original
// unless it is tagged. Its tags are read unless an original it could be a
// thumbnail of was listed just before it (photo.jpg sorts before
// photo_200x200.jpg): most of a bucket's keys are such thumbnails, and
// asking for each one's tags would cost a request each.
func (b *Backfill) FromStore(ctx context.Context) (Result, error) {
	if len(b.cfg.Sizes) == 0 {
		return Result{}, errors.New("backfill: no sizes to make")
	}
	return b.run(ctx, func(ctx context.Context, emit func(key string, jobs []job) error) error {
		prev := original{}
		var prevJobs []string
		var listed listedStems
		return b.store.List(ctx, b.cfg.Prefix, b.cfg.StartAfter, func(a store.Attrs) error {
			b.listed.Add(1)
			o, ok := originalOf(a.Key)
			if ok {
				if k, err := thumbkey.Parse(a.Key); err == nil {
					ok, err = b.untaggedOrphan(ctx, k, &listed)
					if err != nil {
						return err
					}
				}
			}
			if ok {
				listed.add(o.dir+o.name, a.Key) // --since or not, its thumbnails follow
			}
			if !ok || (!b.cfg.Since.IsZero() && a.LastModified.Before(b.cfg.Since)) {
				b.ignored.Add(1)
				return emit(a.Key, nil)
			}
			jobs := b.jobsFor(o)
			if o.dir == prev.dir && o.name == prev.name {
				// photo.jpg then photo.png, with --formats webp: one job.
				jobs = slices.DeleteFunc(jobs, func(k string) bool { return slices.Contains(prevJobs, k) })
				prevJobs = append(prevJobs, jobs...)
			} else {
				prev, prevJobs = o, slices.Clone(jobs)
			}
			return emit(a.Key, jobsOf(jobs))
		})
	}, b.skipExisting())
}

// untaggedOrphan reports whether the listed key k, named like a thumbnail,
// is an original: none of the originals it could be made from was listed,
// and it does not carry the thumbnail tag.
func (b *Backfill) untaggedOrphan(ctx context.Context, k thumbkey.Key, listed *listedStems) (bool, error) {
	if listed.has(k.Dir + k.Name) {
		return false, nil
	}
	isThumb, err := thumbtag.Check(ctx, b.store, k.String())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil // deleted since it was listed
	case err != nil:
		return false, err
	}
	return !isThumb, nil
}

// listedStems remembers the originals' stems (folder and name) listed
// recently. A listing is in key order, and every thumbnail key of a stem
// sorts between stem+"_" and stem+"`", so a stem is forgotten once the
// listing has passed that.
type listedStems struct {
	stems map[string]struct{}
	added int
}

// pruneEvery is how many stems are added between two prunings.
const pruneEvery = 4096

func (l *listedStems) add(stem, key string) {
	if l.stems == nil {
		l.stems = map[string]struct{}{}
	}
	if l.added++; l.added%pruneEvery == 0 {
		for s := range l.stems {
			if s+"`" < key {
				delete(l.stems, s)
			}
		}
	}
	l.stems[stem] = struct{}{}
}

func (l *listedStems) has(stem string) bool {
	_, ok := l.stems[stem]
	return ok
}

// originalOf splits a key with an image extension; ok is false for keys
// without one.
func originalOf(key string) (original, bool) {
	o, ok := thumbkey.ParseOriginal(key)
	return original{key: key, dir: o.Dir, name: o.Name, ext: o.Ext}, ok
}

// FromKeys queues explicit keys: a thumbnail key is queued as it is; any
// other key with an image extension is taken as an original and expanded
// with Sizes and Formats. Other keys are counted as rejected.
func (b *Backfill) FromKeys(ctx context.Context, keys iter.Seq2[string, error]) (Result, error) {
	return b.run(ctx, func(ctx context.Context, emit func(key string, jobs []job) error) error {
		skipping := b.cfg.StartAfter != ""
		for key, err := range keys {
			if err != nil {
				return err
			}
			key = strings.TrimSpace(key)
			if key == "" {
				continue
			}
			if skipping {
				skipping = key != b.cfg.StartAfter
				continue
			}
			b.listed.Add(1)
			if err := emit(key, jobsOf(b.jobsForKey(key))); err != nil {
				return err
			}
		}
		if skipping {
			b.log.WarnContext(ctx, "the --start-after key never appeared among the keys given: nothing was queued", "start_after", b.cfg.StartAfter)
		}
		return nil
	}, b.skipExisting())
}

// original is an original's key, split.
type original struct {
	key, dir, name, ext string
}

// jobsFor builds the thumbnail keys of an original that may be queued.
func (b *Backfill) jobsFor(o original) []string {
	formats := b.cfg.Formats
	if len(formats) == 0 {
		formats = []string{o.ext}
	}
	var jobs []string
	for _, ext := range formats {
		for _, size := range b.cfg.Sizes {
			k := size.Key(o.dir, o.name, ext)
			if err := b.check(k, o.key); err != nil {
				b.rejected.Add(1)
				b.log.Debug("thumbnail not queued", "original", o.key, "thumbnail", k.String(), "err", err)
				continue
			}
			jobs = append(jobs, k.String())
		}
	}
	return jobs
}

// jobsForKey builds the thumbnail keys for an explicit key.
func (b *Backfill) jobsForKey(key string) []string {
	if k, err := thumbkey.Parse(key); err == nil {
		if err := b.cfg.Policy.Check(k); err != nil {
			b.rejected.Add(1)
			b.log.Warn("key not queued", "key", key, "err", err)
			return nil
		}
		return []string{key}
	}
	o, ok := originalOf(key)
	if !ok || thumbkey.Validate(key) != nil || len(b.cfg.Sizes) == 0 {
		b.rejected.Add(1)
		b.log.Warn("key not queued: neither a thumbnail key nor, with --sizes, an original's key", "key", key)
		return nil
	}
	return b.jobsFor(o)
}

// check reports why the thumbnail key k of the original origKey may not be
// queued: it is not a key the grammar reads back (an empty name), the
// policy refuses it, or the workers would never find the original.
func (b *Backfill) check(k thumbkey.Key, origKey string) error {
	if back, err := thumbkey.Parse(k.String()); err != nil || back != k {
		return fmt.Errorf("%q is not a valid thumbnail key", k.String())
	}
	if err := b.cfg.Policy.Check(k); err != nil {
		return err
	}
	if !slices.Contains(k.OriginalKeys(b.cfg.SourceExts), origKey) {
		return fmt.Errorf("the original %s is not among the keys tried for %s (add its extension to --source-exts)", origKey, k.String())
	}
	return nil
}

// job is one thumbnail key on its way to the queue, with the sequence
// number of the key it was built from; or, with event set, the S3 event
// notification body of an original (Stale).
type job struct {
	key string
	seq int64

	origin *origin // where a listed thumbnail's original may be (Stale)
	event  string  // the event's name, with body
	body   []byte
}

// jobsOf makes jobs of thumbnail keys.
func jobsOf(keys []string) []job {
	jobs := make([]job, len(keys))
	for i, k := range keys {
		jobs[i] = job{key: k}
	}
	return jobs
}

// A lookup decides, before a job is sent, whether to send it: it returns
// the job to send in its place, or nil when there is nothing to send.
type lookup func(ctx context.Context, j job) (*job, error)

// run drives the pipeline: produce (listing or given keys) → lookups (when
// check is not nil) → batches → senders.
func (b *Backfill) run(ctx context.Context, produce func(context.Context, func(string, []job) error) error, check lookup) (Result, error) {
	g, gctx := errgroup.WithContext(ctx)
	produced := make(chan []job, 64)
	var seq int64
	g.Go(func() error {
		defer close(produced)
		return produce(gctx, func(key string, jobs []job) error {
			s := seq
			seq++
			b.track.add(s, key, len(jobs))
			if len(jobs) == 0 {
				return nil
			}
			for i := range jobs {
				jobs[i].seq = s
			}
			select {
			case produced <- jobs:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	items := produced
	if check != nil {
		items = b.lookups(g, gctx, produced, check)
	}
	batches := make(chan []job, b.cfg.Concurrency)
	g.Go(func() error {
		defer close(batches)
		var batch []job
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			select {
			case batches <- batch:
				batch = nil
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		for jobs := range items {
			for _, j := range jobs {
				batch = append(batch, j)
				if len(batch) == queue.MaxBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		return flush()
	})
	var limiter *rate.Limiter
	if b.cfg.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(b.cfg.Rate), queue.MaxBatch)
	}
	for range b.cfg.Concurrency {
		g.Go(func() error {
			for batch := range batches {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if err := wait(gctx, limiter, len(batch)); err != nil {
					return err
				}
				if err := b.send(ctx, batch); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	res := b.result()
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	return res, err
}

// wait takes n tokens from the limiter (nil: no limit), waiting until ctx
// ends at most.
func wait(ctx context.Context, limiter *rate.Limiter, n int) error {
	if limiter == nil {
		return nil
	}
	r := limiter.ReserveN(time.Now(), n)
	t := time.NewTimer(r.Delay())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// skipExisting is the lookup of SkipExisting (nil without it): a job
// whose thumbnail is stored is not sent.
func (b *Backfill) skipExisting() lookup {
	if !b.cfg.SkipExisting {
		return nil
	}
	return func(ctx context.Context, j job) (*job, error) {
		_, err := b.store.Head(ctx, j.key)
		switch {
		case err == nil:
			b.existing.Add(1)
			return nil, nil
		case errors.Is(err, store.ErrNotFound):
			return &j, nil
		default:
			return nil, fmt.Errorf("look up %s: %w", j.key, err)
		}
	}
}

// lookups runs check on the jobs, HeadConcurrency at once, and passes on,
// in order, the jobs it returns; a job it drops counts as done.
func (b *Backfill) lookups(g *errgroup.Group, ctx context.Context, in <-chan []job, check lookup) chan []job {
	type pending struct {
		jobs []job
		kept chan []job
	}
	work := make(chan pending)
	ordered := make(chan pending, b.cfg.HeadConcurrency)
	out := make(chan []job, 64)
	g.Go(func() error {
		defer close(ordered)
		defer close(work)
		for jobs := range in {
			l := pending{jobs: jobs, kept: make(chan []job, 1)}
			for _, c := range []chan pending{ordered, work} {
				select {
				case c <- l:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	for range b.cfg.HeadConcurrency {
		g.Go(func() error {
			for l := range work {
				var kept []job
				for _, j := range l.jobs {
					next, err := check(ctx, j)
					if err != nil {
						return err
					}
					if next == nil {
						b.track.done(j.seq, 1)
						continue
					}
					kept = append(kept, *next)
				}
				l.kept <- kept
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(out)
		for l := range ordered {
			var kept []job
			select {
			case kept = <-l.kept:
			case <-ctx.Done():
				return ctx.Err()
			}
			if len(kept) == 0 {
				continue
			}
			select {
			case out <- kept:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	return out
}

// send queues (or prints) one batch and records which jobs went out. It
// runs on a context that an interruption does not cancel, so a batch being
// sent is sent, and the resume point is exact.
func (b *Backfill) send(ctx context.Context, batch []job) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.SendTimeout)
	defer cancel()
	if b.cfg.DryRun {
		var sb strings.Builder
		for _, j := range batch {
			if j.event != "" {
				sb.WriteString(j.event + " ")
			}
			sb.WriteString(j.key)
			sb.WriteByte('\n')
		}
		if _, err := io.WriteString(b.cfg.Out, sb.String()); err != nil {
			return fmt.Errorf("print keys: %w", err)
		}
		b.sent(batch, nil)
		return nil
	}
	now := time.Now().UTC()
	bodies := make([][]byte, len(batch))
	for i, j := range batch {
		if j.body != nil {
			bodies[i] = j.body
			continue
		}
		body, err := queue.Encode(queue.Job{Key: j.key, Reason: b.cfg.Reason, EnqueuedAt: now})
		if err != nil {
			return err // keys were checked with the same grammar: a bug
		}
		bodies[i] = body
	}
	err := b.sender.Send(ctx, bodies)
	var se *queue.SendError
	switch {
	case err == nil:
		b.sent(batch, nil)
		return nil
	case errors.As(err, &se):
		b.sent(batch, se.Failed)
	}
	return fmt.Errorf("send jobs: %w", err)
}

// sent records the jobs of batch that were sent: all but those at the
// failed indexes.
func (b *Backfill) sent(batch []job, failed []int) {
	for i, j := range batch {
		if slices.Contains(failed, i) {
			continue
		}
		b.queued.Add(1)
		b.track.done(j.seq, 1)
	}
}

// tracker follows which keys have had all their jobs sent, to know the
// resume point: the last key of the longest finished run from the start.
type tracker struct {
	mu      sync.Mutex
	next    int64 // the lowest sequence number not yet finished
	pending map[int64]*pendingKey
	resume  string
}

type pendingKey struct {
	key  string
	left int
}

// add registers the key with sequence number seq (given in order) and its
// number of jobs.
func (t *tracker) add(seq int64, key string, jobs int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending[seq] = &pendingKey{key: key, left: jobs}
	t.advance()
}

// done records n jobs of seq sent (or found existing).
func (t *tracker) done(seq int64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.pending[seq]; p != nil {
		p.left -= n
	}
	t.advance()
}

func (t *tracker) advance() {
	for {
		p := t.pending[t.next]
		if p == nil || p.left > 0 {
			return
		}
		t.resume = p.key
		delete(t.pending, t.next)
		t.next++
	}
}

func (t *tracker) resumeAfter() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.resume
}
