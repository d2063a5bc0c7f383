package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/imaging/imagingtest"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/worker"
)

// TestOutcomes runs every kind of job through a real directory store,
// libvips and a file queue, and checks what became of each message.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	s.putFile(t, "photos/a.jpg", tinyJPEG(t, 64, 48))
	s.putFile(t, "photos/corrupt.jpg", []byte("this is not an image"))
	s.putFile(t, "photos/big.jpg", bytes.Repeat([]byte{0xff}, 64<<10))
	st := newCountingStore(s.store)
	maker := newMaker(t, st, func(c *thumbnail.Config) {
		c.Policy.AllowedSizes = []thumbkey.Box{{Width: 200, Height: 200}, {Width: 100}}
		c.MaxSourceBytes = 32 << 10
	})
	sendJobs(t, s.q,
		"photos/a_200x200.jpg",       // done
		"photos/a_100x_fit@2x.webp",  // done, from a.jpg
		"photos/a_300x300.jpg",       // size not allowed
		"photos/missing_200x200.jpg", // original missing
		"photos/corrupt_200x200.jpg", // unsupported image
		"photos/big_200x200.jpg",     // original too large
	)
	sendRaw(t, s.q,
		[]byte("not json"),
		[]byte(`{"v":3,"key":"photos/a_200x200.jpg"}`),
		[]byte(`{"v":1,"key":"photos/a.jpg"}`),
	)
	r := startWorker(t, fastConfig(), s.q, maker)
	testkit.WaitFor(t, 30*time.Second, "9 jobs", func() bool { return totalJobs(t, r.reg) >= 9 })
	// The same thumbnail again, now that it exists, then a refresh of it.
	sendJobs(t, s.q, "photos/a_200x200.jpg")
	testkit.WaitFor(t, 30*time.Second, "the 10th job", func() bool { return totalJobs(t, r.reg) >= 10 })
	refresh, err := queue.Encode(queue.Job{Key: "photos/a_200x200.jpg", Reason: "refresh", Refresh: true})
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, s.q, refresh)
	testkit.WaitFor(t, 30*time.Second, "the refresh", func() bool { return totalJobs(t, r.reg) >= 11 })
	testkit.WaitFor(t, 5*time.Second, "the depth gauge to show an empty queue", func() bool {
		return metric(t, r.reg, "s3thumb_worker_queue_depth", nil) == 0
	})
	if err := r.w.Health(); err != nil {
		t.Errorf("Health while running = %v", err)
	}
	r.stop(t)
	if err := r.w.Health(); err == nil {
		t.Error("Health after Run returned = nil, want an error")
	}

	want := map[[2]string]int{
		{string(worker.Done), worker.ReasonMade}:                  2,
		{string(worker.Done), worker.ReasonRefreshed}:             1,
		{string(worker.Skipped), worker.ReasonExists}:             1,
		{string(worker.Failed), worker.ReasonSizeNotAllowed}:      1,
		{string(worker.Failed), worker.ReasonOriginalMissing}:     1,
		{string(worker.Failed), worker.ReasonUnsupportedImage}:    1,
		{string(worker.Failed), worker.ReasonOriginalTooLarge}:    1,
		{string(worker.Failed), worker.ReasonMalformed}:           3,
		{string(worker.Retried), worker.ReasonError}:              0,
		{string(worker.Retried), worker.ReasonStoreBack}:          0,
		{string(worker.Skipped), worker.ReasonStoredByAnother}:    0,
		{string(worker.Failed), worker.ReasonTooManyPixels}:       0,
		{string(worker.Retried), worker.ReasonInterrupted}:        0,
		{string(worker.Retried), worker.ReasonTimeout}:            0,
		{string(worker.Failed), worker.ReasonInvalidKey}:          0,
		{string(worker.Failed), worker.ReasonInvalidOptions}:      0,
		{string(worker.Done), "nonexistent reason, for the test"}: 0,
	}
	for k, n := range want {
		if got := jobs(t, r.reg, worker.Outcome(k[0]), k[1]); got != n {
			t.Errorf("jobs{outcome=%s,reason=%s} = %d, want %d", k[0], k[1], got, n)
		}
	}
	if got := totalJobs(t, r.reg); got != 11 {
		t.Errorf("%d job deliveries handled, want 11 (none retried)", got)
	}
	if n := metric(t, r.reg, "s3thumb_worker_queue_lag_seconds", nil); n != 11 {
		t.Errorf("queue lag observed %v times, want 11", n)
	}
	if n := metric(t, r.reg, "s3thumb_worker_job_duration_seconds", map[string]string{"outcome": "done"}); n != 3 {
		t.Errorf("job duration of done jobs observed %v times, want 3", n)
	}

	// Each made thumbnail was written once, with the tag, and the refreshed
	// one once more; nothing else was.
	if got := st.writes(); len(got) != 2 || got["photos/a_200x200.jpg"] != 2 || got["photos/a_100x_fit@2x.webp"] != 1 {
		t.Errorf("writes = %v, want photos/a_200x200.jpg twice (made, refreshed) and photos/a_100x_fit@2x.webp once", got)
	}
	for _, key := range []string{"photos/a_200x200.jpg", "photos/a_100x_fit@2x.webp"} {
		tags, err := s.store.Tags(context.Background(), key)
		if err != nil || tags["thumbnail"] != "yes" {
			t.Errorf("tags of %s = %v, %v; want thumbnail=yes", key, tags, err)
		}
	}
	// Malformed messages are in dead/ with their reasons; the rest are gone.
	for sub, n := range map[string]int{"ready": 0, "inflight": 0, "dead": 6} {
		if got := dirCount(t, filepath.Join(s.qdir, sub)); got != n {
			t.Errorf("%s/ holds %d files, want %d", sub, got, n)
		}
	}
	reasons, _ := filepath.Glob(filepath.Join(s.qdir, "dead", "*.reason"))
	var all string
	for _, p := range reasons {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
	}
	for _, want := range []string{"malformed job", "unknown version 3", "not a thumbnail key"} {
		if !strings.Contains(all, want) {
			t.Errorf("dead-letter reasons %q do not mention %q", all, want)
		}
	}
}

// TestRetryAfterStoreBackFailure: a thumbnail made but not stored is a job
// to do again, after a backoff; the retry stores it.
func TestRetryAfterStoreBackFailure(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	s.putFile(t, "a.jpg", tinyJPEG(t, 64, 48))
	st := newCountingStore(s.store)
	failures := 1
	st.failOn = func(string) error {
		if failures > 0 {
			failures--
			return errors.New("injected: 503 SlowDown")
		}
		return nil
	}
	cfg := fastConfig()
	cfg.Concurrency = 1 // failOn is not safe for concurrent use
	r := startWorker(t, cfg, s.q, newMaker(t, st, nil))
	start := time.Now()
	sendJobs(t, s.q, "a_200x200.jpg")
	testkit.WaitFor(t, 20*time.Second, "the retried job", func() bool { return jobs(t, r.reg, worker.Done, worker.ReasonMade) == 1 })
	if took := time.Since(start); took < cfg.RetryBackoff/2 {
		t.Errorf("retried after %v, before the backoff of at least %v", took, cfg.RetryBackoff/2)
	}
	r.stop(t)
	if got := jobs(t, r.reg, worker.Retried, worker.ReasonStoreBack); got != 1 {
		t.Errorf("store-back retries = %d, want 1", got)
	}
	if got := st.writes()["a_200x200.jpg"]; got != 1 {
		t.Errorf("a_200x200.jpg written %d times, want 1", got)
	}
	if n := dirCount(t, filepath.Join(s.qdir, "ready")) + dirCount(t, filepath.Join(s.qdir, "inflight")); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
}

// TestHeartbeat: a job that runs longer than the visibility timeout keeps
// its message hidden from other consumers, and runs once.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	opts := queue.Options{VisibilityTimeout: time.Second, PollInterval: 20 * time.Millisecond}
	s := newFileSetup(t, opts)
	s.putFile(t, "a.jpg", tinyJPEG(t, 64, 48))
	st := newCountingStore(s.store)
	started := make(chan string, 1)
	maker := &slowMaker{Maker: newMaker(t, st, nil), delay: 3 * time.Second, started: started}
	cfg := fastConfig()
	cfg.Visibility = time.Second
	cfg.Heartbeat = 200 * time.Millisecond
	sendJobs(t, s.q, "a_200x200.jpg")
	r := startWorker(t, cfg, s.q, maker)
	<-started

	// Another consumer of the same folder (as another process would be)
	// sees nothing while the job runs, three visibility timeouts long.
	other, err := queue.OpenFile(s.qdir, opts)
	if err != nil {
		t.Fatal(err)
	}
	stolen, err := other.Receive(context.Background(), 10, 2500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(stolen) > 0 {
		t.Fatalf("another consumer received %d messages while the job ran", len(stolen))
	}
	testkit.WaitFor(t, 10*time.Second, "the job", func() bool { return totalJobs(t, r.reg) == 1 })
	r.stop(t)
	if got := jobs(t, r.reg, worker.Done, worker.ReasonMade); got != 1 {
		t.Errorf("done = %d, want 1", got)
	}
	if got := st.writes()["a_200x200.jpg"]; got != 1 {
		t.Errorf("written %d times, want 1", got)
	}
	if n := dirCount(t, filepath.Join(s.qdir, "inflight")); n != 0 {
		t.Errorf("%d messages in flight after the job, want 0", n)
	}
}

// TestShutdownFinishesJobsInFlight: when the context ends, jobs that have
// started finish and their messages are deleted; Run returns nil.
func TestShutdownFinishesJobsInFlight(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	s.putFile(t, "a.jpg", tinyJPEG(t, 64, 48))
	started := make(chan string, 2)
	maker := &slowMaker{Maker: newMaker(t, s.store, nil), delay: time.Second, started: started}
	sendJobs(t, s.q, "a_200x200.jpg", "a_100x100.jpg")
	r := startWorker(t, fastConfig(), s.q, maker)
	<-started
	<-started
	stopAt := time.Now()
	r.stop(t)
	if took := time.Since(stopAt); took < 500*time.Millisecond {
		t.Errorf("Run returned %v after cancellation, before its jobs could finish", took)
	}
	if got := jobs(t, r.reg, worker.Done, worker.ReasonMade); got != 2 {
		t.Errorf("done = %d, want 2", got)
	}
	for _, key := range []string{"a_200x200.jpg", "a_100x100.jpg"} {
		if _, err := s.store.Head(context.Background(), key); err != nil {
			t.Errorf("%s not stored: %v", key, err)
		}
	}
	if n := dirCount(t, filepath.Join(s.qdir, "ready")) + dirCount(t, filepath.Join(s.qdir, "inflight")); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
}

// TestShutdownGraceAbandonsJobs: a job still running when the grace period
// ends is abandoned and its message is visible again at once; the depth
// gauge counts the messages waiting meanwhile.
func TestShutdownGraceAbandonsJobs(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	started := make(chan string, 1)
	maker := &slowMaker{block: true, started: started}
	cfg := fastConfig()
	cfg.Concurrency = 1
	cfg.ShutdownGrace = 200 * time.Millisecond
	sendJobs(t, s.q, "a_200x200.jpg", "b_200x200.jpg", "c_200x200.jpg")
	r := startWorker(t, cfg, s.q, maker)
	<-started
	testkit.WaitFor(t, 5*time.Second, "the depth gauge to count the 2 waiting jobs", func() bool {
		return metric(t, r.reg, "s3thumb_worker_queue_depth", nil) == 2
	})
	r.stop(t)
	if got := jobs(t, r.reg, worker.Retried, worker.ReasonInterrupted); got != 1 {
		t.Errorf("interrupted = %d, want 1", got)
	}
	// All three are ready at once, the abandoned one received once already.
	msgs, err := s.q.Receive(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for _, m := range msgs {
		counts[m.ReceiveCount]++
	}
	if len(msgs) != 3 || counts[2] != 1 || counts[1] != 2 {
		t.Errorf("after shutdown received %d messages with receive counts %v, want 3: one at 2, two at 1", len(msgs), counts)
	}
}

// lateQueue delivers messages only after the worker's context has ended,
// as a receive that completes just as shutdown begins does.
type lateQueue struct {
	worker.Queue
	received chan int
}

func (q *lateQueue) Receive(ctx context.Context, max int, wait time.Duration) ([]queue.Message, error) {
	msgs, err := q.Queue.Receive(context.WithoutCancel(ctx), max, wait)
	q.received <- len(msgs)
	<-ctx.Done()
	return msgs, err
}

// TestUnstartedMessagesGivenBack: messages received but not started when
// shutdown begins are visible again at once, without waiting for their
// visibility timeout.
func TestUnstartedMessagesGivenBack(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{VisibilityTimeout: time.Hour})
	sendJobs(t, s.q, "a_200x200.jpg", "b_200x200.jpg", "c_200x200.jpg")
	q := &lateQueue{Queue: s.q, received: make(chan int, 1)}
	r := startWorker(t, fastConfig(), q, &slowMaker{block: true})
	if n := <-q.received; n != 3 {
		t.Fatalf("received %d messages, want 3", n)
	}
	if got := dirCount(t, filepath.Join(s.qdir, "inflight")); got != 3 {
		t.Fatalf("%d messages in flight, want 3", got)
	}
	r.stop(t)
	if got := dirCount(t, filepath.Join(s.qdir, "ready")); got != 3 {
		t.Errorf("%d messages ready after shutdown, want all 3 (visibility timeout is an hour)", got)
	}
	if got := totalJobs(t, r.reg); got != 0 {
		t.Errorf("%d jobs ran, want 0", got)
	}
}

// TestDuplicateJobWritesOnce: the same job delivered twice, even to two
// jobs running at once, writes the thumbnail once.
func TestDuplicateJobWritesOnce(t *testing.T) {
	t.Parallel()
	for _, concurrency := range []int{1, 2} {
		t.Run(fmt.Sprint("concurrency ", concurrency), func(t *testing.T) {
			t.Parallel()
			s := newFileSetup(t, queue.Options{})
			s.putFile(t, "a.jpg", tinyJPEG(t, 64, 48))
			st := newCountingStore(s.store)
			cfg := fastConfig()
			cfg.Concurrency = concurrency
			sendJobs(t, s.q, "a_200x200.jpg", "a_200x200.jpg")
			r := startWorker(t, cfg, s.q, newMaker(t, st, nil))
			testkit.WaitFor(t, 20*time.Second, "both jobs", func() bool { return totalJobs(t, r.reg) == 2 })
			r.stop(t)
			if got := st.writes()["a_200x200.jpg"]; got != 1 {
				t.Errorf("written %d times, want 1", got)
			}
			done := jobs(t, r.reg, worker.Done, worker.ReasonMade)
			skipped := jobs(t, r.reg, worker.Skipped, worker.ReasonExists) + jobs(t, r.reg, worker.Skipped, worker.ReasonStoredByAnother)
			if done != 1 || skipped != 1 {
				t.Errorf("done %d, skipped %d; want 1 and 1", done, skipped)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	s := newFileSetup(t, queue.Options{})
	r := startWorker(t, fastConfig(), s.q, &slowMaker{block: true})
	testkit.WaitFor(t, 5*time.Second, "the worker to start", func() bool { return r.w.Health() == nil })
	if err := r.w.Run(context.Background()); err == nil {
		t.Error("a second Run = nil, want an error")
	}
}

// TestDamagedOriginals: an original whose pixel data is damaged fails its
// job for good (damaged_image) and nothing is stored; one with bytes after
// its end is whole and made.
func TestDamagedOriginals(t *testing.T) {
	t.Parallel()
	s := newFileSetup(t, queue.Options{})
	whole := imagingtest.Photo(600, 400)
	s.putFile(t, "photos/cut.jpg", imagingtest.CutJPEG(imagingtest.JPEG(whole)))
	s.putFile(t, "photos/cut.png", imagingtest.CutPNG(imagingtest.PNG(whole)))
	s.putFile(t, "photos/short.png", imagingtest.ShortPNG(7000, 7000))
	s.putFile(t, "photos/trailing.jpg", imagingtest.TrailingJPEG(imagingtest.JPEG(whole)))
	st := newCountingStore(s.store)
	sendJobs(t, s.q, "photos/cut_200x200.jpg", "photos/cut_200x200.png", "photos/short_200x200.png", "photos/trailing_200x200.jpg")
	r := startWorker(t, fastConfig(), s.q, newMaker(t, st, nil))
	testkit.WaitFor(t, 30*time.Second, "4 jobs", func() bool { return totalJobs(t, r.reg) >= 4 })
	r.stop(t)
	if got := jobs(t, r.reg, worker.Failed, worker.ReasonDamagedImage); got != 3 {
		t.Errorf("jobs{failed,damaged_image} = %d, want 3", got)
	}
	if got := jobs(t, r.reg, worker.Done, worker.ReasonMade); got != 1 {
		t.Errorf("jobs{done,made} = %d, want 1 (the JPEG with bytes after its end)", got)
	}
	if got := st.writes(); len(got) != 1 || got["photos/trailing_200x200.jpg"] != 1 {
		t.Errorf("writes = %v, want only photos/trailing_200x200.jpg", got)
	}
	if n := dirCount(t, filepath.Join(s.dir, "photos")); n != 5 {
		t.Errorf("%d files in photos/, want the 4 originals and 1 thumbnail", n)
	}
}
