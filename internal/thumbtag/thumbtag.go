// Package thumbtag is the one rule that tells a thumbnail from an original:
// an object is a thumbnail only if it carries the tag thumbnail=yes, which
// s3thumb writes with every thumbnail it stores. Whatever exists without the
// tag is an original, whatever its name says: "banner_1200x630.jpg" uploaded
// by a person is an original, never rewritten, re-tagged or deleted.
//
// The package is a leaf (it imports nothing of s3thumb), so that commands
// which only need the rule do not link the image engine.
package thumbtag

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Key and Value are the tag every stored thumbnail carries; the bucket's
// lifecycle rule expires objects with it, and nothing s3thumb does touches
// an object without it.
const Key, Value = "thumbnail", "yes"

// Agent is the application name s3thumb puts in the User-Agent of its
// requests to S3 ("app/s3thumb"), so that access logs tell its thumbnail
// writes from uploads.
const Agent = "s3thumb"

// Tags returns a new tag set holding the thumbnail tag.
func Tags() map[string]string { return map[string]string{Key: Value} }

// Is reports whether an object's tags mark it as a thumbnail.
func Is(tags map[string]string) bool { return tags[Key] == Value }

// ByAgent reports whether a request's User-Agent is s3thumb's own (its
// writes are thumbnails; anybody else's are uploads).
func ByAgent(userAgent string) bool { return strings.Contains(userAgent, Agent) }

// Tagger reads an object's tags (store.Store does).
type Tagger interface {
	Tags(ctx context.Context, key string) (map[string]string, error)
}

// Check reads key's tags and reports whether it is a thumbnail. A missing
// object gives the store's not-found error.
func Check(ctx context.Context, t Tagger, key string) (bool, error) {
	tags, err := t.Tags(ctx, key)
	if err != nil {
		return false, fmt.Errorf("tags of %s: %w", key, err)
	}
	return Is(tags), nil
}

// Every thumbnail s3thumb stores records the original it was made of in
// its user metadata (x-amz-meta-s3thumb-source-key and -etag): the key and
// the ETag of the version read. Workers following a changed original, and
// `enqueue --stale-only`, compare them with the original stored now
// (MadeOf).
const (
	MetaSourceKey  = "s3thumb-source-key"
	MetaSourceETag = "s3thumb-source-etag"
)

// SourceMeta is the user metadata that records a thumbnail's original: its
// key and the ETag of the version read.
func SourceMeta(key, etag string) map[string]string {
	return map[string]string{MetaSourceKey: key, MetaSourceETag: etag}
}

// Version is what MadeOf compares of a stored object (store.Attrs.Version
// gives it).
type Version struct {
	Key, ETag    string
	LastModified time.Time
	// Metadata is the object's user metadata, names in lower case.
	Metadata map[string]string
}

// MadeOf reports whether the stored thumbnail thumb was made of the version
// of its original orig: the source it records, or, for a thumbnail that
// records none (written before thumbnails recorded it), whether it was
// written after the original.
func MadeOf(thumb, orig Version) bool {
	if etag := thumb.Metadata[MetaSourceETag]; etag != "" {
		return etag == orig.ETag && thumb.Metadata[MetaSourceKey] == orig.Key
	}
	return thumb.LastModified.After(orig.LastModified)
}
