package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// Versions of the job message. Version 1 asks for a thumbnail to exist;
// version 2 adds "refresh". Encode writes version 1 unless the job asks for
// a refresh, so that workers that know only version 1 keep running every
// other job (and dead-letter a refresh as an unknown version, not as
// garbage); Decode reads both.
const (
	JobVersion        = 1
	RefreshJobVersion = 2
)

// MaxJobBytes is the largest job message Decode reads. A job holds one key
// of at most thumbkey.MaxKeyBytes, a short reason and a time, so anything
// larger is not a job.
const MaxJobBytes = 4096

// MaxReasonBytes is the longest reason a job may carry.
const MaxReasonBytes = 64

// ErrMalformedJob means a message body is not a job this version of s3thumb
// can run: not JSON, an unknown version, unknown fields, a key that is not a
// thumbnail key, or too large. Such a message must be dead-lettered, never
// retried. Errors from a bad key also wrap the thumbkey error.
var ErrMalformedJob = errors.New("malformed job")

// Job asks for one thumbnail to be made.
//
// The JSON tags are for reports that list jobs (the analyzer's); the
// message itself is written by Encode.
type Job struct {
	Key        string       `json:"key"`    // thumbnail key, e.g. "photos/earth_200x200.jpg"
	Thumb      thumbkey.Key `json:"-"`      // Key, parsed: set by Decode
	Reason     string       `json:"reason"` // why it was queued: "backfill", "popular", ...
	EnqueuedAt time.Time    `json:"-"`      // when it was queued; zero when the sender did not say
	// Refresh asks for a stored thumbnail to be written again, so that a
	// lifecycle rule counting from its last write does not expire it while
	// it is still read; a missing one is made.
	Refresh bool `json:"refresh,omitempty"`
}

// jobWire is the wire form of a job, of either version.
type jobWire struct {
	V          int        `json:"v"`
	Key        string     `json:"key"`
	Reason     string     `json:"reason,omitempty"`
	EnqueuedAt *time.Time `json:"enqueued_at,omitempty"`
	Refresh    bool       `json:"refresh,omitempty"` // version 2
}

// Encode writes a job as a message, version 2 for a refresh and 1 for any
// other. It refuses a job that Decode would refuse, so a sender never
// queues poison.
func Encode(j Job) ([]byte, error) {
	if _, err := j.validate(); err != nil {
		return nil, err
	}
	w := jobWire{V: JobVersion, Key: j.Key, Reason: j.Reason}
	if j.Refresh {
		w.V, w.Refresh = RefreshJobVersion, true
	}
	if !j.EnqueuedAt.IsZero() {
		t := j.EnqueuedAt.UTC()
		w.EnqueuedAt = &t
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode job %q: %w", j.Key, err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(body) > MaxJobBytes {
		return nil, fmt.Errorf("%w: encoded job is %d bytes, more than %d", ErrMalformedJob, len(body), MaxJobBytes)
	}
	return body, nil
}

// Decode reads a job message strictly: one JSON object with "v" 1 or 2,
// a "key" that parses as a thumbnail key, an optional "reason" and an
// optional RFC 3339 "enqueued_at", and nothing else; version 2 may also
// have a boolean "refresh". Every refusal wraps ErrMalformedJob.
func Decode(body []byte) (Job, error) {
	if len(body) > MaxJobBytes {
		return Job{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedJob, len(body), MaxJobBytes)
	}
	if !utf8.Valid(body) {
		return Job{}, fmt.Errorf("%w: not valid UTF-8", ErrMalformedJob)
	}
	// Field names are matched exactly (encoding/json alone would accept "KEY").
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Job{}, fmt.Errorf("%w: %w", ErrMalformedJob, err)
	}
	if fields == nil {
		return Job{}, fmt.Errorf("%w: not a JSON object", ErrMalformedJob)
	}
	// The version comes first, so that a future version with other fields
	// is reported as an unknown version, not as unknown fields.
	v, ok := fields["v"]
	if !ok {
		return Job{}, fmt.Errorf("%w: no version (\"v\")", ErrMalformedJob)
	}
	var w jobWire
	targets := map[string]any{"v": &w.V, "key": &w.Key, "reason": &w.Reason, "enqueued_at": &w.EnqueuedAt}
	switch string(v) {
	case strconv.Itoa(JobVersion):
	case strconv.Itoa(RefreshJobVersion):
		targets["refresh"] = &w.Refresh
	default:
		return Job{}, fmt.Errorf("%w: unknown version %s (want %d or %d)", ErrMalformedJob, truncate(v, 32), JobVersion, RefreshJobVersion)
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		target, ok := targets[name]
		if !ok {
			return Job{}, fmt.Errorf("%w: unknown field %q", ErrMalformedJob, truncate([]byte(name), 32))
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return Job{}, fmt.Errorf("%w: field %q: %w", ErrMalformedJob, name, err)
		}
	}
	j := Job{Key: w.Key, Reason: w.Reason, Refresh: w.Refresh}
	if w.EnqueuedAt != nil {
		j.EnqueuedAt = *w.EnqueuedAt
	}
	k, err := j.validate()
	if err != nil {
		return Job{}, err
	}
	j.Thumb = k
	return j, nil
}

// Content is what one message on the job queue asks for: a thumbnail job,
// or the uploads an S3 event notification reports (Job is nil then; S3's
// test event reports none).
type Content struct {
	Job     *Job
	Uploads []Upload
}

// DecodeContent reads a message body: an S3 event notification (or an SNS
// notification wrapping one) gives its uploads, anything else is read as a
// job. Every refusal wraps ErrMalformedJob. It is where a worker learns
// what a message is; it reads no body twice.
func DecodeContent(body []byte) (Content, error) {
	if IsS3Event(body) {
		uploads, err := DecodeS3Event(body)
		return Content{Uploads: uploads}, err
	}
	j, err := Decode(body)
	if err != nil {
		return Content{}, err
	}
	return Content{Job: &j}, nil
}

// validate checks what both Encode and Decode require of a job, and
// returns its key parsed.
func (j Job) validate() (thumbkey.Key, error) {
	k, err := thumbkey.Parse(j.Key)
	if err != nil {
		return thumbkey.Key{}, fmt.Errorf("%w: key: %w", ErrMalformedJob, err)
	}
	if len(j.Reason) > MaxReasonBytes {
		return thumbkey.Key{}, fmt.Errorf("%w: reason is %d bytes, more than %d", ErrMalformedJob, len(j.Reason), MaxReasonBytes)
	}
	for _, r := range j.Reason {
		if r < 0x20 || r == 0x7f {
			return thumbkey.Key{}, fmt.Errorf("%w: reason contains control character %q", ErrMalformedJob, r)
		}
	}
	if y := j.EnqueuedAt.Year(); !j.EnqueuedAt.IsZero() && (y < 1 || y > 9999) {
		return thumbkey.Key{}, fmt.Errorf("%w: enqueued_at year %d out of range", ErrMalformedJob, y)
	}
	return k, nil
}

// truncate shortens b for an error message.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
