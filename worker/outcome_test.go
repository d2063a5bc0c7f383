package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
	"github.com/s3thumb/s3thumb/worker"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("resize photos/a.jpg: %w", err) }
	tests := []struct {
		name string
		res  *thumbnail.Result
		err  error
		want worker.Verdict
	}{
		{"made and stored", &thumbnail.Result{Stored: true}, nil, worker.Verdict{Outcome: worker.Done, Reason: worker.ReasonMade, Action: worker.Delete}},
		{"already stored", &thumbnail.Result{Existing: &store.Attrs{}}, nil, worker.Verdict{Outcome: worker.Skipped, Reason: worker.ReasonExists, Action: worker.Delete}},
		{"refreshed", &thumbnail.Result{Existing: &store.Attrs{}, Stored: true, Refreshed: true}, nil, worker.Verdict{Outcome: worker.Done, Reason: worker.ReasonRefreshed, Action: worker.Delete}},
		{"refresh could not write", &thumbnail.Result{Existing: &store.Attrs{}, SaveErr: errors.New("503")}, nil, worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonStoreBack, Action: worker.RetryLater}},
		{"another writer won", &thumbnail.Result{}, nil, worker.Verdict{Outcome: worker.Skipped, Reason: worker.ReasonStoredByAnother, Action: worker.Delete}},
		{"store-back failed", &thumbnail.Result{SaveErr: errors.New("500")}, nil, worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonStoreBack, Action: worker.RetryLater}},
		{"no result, no error", nil, nil, worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonError, Action: worker.RetryLater}},
		{"malformed message", nil, fmt.Errorf("%w: unknown version 3", queue.ErrMalformedJob), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonMalformed, Action: worker.DeadLetter}},
		{"not a thumbnail key", nil, fmt.Errorf("job key: %w", thumbkey.ErrNotThumbnail), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonMalformed, Action: worker.DeadLetter}},
		{"unsafe key", nil, fmt.Errorf("job key: %w", thumbkey.ErrInvalidKey), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonMalformed, Action: worker.DeadLetter}},
		{"store refuses the key", nil, fmt.Errorf("look for stored thumbnail: %w", store.ErrInvalidKey), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonInvalidKey, Action: worker.Delete}},
		{"size not allowed", nil, fmt.Errorf("%w: 300x300", policy.ErrSizeNotAllowed), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonSizeNotAllowed, Action: worker.Delete}},
		{"original missing", nil, fmt.Errorf("%w: tried a.jpg", thumbnail.ErrOriginalMissing), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonOriginalMissing, Action: worker.Delete}},
		{"original too large", nil, fmt.Errorf("read original: %w", thumbnail.ErrOriginalTooLarge), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonOriginalTooLarge, Action: worker.Delete}},
		{"thumbnail of a thumbnail", nil, wrap(thumbnail.ErrThumbnailOfThumbnail), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonNotThumbnail, Action: worker.Delete}},
		{"corrupt image", nil, wrap(imaging.ErrUnsupportedImage), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonUnsupportedImage, Action: worker.Delete}},
		{"decompression bomb", nil, wrap(imaging.ErrTooManyPixels), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonTooManyPixels, Action: worker.Delete}},
		{"impossible options", nil, wrap(imaging.ErrInvalidOptions), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonInvalidOptions, Action: worker.Delete}},
		{"shutdown", nil, fmt.Errorf("get original: %w", context.Canceled), worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonInterrupted, Action: worker.RetryNow}},
		{"job timeout", nil, fmt.Errorf("get original: %w", context.DeadlineExceeded), worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonTimeout, Action: worker.RetryLater}},
		{"store error", nil, errors.New("get original photos/a.jpg: 503 SlowDown"), worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonError, Action: worker.RetryLater}},
		{"object vanished meanwhile", nil, fmt.Errorf("look for stored thumbnail: %w", store.ErrNotFound), worker.Verdict{Outcome: worker.Retried, Reason: worker.ReasonError, Action: worker.RetryLater}},
		// A permanent cause stays permanent even when shutdown also hit.
		{"missing, at shutdown", nil, fmt.Errorf("%w: %w", context.Canceled, thumbnail.ErrOriginalMissing), worker.Verdict{Outcome: worker.Failed, Reason: worker.ReasonOriginalMissing, Action: worker.Delete}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := worker.Classify(tt.res, tt.err); got != tt.want {
				t.Errorf("Classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		count        int
		first, limit time.Duration
		want         time.Duration // before jitter
	}{
		{0, time.Second, time.Minute, time.Second},
		{1, time.Second, time.Minute, time.Second},
		{2, time.Second, time.Minute, 2 * time.Second},
		{4, time.Second, time.Minute, 8 * time.Second},
		{7, time.Second, time.Minute, time.Minute},
		{1000, time.Second, time.Minute, time.Minute},
		{3, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{40, 5 * time.Second, 12 * time.Hour, 12 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.count, tt.first, tt.limit), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				got := worker.Backoff(tt.count, tt.first, tt.limit)
				if got < tt.want/2 || got > tt.want {
					t.Fatalf("Backoff = %v, want from %v to %v", got, tt.want/2, tt.want)
				}
				seen[got] = true
			}
			if len(seen) < 2 {
				t.Errorf("Backoff gave %v every time: no jitter", seen)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := worker.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	tests := []struct {
		name   string
		change func(*worker.Config)
		want   string
	}{
		{"no concurrency", func(c *worker.Config) { c.Concurrency = 0 }, "concurrency 0"},
		{"batch too large", func(c *worker.Config) { c.Batch = 11 }, "batch 11"},
		{"negative wait", func(c *worker.Config) { c.Wait = -time.Second }, "receive wait"},
		{"visibility too short", func(c *worker.Config) { c.Visibility = 500 * time.Millisecond }, "visibility timeout"},
		{"visibility too long", func(c *worker.Config) { c.Visibility = 13 * time.Hour }, "visibility timeout"},
		{"heartbeat too slow", func(c *worker.Config) { c.Heartbeat = c.Visibility }, "heartbeat"},
		{"no job timeout", func(c *worker.Config) { c.JobTimeout = 0 }, "job timeout"},
		{"no backoff", func(c *worker.Config) { c.RetryBackoff = 0 }, "retry backoff"},
		{"max below first", func(c *worker.Config) { c.MaxRetryBackoff = c.RetryBackoff / 2 }, "max retry backoff"},
		{"negative grace", func(c *worker.Config) { c.ShutdownGrace = -1 }, "shutdown grace"},
		{"negative depth interval", func(c *worker.Config) { c.DepthInterval = -1 }, "depth interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := worker.DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
