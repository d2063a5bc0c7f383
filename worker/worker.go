// Package worker makes thumbnails ahead of demand. A Worker receives jobs
// from a queue in batches, runs each through the same thumbnail maker as the
// responder (size policy, original, resize core, conditional store-back with
// the tag) and settles each message by what happened, as Classify decides:
// made or already there, the message is deleted; a job that can never
// succeed (malformed, a size the policy refuses, a missing, oversized or
// corrupt original) is deleted or dead-lettered with a log line and a
// counter; anything else is left for redelivery after a backoff that grows
// with the message's receive count.
//
// While a job runs its message's visibility is extended, so a slow job is
// not handed to a second worker. When Run's context ends the worker stops
// receiving, lets the jobs in flight finish (for at most a grace period),
// makes messages it received but did not start visible again at once, and
// returns nil.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// Queue is what the worker needs of a job queue (queue.Queue).
type Queue interface {
	Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error)
	Delete(ctx context.Context, m queue.Message) error
	ChangeVisibility(ctx context.Context, m queue.Message, d time.Duration) error
	DeadLetter(ctx context.Context, m queue.Message, reason string) error
	Depth(ctx context.Context) (int, error)
	String() string
}

// Maker makes sure a thumbnail exists (thumbnail.Maker).
type Maker interface {
	Ensure(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error)
	Refresh(ctx context.Context, k thumbkey.Key) (*thumbnail.Result, error)
	IsThumbnail(ctx context.Context, key string) (bool, error)
	FollowOriginal(ctx context.Context, original string) (thumbnail.Followed, error)
}

var _ Queue = queue.Queue(nil)
var _ Maker = (*thumbnail.Maker)(nil)

// Config says how a worker runs.
type Config struct {
	// Concurrency is how many jobs run at once.
	Concurrency int
	// Batch is the most messages one receive asks for (1 to queue.MaxBatch).
	// The worker never asks for more than it has free slots, so a message
	// it receives starts at once.
	Batch int
	// Wait is how long one receive waits for a message (long polling).
	Wait time.Duration
	// Visibility is how long a received message stays hidden from other
	// workers: the queue's visibility timeout. While a job runs, its
	// message is hidden for Visibility again every Heartbeat.
	Visibility time.Duration
	// Heartbeat is how often a running job's visibility is extended; zero
	// means a third of Visibility.
	Heartbeat time.Duration
	// JobTimeout bounds one job; a job that takes longer is retried.
	JobTimeout time.Duration
	// RetryBackoff is how long a job that failed for a reason that may pass
	// waits before its first retry; it doubles with every delivery, up to
	// MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// ShutdownGrace is how long jobs in flight may run once Run's context
	// ends; then they are abandoned and their messages made visible again.
	ShutdownGrace time.Duration
	// DepthInterval is how often the queue depth gauge is refreshed; zero
	// turns polling off.
	DepthInterval time.Duration
	// UploadClasses, when set, tells which size classes to make for an
	// original an S3 event notification on the queue reports uploaded (the
	// analyzer's popular classes). Without it such messages are removed
	// with a warning.
	UploadClasses ClassSource
	// UploadBucket and UploadPrefix, when UploadBucket is set, are where
	// the worker's store is (an s3:// store): an upload event's key is
	// taken relative to the prefix, and events for other buckets or keys
	// outside the prefix are removed unread.
	UploadBucket, UploadPrefix string
	// Invalidator, when set, drops the thumbnails remade or deleted after
	// their original changed from a CDN's caches (cdn.CloudFront).
	Invalidator Invalidator
}

// Invalidator drops keys from a CDN's edge caches.
type Invalidator interface {
	Invalidate(ctx context.Context, keys []string) error
}

// ClassSource tells the size classes to make for a new upload, as suffixes
// such as "_200x200.jpg" (popular.Cache).
type ClassSource interface {
	Classes(ctx context.Context) ([]string, error)
}

// DefaultConfig returns the defaults the command line shows.
func DefaultConfig() Config {
	return Config{
		Concurrency:     runtime.NumCPU(),
		Batch:           queue.MaxBatch,
		Wait:            queue.MaxWaitPerCall,
		Visibility:      queue.DefaultVisibilityTimeout,
		JobTimeout:      5 * time.Minute,
		RetryBackoff:    5 * time.Second,
		MaxRetryBackoff: 15 * time.Minute,
		ShutdownGrace:   30 * time.Second,
		DepthInterval:   15 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency)
	case c.Batch < 1 || c.Batch > queue.MaxBatch:
		return fmt.Errorf("batch %d: must be from 1 to %d", c.Batch, queue.MaxBatch)
	case c.Wait < 0:
		return fmt.Errorf("receive wait %v: must not be negative", c.Wait)
	case c.Visibility < time.Second || c.Visibility > queue.MaxVisibility:
		return fmt.Errorf("visibility timeout %v: must be from 1s to %v", c.Visibility, queue.MaxVisibility)
	case c.Heartbeat < 0 || c.Heartbeat >= c.Visibility:
		return fmt.Errorf("heartbeat %v: must be shorter than the visibility timeout %v (0: a third of it)", c.Heartbeat, c.Visibility)
	case c.JobTimeout <= 0:
		return fmt.Errorf("job timeout %v: must be positive", c.JobTimeout)
	case c.RetryBackoff <= 0 || c.RetryBackoff > queue.MaxVisibility:
		return fmt.Errorf("retry backoff %v: must be positive and at most %v", c.RetryBackoff, queue.MaxVisibility)
	case c.MaxRetryBackoff < c.RetryBackoff || c.MaxRetryBackoff > queue.MaxVisibility:
		return fmt.Errorf("max retry backoff %v: must be from the retry backoff %v to %v", c.MaxRetryBackoff, c.RetryBackoff, queue.MaxVisibility)
	case c.ShutdownGrace < 0:
		return fmt.Errorf("shutdown grace %v: must not be negative", c.ShutdownGrace)
	case c.DepthInterval < 0:
		return fmt.Errorf("depth interval %v: must not be negative (0: off)", c.DepthInterval)
	}
	return nil
}

func (c Config) heartbeat() time.Duration {
	if c.Heartbeat > 0 {
		return c.Heartbeat
	}
	return c.Visibility / 3
}

const (
	// settleTimeout bounds one queue call that settles a message.
	settleTimeout = 30 * time.Second
	// receiveBackoff and maxReceiveBackoff pace receives after a failed one.
	receiveBackoff    = time.Second
	maxReceiveBackoff = 30 * time.Second
	// unhealthyAfter is how long receives must fail before Health says so.
	unhealthyAfter = time.Minute
)

// Worker states.
const (
	stateNew int32 = iota
	stateRunning
	stateStopping
	stateStopped
)

// Worker runs thumbnail jobs from a queue. Create it with New; Run it once.
type Worker struct {
	cfg   Config
	q     Queue
	maker Maker
	log   *slog.Logger
	m     *metrics

	state        atomic.Int32
	failingSince atomic.Int64 // unix nanoseconds of the first failed receive in a row; 0 when the last one worked
}

// New returns a worker that takes jobs from q and makes them with maker.
// Its metrics are registered on reg.
func New(cfg Config, q Queue, maker Maker, log *slog.Logger, reg prometheus.Registerer) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, q: q, maker: maker, log: log.With("queue", q.String()), m: m}, nil
}

// Health reports whether the worker is running and can reach its queue: an
// error before Run, once shutdown has begun, and when every receive has
// failed for a minute.
func (w *Worker) Health() error {
	switch w.state.Load() {
	case stateNew:
		return errors.New("worker not started")
	case stateStopping, stateStopped:
		return errors.New("worker shutting down")
	}
	if since := w.failingSince.Load(); since != 0 && time.Since(time.Unix(0, since)) > unhealthyAfter {
		return fmt.Errorf("every receive from %s has failed since %s", w.q, time.Unix(0, since).UTC().Format(time.RFC3339))
	}
	return nil
}

// Run receives and runs jobs until ctx ends, then shuts down gracefully and
// returns nil. Failing receives are retried with backoff, not returned.
func (w *Worker) Run(ctx context.Context) error {
	if !w.state.CompareAndSwap(stateNew, stateRunning) {
		return errors.New("worker: Run called twice")
	}
	defer w.state.Store(stateStopped)
	// Jobs outlive ctx by up to the grace period; abort ends them.
	jobCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()

	var jobs sync.WaitGroup
	if w.cfg.DepthInterval > 0 {
		jobs.Go(func() { w.pollDepth(ctx) })
	}
	w.log.InfoContext(ctx, "worker started", "concurrency", w.cfg.Concurrency)
	slots := make(chan struct{}, w.cfg.Concurrency)
	pause := receiveBackoff
	for {
		n := takeSlots(ctx, slots, w.cfg.Batch)
		if n == 0 {
			break
		}
		msgs, err := w.q.Receive(ctx, n, w.cfg.Wait)
		if ctx.Err() != nil {
			// Shutdown began during the receive: these were not started.
			w.giveBack(jobCtx, msgs)
			freeSlots(slots, n)
			break
		}
		if err != nil {
			freeSlots(slots, n)
			w.m.queueErrors.WithLabelValues(opReceive).Inc()
			w.failingSince.CompareAndSwap(0, time.Now().UnixNano())
			w.log.ErrorContext(ctx, "receive failed; trying again", "err", err, "after", pause)
			if !sleep(ctx, pause) {
				break
			}
			pause = min(2*pause, maxReceiveBackoff)
			continue
		}
		w.failingSince.Store(0)
		pause = receiveBackoff
		for _, m := range msgs {
			jobs.Go(func() {
				defer func() { <-slots }()
				w.handle(jobCtx, m)
			})
		}
		freeSlots(slots, n-len(msgs))
	}

	w.state.Store(stateStopping)
	w.log.Info("worker stopping: finishing jobs in flight", "grace", w.cfg.ShutdownGrace)
	done := make(chan struct{})
	go func() { jobs.Wait(); close(done) }()
	grace := time.NewTimer(w.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		w.log.Warn("grace period over: abandoning jobs in flight; their messages are made visible again")
		abort()
		<-done
	}
	w.log.Info("worker stopped")
	return nil
}

// takeSlots waits for a free job slot, then takes as many more as are free,
// up to limit. It returns 0 when ctx ends first.
func takeSlots(ctx context.Context, slots chan struct{}, limit int) int {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < limit {
		select {
		case slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func freeSlots(slots chan struct{}, n int) {
	for range n {
		<-slots
	}
}

// sleep waits for d; false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// giveBack makes received but unstarted messages visible again at once.
func (w *Worker) giveBack(ctx context.Context, msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	for _, m := range msgs {
		if err := w.q.ChangeVisibility(ctx, m, 0); err != nil {
			w.m.queueErrors.WithLabelValues(opChangeVisibility).Inc()
			w.log.Warn("could not give an unstarted message back; it returns after its visibility timeout", "message", m.ID, "err", err)
		}
	}
	w.log.Info("gave unstarted messages back to the queue", "messages", len(msgs))
}

// handle runs one job and settles its message.
func (w *Worker) handle(ctx context.Context, m queue.Message) {
	start := time.Now()
	w.m.inFlight.Inc()
	defer w.m.inFlight.Dec()

	beatCtx, stopBeat := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		w.heartbeat(beatCtx, m)
	}()
	var (
		key     string
		verdict Verdict
		cause   error
	)
	content, err := queue.DecodeContent(m.Body)
	switch {
	case err != nil:
		w.observeLag(m.SentAt)
		verdict, cause = Classify(nil, err), err
	case content.Job == nil:
		key, verdict, cause = w.runUploads(ctx, m, content.Uploads)
	default:
		var res *thumbnail.Result
		key = content.Job.Key
		res, cause = w.run(ctx, m, *content.Job)
		verdict = Classify(res, cause)
		if cause == nil && res != nil {
			cause = res.SaveErr
		}
	}
	stopBeat()
	<-beating // no visibility change may race the settling call
	w.settle(context.WithoutCancel(ctx), m, key, verdict, cause, start)
}

// runUploads handles what an S3 event notification reports: for each
// original uploaded (again) or removed, its stored thumbnails follow it
// (thumbnail.Maker.FollowOriginal: remade from the new picture, or deleted
// with it), and each original uploaded gets UploadClasses made. A failure
// that may pass retries the whole message (what was done before it is
// found done next time); a thumbnail that can never be made (a size the
// policy refuses) is left out, and when none can be (a corrupt original)
// the message fails for good.
func (w *Worker) runUploads(ctx context.Context, m queue.Message, uploads []queue.Upload) (key string, v Verdict, cause error) {
	w.observeLag(m.SentAt)
	var originals, changed []string // uploaded; uploaded or removed, in order
	otherBucket := false            // an upload outside the store
	for _, u := range uploads {
		if w.cfg.UploadBucket != "" {
			if u.Bucket != w.cfg.UploadBucket || !strings.HasPrefix(u.Key, w.cfg.UploadPrefix) {
				otherBucket = true
				continue
			}
			u.Key = u.Key[len(w.cfg.UploadPrefix):]
		}
		ok := hasImageExt(u.Key)
		if ok && !u.Removed {
			// A removed key's tag is gone with it: whatever it was, the
			// thumbnails made of it (if any) follow it.
			var err error
			if ok, err = w.uploadedOriginal(ctx, u.Key); err != nil {
				return u.Key, Verdict{Retried, ReasonError, RetryLater}, err
			}
		}
		if !ok {
			continue
		}
		if !u.Removed {
			originals = append(originals, u.Key)
		}
		if !slices.Contains(changed, u.Key) {
			changed = append(changed, u.Key)
		}
		key = u.Key
	}
	switch {
	case len(changed) == 0 && otherBucket:
		w.log.Warn("an S3 event reports an upload outside this worker's store; removed", "bucket", uploads[0].Bucket, "key", uploads[0].Key,
			"store_bucket", w.cfg.UploadBucket, "store_prefix", w.cfg.UploadPrefix)
		return "", Verdict{Skipped, ReasonOutsideStore, Delete}, nil
	case len(changed) == 0:
		return "", Verdict{Skipped, ReasonNotOriginal, Delete}, nil // a thumbnail, a test event
	}
	jctx, cancel := context.WithTimeout(ctx, w.cfg.JobTimeout)
	defer cancel()
	followed := 0
	for _, orig := range changed {
		f, err := w.maker.FollowOriginal(jctx, orig)
		if len(f.Changed()) > 0 {
			followed += len(f.Changed())
			w.log.Info("thumbnails followed their original", "key", orig, "remade", len(f.Remade), "deleted", len(f.Deleted))
			w.invalidate(jctx, orig, f.Changed())
		}
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w: %w", ctx.Err(), err)
			}
			if v := Classify(nil, err); v.Outcome == Retried {
				return orig, v, err
			}
			return orig, Verdict{Retried, ReasonError, RetryLater}, err
		}
	}
	v, cause = w.makeUploadClasses(ctx, jctx, key, originals)
	if followed > 0 && v.Outcome == Skipped {
		v = Verdict{Done, ReasonFollowed, Delete}
	}
	return key, v, cause
}

// invalidate drops the thumbnails of orig that changed from the CDN's
// caches, when there is one. A failure is logged and counted, and never
// fails the job: the store's changes are done and cannot be undone, and a
// retry would find the thumbnails current and change (and so invalidate)
// nothing; the CDN's copies expire with their max-age all the same. Keys
// that changed before a later failure of the same message are invalidated
// here too, for the same reason.
func (w *Worker) invalidate(ctx context.Context, orig string, keys []string) {
	if w.cfg.Invalidator == nil {
		return
	}
	if err := w.cfg.Invalidator.Invalidate(ctx, keys); err != nil {
		w.m.invalidations.WithLabelValues("failed").Inc()
		w.log.Error("could not invalidate the CDN's copies of thumbnails that followed their original; they are served until they expire",
			"key", orig, "thumbnails", len(keys), "err", err)
		return
	}
	w.m.invalidations.WithLabelValues("ok").Inc()
	w.log.Info("invalidated the CDN's copies of thumbnails that followed their original", "key", orig, "thumbnails", len(keys))
}

// makeUploadClasses makes UploadClasses for each original uploaded; key
// names the message in logs.
func (w *Worker) makeUploadClasses(ctx, jctx context.Context, key string, originals []string) (v Verdict, cause error) {
	switch {
	case len(originals) == 0:
		return Verdict{Skipped, ReasonNotOriginal, Delete}, nil // removals only
	case w.cfg.UploadClasses == nil:
		w.log.Warn("an S3 event reports an upload, but this worker was not told where the analyzer publishes its popular classes (--state); the upload's thumbnails are left to the analyzer", "key", key)
		return Verdict{Skipped, ReasonNoClasses, Delete}, nil
	}
	classes, err := w.cfg.UploadClasses.Classes(ctx)
	if err != nil {
		return Verdict{Retried, ReasonError, RetryLater}, fmt.Errorf("popular classes: %w", err)
	}
	if len(classes) == 0 {
		w.log.Info("an S3 event reports an upload, but the analyzer has published no popular classes yet", "key", key)
		return Verdict{Skipped, ReasonNoClasses, Delete}, nil
	}
	made, stored := 0, 0
	var failed *Verdict // the first thumbnail that can never be made
	for _, orig := range originals {
		for _, class := range classes {
			c, err := thumbkey.ParseClass(class)
			if err != nil {
				continue // ClassSource checked them
			}
			k, err := c.KeyFor(orig)
			if err != nil {
				continue // too long a key with this class: no such thumbnail
			}
			res, err := w.maker.Ensure(jctx, k)
			if err != nil && ctx.Err() != nil {
				err = fmt.Errorf("%w: %w", ctx.Err(), err)
			}
			switch v := Classify(res, err); v.Outcome {
			case Retried:
				if err == nil && res != nil {
					err = res.SaveErr
				}
				return v, err
			case Failed:
				w.log.Warn("an upload's thumbnail can never be made", "key", k.String(), "reason", v.Reason, "err", err)
				if failed == nil {
					failed, cause = &v, err
				}
			case Done:
				made++
			case Skipped:
				stored++
			}
		}
	}
	switch {
	case made == 0 && stored == 0 && failed != nil:
		return *failed, cause
	case made == 0:
		return Verdict{Skipped, ReasonExists, Delete}, nil
	}
	w.log.Info("made an upload's popular thumbnails", "key", key, "made", made)
	return Verdict{Done, ReasonUpload, Delete}, nil
}

// hasImageExt reports whether key has a name and an image extension.
func hasImageExt(key string) bool {
	_, ok := thumbkey.ParseOriginal(key)
	return ok
}

// uploadedOriginal tells whether an uploaded key with an image extension
// is an original. Events report the responder's and workers' own writes
// too; those carry the thumbnail tag. A key named like a thumbnail without
// the tag (banner_1200x630.jpg) is an original; one gone already is
// neither.
func (w *Worker) uploadedOriginal(ctx context.Context, key string) (bool, error) {
	if _, err := thumbkey.Parse(key); err != nil {
		return true, nil // not named like a thumbnail: s3thumb never writes it
	}
	isThumb, err := w.maker.IsThumbnail(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("is %s an original: %w", key, err)
	}
	return !isThumb, nil
}

// run ensures the job's thumbnail exists, or refreshes it.
func (w *Worker) run(ctx context.Context, m queue.Message, job queue.Job) (res *thumbnail.Result, err error) {
	if job.EnqueuedAt.IsZero() {
		w.observeLag(m.SentAt)
	} else {
		w.observeLag(job.EnqueuedAt)
	}
	jctx, cancel := context.WithTimeout(ctx, w.cfg.JobTimeout)
	defer cancel()
	if job.Refresh {
		res, err = w.maker.Refresh(jctx, job.Thumb)
	} else {
		res, err = w.maker.Ensure(jctx, job.Thumb)
	}
	if err != nil && ctx.Err() != nil {
		// Abandoned at shutdown, whatever the error says.
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return res, err
}

func (w *Worker) observeLag(since time.Time) {
	if !since.IsZero() {
		w.m.lag.Observe(max(time.Since(since), 0).Seconds())
	}
}

// heartbeat extends the message's visibility every Heartbeat until ctx ends.
func (w *Worker) heartbeat(ctx context.Context, m queue.Message) {
	t := time.NewTicker(w.cfg.heartbeat())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := w.q.ChangeVisibility(ctx, m, w.cfg.Visibility)
		if err == nil || ctx.Err() != nil {
			continue
		}
		w.m.queueErrors.WithLabelValues(opChangeVisibility).Inc()
		if errors.Is(err, queue.ErrStaleHandle) {
			w.log.Warn("job outlived its message's visibility; another worker may run it too", "message", m.ID, "err", err)
			return
		}
		w.log.Warn("could not extend a running job's visibility", "message", m.ID, "err", err)
	}
}

// settle does what the verdict says with the message, then counts and logs
// the job.
func (w *Worker) settle(ctx context.Context, m queue.Message, key string, v Verdict, jobErr error, start time.Time) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	log := w.log.With("key", key, "message", m.ID, "receive_count", m.ReceiveCount, "outcome", v.Outcome, "reason", v.Reason)
	var (
		op    string
		err   error
		delay time.Duration
	)
	switch v.Action {
	case Delete:
		op, err = opDelete, w.q.Delete(ctx, m)
	case DeadLetter:
		op, err = opDeadLetter, w.q.DeadLetter(ctx, m, jobErr.Error())
	case RetryLater:
		delay = Backoff(m.ReceiveCount, w.cfg.RetryBackoff, w.cfg.MaxRetryBackoff)
		op, err = opChangeVisibility, w.q.ChangeVisibility(ctx, m, delay)
	case RetryNow:
		op, err = opChangeVisibility, w.q.ChangeVisibility(ctx, m, 0)
	}
	w.m.jobs.WithLabelValues(string(v.Outcome), v.Reason).Inc()
	w.m.duration.WithLabelValues(string(v.Outcome)).Observe(time.Since(start).Seconds())

	switch {
	case v.Outcome == Done || v.Outcome == Skipped:
		log.Debug("job finished", "duration", time.Since(start))
	case v.Outcome == Failed:
		log.Warn("job can never succeed; message removed", "action", v.Action.String(), "err", jobErr)
	case v.Action == RetryNow:
		log.Info("job interrupted by shutdown; message made visible again", "err", jobErr)
	default:
		log.Warn("job failed; it will be retried", "after", delay, "err", jobErr)
	}
	if err != nil {
		w.m.queueErrors.WithLabelValues(op).Inc()
		if errors.Is(err, queue.ErrStaleHandle) {
			log.Warn("the message was delivered again while the job ran; the job may run twice (harmless: writes are conditional)", "err", err)
			return
		}
		log.Error("could not settle the message; it will be delivered again", "action", v.Action.String(), "err", err)
	}
}

// pollDepth refreshes the queue depth gauge every DepthInterval until ctx
// ends.
func (w *Worker) pollDepth(ctx context.Context) {
	t := time.NewTicker(w.cfg.DepthInterval)
	defer t.Stop()
	for {
		dctx, cancel := context.WithTimeout(ctx, w.cfg.DepthInterval)
		n, err := w.q.Depth(dctx)
		cancel()
		switch {
		case err == nil:
			w.m.depth.Set(float64(n))
		case ctx.Err() == nil:
			w.m.queueErrors.WithLabelValues(opDepth).Inc()
			w.log.Warn("could not read the queue depth", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
