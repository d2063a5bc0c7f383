// Package queue carries thumbnail jobs from whoever wants a thumbnail made
// (the operator's backfill, the log analyzer) to the workers that make it.
//
// Queue is one small interface with two implementations of the same
// at-least-once semantics: Amazon SQS or an SQS-compatible server
// ("sqs://NAME", "https://sqs.REGION.amazonaws.com/ACCOUNT/NAME") and a
// durable directory queue for a single machine ("file://DIR"). A received
// message stays hidden from other consumers for a visibility timeout; a
// consumer deletes it when done, or it is delivered again. Messages that must
// never be retried are dead-lettered.
//
// The job message itself (Job, Encode, Decode) is versioned JSON.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits shared by both implementations (they are SQS's).
const (
	// MaxBatch is the most messages one Receive returns, and the most
	// messages SQS sends in one request.
	MaxBatch = 10
	// MaxBodyBytes is the largest message body Send accepts.
	MaxBodyBytes = 256 << 10
	// MaxVisibility is the longest visibility timeout.
	MaxVisibility = 12 * time.Hour
	// MaxWaitPerCall is the longest long poll of one SQS ReceiveMessage
	// call; Receive makes several calls to wait longer.
	MaxWaitPerCall = 20 * time.Second
)

// Defaults for Options fields left zero.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultMaxReceives       = 5
	DefaultPollInterval      = 100 * time.Millisecond
)

var (
	// ErrStaleHandle means a message handle no longer names a message this
	// consumer holds: its visibility timed out and it was delivered again,
	// or it was already deleted.
	ErrStaleHandle = errors.New("stale message handle")
	// ErrInvalidBody means Send refused a message body: empty, larger than
	// MaxBodyBytes, or with characters SQS does not allow.
	ErrInvalidBody = errors.New("invalid message body")
	// ErrInvalidURL means Open cannot make a queue of the URL.
	ErrInvalidURL = errors.New("invalid queue URL")
)

// Message is one delivery of a message.
type Message struct {
	ID           string    // the message's ID, the same on every delivery
	Body         []byte    // what was sent
	ReceiveCount int       // how many times it has been delivered, this one included
	SentAt       time.Time // when it was first sent
	handle       string    // names this delivery to Delete, ChangeVisibility and DeadLetter
}

// Queue is an at-least-once message queue. Implementations are safe for
// concurrent use.
type Queue interface {
	// Send queues each body. Bodies that could not be sent after retries
	// are named by a *SendError.
	Send(ctx context.Context, bodies [][]byte) error
	// Receive returns up to max (at most MaxBatch) messages, waiting up to
	// wait for the first to arrive. It returns no messages and no error when
	// none arrived in time. Received messages are hidden from other
	// consumers until their visibility timeout passes.
	Receive(ctx context.Context, max int, wait time.Duration) ([]Message, error)
	// Delete removes a message that has been handled.
	Delete(ctx context.Context, m Message) error
	// ChangeVisibility hides the message for d from now; 0 makes it visible
	// again at once.
	ChangeVisibility(ctx context.Context, m Message, d time.Duration) error
	// DeadLetter removes a message that must never be retried (malformed,
	// or failed for good), keeping it aside with the reason where the queue
	// has a place for that.
	DeadLetter(ctx context.Context, m Message, reason string) error
	// Depth is the approximate number of messages waiting to be received.
	Depth(ctx context.Context) (int, error)
	// String names the queue for logs, as a URL.
	String() string
}

// SendError reports the bodies a Send could not queue.
type SendError struct {
	Total  int   // bodies given to Send
	Failed []int // indexes of the bodies that were not queued, ascending
	Err    error // the first failure's cause
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send: %d of %d messages failed: %v", len(e.Failed), e.Total, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Options configure a queue. The zero value is usable.
type Options struct {
	// Endpoint overrides the SQS endpoint (--sqs-endpoint), for emulators
	// and VPC endpoints. For an http:// queue URL it defaults to the URL's
	// scheme and host.
	Endpoint string
	// Region is the AWS region; empty means the one in an AWS queue URL,
	// else the standard chain (AWS_REGION, profile).
	Region string
	// VisibilityTimeout is how long a received message stays hidden. Zero
	// means DefaultVisibilityTimeout for the file queue and the queue's own
	// setting for SQS.
	VisibilityTimeout time.Duration
	// MaxReceives is how many times the file queue delivers a message
	// before moving it to its dead folder; zero means DefaultMaxReceives.
	// SQS leaves this to the queue's redrive policy (maxReceiveCount).
	MaxReceives int
	// DeadLetterURL is the SQS queue that DeadLetter sends to. Empty means
	// the dead-letter queue of the queue's redrive policy, if it has one.
	DeadLetterURL string
	// PollInterval is how often the file queue looks for new messages
	// while Receive waits; zero means DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives warnings (dead-lettered messages); nil discards.
	Logger *slog.Logger
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	switch {
	case o.VisibilityTimeout < 0 || o.VisibilityTimeout > MaxVisibility:
		return fmt.Errorf("visibility timeout %v: want 0 to %v", o.VisibilityTimeout, MaxVisibility)
	case o.MaxReceives < 0:
		return fmt.Errorf("max receives %d: want 0 (default) or more", o.MaxReceives)
	case o.PollInterval < 0:
		return fmt.Errorf("poll interval %v: want 0 (default) or more", o.PollInterval)
	}
	return nil
}

// withDefaults fills in zero fields common to both implementations.
func (o Options) withDefaults() Options {
	if o.MaxReceives == 0 {
		o.MaxReceives = DefaultMaxReceives
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open opens the queue a URL names:
//
//	file://DIR                                    a directory queue (created if missing)
//	sqs://NAME                                    an SQS queue looked up by name
//	https://sqs.REGION.amazonaws.com/ACCOUNT/NAME an SQS queue URL, used as is
//	http://HOST:PORT/ACCOUNT/NAME                 an emulator's queue URL
func Open(ctx context.Context, rawURL string, opts Options) (Queue, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", rawURL, err)
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: %q: want file://DIR, sqs://NAME or an SQS queue URL", ErrInvalidURL, rawURL)
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return nil, fmt.Errorf("%w: %q: no directory", ErrInvalidURL, rawURL)
		}
		return OpenFile(rest, opts)
	case "sqs":
		return openSQSByName(ctx, rawURL, rest, opts)
	case "http", "https":
		return openSQSByURL(ctx, rawURL, opts)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q", ErrInvalidURL, rawURL, scheme)
}

// checkBody reports whether SQS would accept body as a message, so that
// both implementations accept exactly the same bodies.
func checkBody(body []byte) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidBody)
	}
	if len(body) > MaxBodyBytes {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidBody, len(body), MaxBodyBytes)
	}
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("%w: not valid UTF-8 at byte %d", ErrInvalidBody, i)
		}
		if !allowedRune(r) {
			return fmt.Errorf("%w: character %U at byte %d is not allowed", ErrInvalidBody, r, i)
		}
		i += size
	}
	return nil
}

// clampBatch limits a Receive's max to 1..MaxBatch.
func clampBatch(n int) int {
	return min(max(n, 1), MaxBatch)
}

// allowedRune reports whether SQS allows r in a message: #x9 | #xA | #xD |
// #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func allowedRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE || r == 0xFFFF, r > 0x10FFFF:
		return false
	}
	return true
}
