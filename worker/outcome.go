package worker

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/s3thumb/s3thumb/internal/imaging"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

// Outcome is what became of one delivery of a job.
type Outcome string

// The outcomes, as they appear in the outcome label of the metrics.
const (
	// Done: the thumbnail was made and stored by this job, or written
	// again by a refresh.
	Done Outcome = "done"
	// Skipped: the thumbnail was stored already, or another writer stored
	// it first.
	Skipped Outcome = "skipped"
	// Failed: the job can never succeed (a malformed message, a size the
	// policy refuses, a missing, oversized or corrupt original). It is
	// removed from the queue and not tried again.
	Failed Outcome = "failed"
	// Retried: the job failed for a reason that may pass (a store error, a
	// timeout, a failed store-back, a shutdown); the message is left for
	// redelivery.
	Retried Outcome = "retried"
)

// Reasons say why a job ended as it did (the reason label of the metrics).
const (
	ReasonMade             = "made"
	ReasonRefreshed        = "refreshed"
	ReasonUpload           = "upload"
	ReasonFollowed         = "followed_original"
	ReasonNotOriginal      = "not_an_original"
	ReasonNoClasses        = "no_classes"
	ReasonOutsideStore     = "outside_store"
	ReasonExists           = "exists"
	ReasonStoredByAnother  = "stored_by_another"
	ReasonMalformed        = "malformed"
	ReasonInvalidKey       = "invalid_key"
	ReasonSizeNotAllowed   = "size_not_allowed"
	ReasonOriginalMissing  = "original_missing"
	ReasonIsOriginal       = "is_original"
	ReasonNotThumbnail     = "not_thumbnail"
	ReasonChanged          = "changed"
	ReasonOriginalTooLarge = "original_too_large"
	ReasonTooMuchMemory    = "too_much_memory"
	ReasonUnsupportedImage = "unsupported_image"
	ReasonDamagedImage     = "damaged_image"
	ReasonTooManyPixels    = "too_many_pixels"
	ReasonInvalidOptions   = "invalid_options"
	ReasonInterrupted      = "interrupted"
	ReasonTimeout          = "timeout"
	ReasonStoreBack        = "store_back"
	ReasonError            = "error"
)

// Action is what is done with a message once its job has ended.
type Action int

const (
	// Delete removes the message: the job is finished, for good or ill.
	Delete Action = iota
	// DeadLetter moves the message aside: it is not a job this worker can
	// read, and an operator should see it.
	DeadLetter
	// RetryLater hides the message for a backoff that grows with its
	// receive count, then it is delivered again.
	RetryLater
	// RetryNow makes the message visible again at once: the job was cut
	// short by this worker's shutdown, not by a fault of its own.
	RetryNow
)

func (a Action) String() string {
	switch a {
	case Delete:
		return "delete"
	case DeadLetter:
		return "dead-letter"
	case RetryLater:
		return "retry later"
	case RetryNow:
		return "retry now"
	}
	return "unknown action"
}

// Verdict is the classification of one job's result.
type Verdict struct {
	Outcome Outcome
	Reason  string
	Action  Action
}

// permanent maps the typed errors that no retry can cure to their reasons.
// Order matters only where one error could wrap two of these.
var permanent = []struct {
	err    error
	reason string
	action Action
}{
	{queue.ErrMalformedJob, ReasonMalformed, DeadLetter},
	{thumbnail.ErrThumbnailOfThumbnail, ReasonNotThumbnail, Delete}, // before thumbkey.ErrNotThumbnail, which it wraps
	{thumbkey.ErrNotThumbnail, ReasonMalformed, DeadLetter},
	{thumbkey.ErrInvalidKey, ReasonMalformed, DeadLetter},
	{store.ErrInvalidKey, ReasonInvalidKey, Delete},
	{policy.ErrSizeNotAllowed, ReasonSizeNotAllowed, Delete},
	{thumbnail.ErrOriginalMissing, ReasonOriginalMissing, Delete},
	{thumbnail.ErrUntagged, ReasonIsOriginal, Delete},
	{thumbnail.ErrTooMuchMemory, ReasonTooMuchMemory, Delete}, // before ErrOriginalTooLarge, which it wraps
	{thumbnail.ErrOriginalTooLarge, ReasonOriginalTooLarge, Delete},
	{imaging.ErrTooManyPixels, ReasonTooManyPixels, Delete},
	{imaging.ErrDamagedImage, ReasonDamagedImage, Delete}, // before ErrUnsupportedImage, which it wraps
	{imaging.ErrUnsupportedImage, ReasonUnsupportedImage, Delete},
	{imaging.ErrInvalidOptions, ReasonInvalidOptions, Delete},
}

// Classify decides, from what Ensure returned (or from the error decoding
// the message), whether a job is finished and what happens to its message.
// It is the one place where the retry-or-drop decision is made.
//
// A job's purpose is the stored thumbnail, so a thumbnail that was made but
// not stored (res.SaveErr) is retried, and any error not known to be
// permanent is assumed to pass.
func Classify(res *thumbnail.Result, err error) Verdict {
	if err == nil {
		switch {
		case res == nil:
			return Verdict{Retried, ReasonError, RetryLater}
		case res.Refreshed:
			return Verdict{Done, ReasonRefreshed, Delete}
		case res.Existing != nil && res.SaveErr == nil:
			return Verdict{Skipped, ReasonExists, Delete}
		case res.SaveErr != nil:
			return Verdict{Retried, ReasonStoreBack, RetryLater}
		case res.Stored:
			return Verdict{Done, ReasonMade, Delete}
		default:
			// Made, but another writer's If-None-Match write won.
			return Verdict{Skipped, ReasonStoredByAnother, Delete}
		}
	}
	if errors.Is(err, thumbnail.ErrChanged) {
		// A refresh found a newer version (an upload): nothing to do.
		return Verdict{Skipped, ReasonChanged, Delete}
	}
	for _, p := range permanent {
		if errors.Is(err, p.err) {
			return Verdict{Failed, p.reason, p.action}
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Verdict{Retried, ReasonInterrupted, RetryNow}
	case errors.Is(err, context.DeadlineExceeded):
		return Verdict{Retried, ReasonTimeout, RetryLater}
	}
	return Verdict{Retried, ReasonError, RetryLater}
}

// Backoff is how long a message that failed on its receiveCount-th delivery
// stays hidden: first doubled for each earlier delivery, at most limit,
// then jittered down by up to a half so that jobs that failed together do
// not all come back together.
func Backoff(receiveCount int, first, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < receiveCount && d < limit; i++ {
		d *= 2
	}
	d = max(first, min(d, limit))
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(half+1))
}
