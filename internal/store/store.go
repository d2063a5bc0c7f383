// Package store keeps objects (originals and thumbnails) in a bucket-like
// store: Amazon S3 or any S3-compatible server ("s3://BUCKET/PREFIX"), or a
// local directory ("file://DIR"). Both implement Store with the same
// semantics, so the rest of s3thumb never knows which one it talks to.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

var (
	// ErrNotFound means no object is stored under the key.
	ErrNotFound = errors.New("object not found")
	// ErrExists means a write with IfNoneMatch found the key already taken:
	// another writer won.
	ErrExists = errors.New("object already exists")
	// ErrChanged means a write with IfMatch found the object replaced (or
	// gone) since it was read: somebody else wrote it in between.
	ErrChanged = errors.New("object changed since it was read")
	// ErrUnavailable means the store could not be reached (refused, reset,
	// timed out) or answered that it cannot serve now (5xx, throttling):
	// trying again later may work.
	ErrUnavailable = errors.New("store unavailable")
	// ErrInvalidKey means the store cannot hold an object under this key.
	ErrInvalidKey = errors.New("invalid key for this store")
)

// Attrs describes a stored object.
type Attrs struct {
	Key          string
	Size         int64
	ContentType  string
	CacheControl string
	ETag         string // quoted, as in HTTP
	LastModified time.Time
	StorageClass string
	// Metadata is the object's user metadata (S3's x-amz-meta-NAME
	// headers), names in lower case. Get and Head fill it; List does not.
	Metadata map[string]string
}

// Version is what thumbtag.MadeOf compares of the object.
func (a Attrs) Version() thumbtag.Version {
	return thumbtag.Version{Key: a.Key, ETag: a.ETag, LastModified: a.LastModified, Metadata: a.Metadata}
}

// Object is an object's attributes and its body, which the caller must close.
type Object struct {
	Attrs
	Body io.ReadCloser
}

// PutOptions are the attributes written with an object.
type PutOptions struct {
	ContentType  string
	CacheControl string
	StorageClass string            // "" for the store's default
	Tags         map[string]string // object tags, e.g. thumbnail=yes
	// Metadata is user metadata (x-amz-meta-NAME), names in lower case
	// and US-ASCII; values are any text (the S3 store sends what is not
	// US-ASCII as RFC 2047 encoded-words and reads it back decoded).
	Metadata map[string]string
	// IfNoneMatch makes the write fail with ErrExists when the key is taken
	// (If-None-Match: *), so the first writer wins.
	IfNoneMatch bool
	// IfMatch, when set, makes the write fail with ErrChanged unless the
	// object is stored with this ETag (If-Match), so that a rewrite never
	// replaces a version it has not read.
	IfMatch string
}

// Store is a bucket of objects. Keys are relative to the store's root (the
// bucket and prefix, or the directory).
type Store interface {
	// Get opens an object; ErrNotFound when there is none.
	Get(ctx context.Context, key string) (*Object, error)
	// Head returns an object's attributes; ErrNotFound when there is none.
	Head(ctx context.Context, key string) (Attrs, error)
	// Put writes an object of body's length.
	Put(ctx context.Context, key string, body []byte, opts PutOptions) error
	// Tags returns an object's tags; ErrNotFound when there is none.
	Tags(ctx context.Context, key string) (map[string]string, error)
	// Delete removes an object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteIfMatch removes an object only if it is stored with this ETag
	// (If-Match): ErrChanged when another version is stored, nil when
	// there is none.
	DeleteIfMatch(ctx context.Context, key, etag string) error
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order, beginning after startAfter; fn returning an error
	// stops the listing with that error.
	List(ctx context.Context, prefix, startAfter string, fn func(Attrs) error) error
	// Ping checks that the store can be reached (for readiness probes).
	Ping(ctx context.Context) error
	// String names the store for logs, as a URL.
	String() string
}

// ErrTooLarge means an object has more bytes than its reader allows
// (ReadAll).
var ErrTooLarge = errors.New("object too large")

// ReadAll reads r to its end into buf (reused from its start; nil for a
// new one), but not more than limit bytes: with more, it stops there and
// fails with ErrTooLarge, having read limit+1. It is how every reader of
// objects bounds what an object may cost it.
func ReadAll(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	b := bytes.NewBuffer(buf[:0])
	if _, err := b.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return b.Bytes(), err
	}
	if int64(b.Len()) > limit {
		return b.Bytes(), fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return b.Bytes(), nil
}
