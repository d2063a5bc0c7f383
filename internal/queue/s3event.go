package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A queue that S3 notifies of new and removed objects (event notifications
// for s3:ObjectCreated:* and s3:ObjectRemoved:*, sent to SQS directly or
// through SNS) carries S3's own messages beside jobs. Workers tell them apart with IsS3Event and read them
// with DecodeS3Event.

// MaxEventBytes is the largest S3 event message DecodeS3Event reads: the
// largest SQS message.
const MaxEventBytes = 256 << 10

// Upload is an object an S3 event notification reported created, or, with
// Removed, deleted (ObjectRemoved:Delete or :DeleteMarkerCreated).
type Upload struct {
	Bucket  string
	Key     string // decoded: S3 sends keys URL-encoded, spaces as "+"
	Size    int64
	Time    time.Time
	Removed bool
}

// IsS3Event tells whether a message body looks like an S3 event
// notification (or an SNS notification wrapping one) rather than a job:
// a JSON object with "Records", "Event" or an SNS "Type" member. It does
// not validate; DecodeS3Event does.
func IsS3Event(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || len(b) > MaxEventBytes {
		return false
	}
	var probe struct {
		Records json.RawMessage `json:"Records"`
		Event   string          `json:"Event"`
		Type    string          `json:"Type"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return false
	}
	return probe.Records != nil || strings.HasPrefix(probe.Event, "s3:") || probe.Type == "Notification"
}

// s3Event is the part of S3's event message that is read.
type s3Event struct {
	Records []struct {
		EventSource string `json:"eventSource"`
		EventName   string `json:"eventName"`
		EventTime   string `json:"eventTime"`
		S3          struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key  string `json:"key"`
				Size int64  `json:"size"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	Event string `json:"Event"` // "s3:TestEvent", sent when notifications are set up
}

// snsEnvelope is an SNS notification delivered to SQS without raw message
// delivery: the S3 event is a string in Message.
type snsEnvelope struct {
	Type    string `json:"Type"`
	Message string `json:"Message"`
}

// DecodeS3Event reads an S3 event notification and returns the objects it
// reports created or removed (events named ObjectCreated:* and
// ObjectRemoved:*), in order. Other events
// and S3's test event give no uploads and no error. Every refusal wraps
// ErrMalformedJob: such a message is dead-lettered like a malformed job.
func DecodeS3Event(body []byte) ([]Upload, error) {
	if len(body) > MaxEventBytes {
		return nil, fmt.Errorf("%w: S3 event of %d bytes, more than %d", ErrMalformedJob, len(body), MaxEventBytes)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: S3 event: not valid UTF-8", ErrMalformedJob)
	}
	var env snsEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: S3 event: %w", ErrMalformedJob, err)
	}
	if env.Type == "Notification" {
		body = []byte(env.Message)
	}
	var ev s3Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("%w: S3 event: %w", ErrMalformedJob, err)
	}
	if ev.Records == nil {
		if strings.HasPrefix(ev.Event, "s3:") {
			return nil, nil // the test event
		}
		return nil, fmt.Errorf("%w: S3 event: no Records", ErrMalformedJob)
	}
	var out []Upload
	for i, r := range ev.Records {
		removed := strings.HasPrefix(r.EventName, "ObjectRemoved:")
		if r.EventSource != "aws:s3" || !removed && !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil || key == "" || !utf8.ValidString(key) || strings.ContainsFunc(key, unicode.IsControl) {
			return nil, fmt.Errorf("%w: S3 event record %d: object key %q: not a URL-encoded key", ErrMalformedJob, i, truncate([]byte(r.S3.Object.Key), 64))
		}
		if r.S3.Bucket.Name == "" {
			return nil, fmt.Errorf("%w: S3 event record %d: no bucket", ErrMalformedJob, i)
		}
		u := Upload{Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size, Removed: removed}
		if r.EventTime != "" {
			t, err := time.Parse(time.RFC3339Nano, r.EventTime)
			if err != nil {
				// moto writes the time without a zone; it is UTC.
				t, err = time.Parse("2006-01-02T15:04:05.999999999", r.EventTime)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: S3 event record %d: eventTime: %w", ErrMalformedJob, i, err)
			}
			u.Time = t
		}
		out = append(out, u)
	}
	return out, nil
}

// EncodeS3Event is the S3 event notification of one record, as S3 sends it
// to a queue (event version 2.1): eventName such as "ObjectCreated:Put" or
// "ObjectRemoved:Delete" for the object key (the whole key in the bucket)
// of bucket, the key URL-encoded with spaces as "+". s3thumb sends it where
// S3 sends none (a directory store's watcher, `enqueue --stale-only`), so
// that workers handle it as they handle S3's own.
func EncodeS3Event(bucket, eventName, key string, at time.Time) []byte {
	rec := map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3",
		"eventTime": at.UTC().Format(time.RFC3339Nano), "eventName": eventName,
		"s3": map[string]any{
			"s3SchemaVersion": "1.0", "configurationId": "s3thumb",
			"bucket": map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
			"object": map[string]any{"key": strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")},
		},
	}
	b, _ := json.Marshal(map[string]any{"Records": []any{rec}}) // maps of strings: never fails
	return b
}
