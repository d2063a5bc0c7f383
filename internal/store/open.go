package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// ErrBadURL means a store URL is not s3://BUCKET[/PREFIX] or file://DIR.
var ErrBadURL = errors.New("bad store URL (want s3://BUCKET[/PREFIX] or file://DIR)")

// Options configure the stores Open makes. The zero value suits Amazon S3
// with the standard AWS configuration (environment, shared config files,
// instance roles).
type Options struct {
	// S3Endpoint overrides the S3 endpoint, for S3-compatible servers
	// (e.g. "http://127.0.0.1:7070"). Empty: AWS's endpoint, or
	// AWS_ENDPOINT_URL(_S3) when set.
	S3Endpoint string
	// S3PathStyle addresses buckets as ENDPOINT/BUCKET/KEY instead of
	// BUCKET.ENDPOINT/KEY; most S3-compatible servers need it.
	S3PathStyle bool
	// Region overrides the region from the standard AWS configuration.
	Region string
	// HTTPClient sends the S3 requests; nil for the SDK's default. A client
	// given here brings its own TLS settings (AWS_CA_BUNDLE is not applied
	// to it).
	HTTPClient *http.Client
	// Credentials overrides the standard credential chain; nil to use it.
	Credentials aws.CredentialsProvider
}

// Location is a parsed store URL.
type Location struct {
	Scheme string // "s3" or "file"
	Bucket string // s3: the bucket
	Prefix string // s3: "" or a key prefix ending in "/"
	Dir    string // file: the directory, as written (may be relative)
}

// String formats the location as ParseURL reads it.
func (l Location) String() string {
	switch {
	case l.Scheme == "file":
		return "file://" + l.Dir
	case l.Prefix == "":
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + strings.TrimSuffix(l.Prefix, "/")
}

// ParseURL parses s3://BUCKET[/PREFIX] or file://DIR. The prefix is
// normalised to end in exactly one "/" (or to be empty); DIR is taken
// literally, so file://./data is the relative directory ./data and
// file:///srv/images the absolute /srv/images. Errors wrap ErrBadURL.
func ParseURL(rawURL string) (Location, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return Location{}, fmt.Errorf("%w: %q has no scheme", ErrBadURL, rawURL)
	}
	switch strings.ToLower(scheme) {
	case "s3":
		return parseS3(rawURL, rest)
	case "file":
		if rest == "" {
			return Location{}, fmt.Errorf("%w: %q names no directory", ErrBadURL, rawURL)
		}
		if strings.ContainsRune(rest, 0) {
			return Location{}, fmt.Errorf("%w: %q contains a NUL byte", ErrBadURL, rawURL)
		}
		return Location{Scheme: "file", Dir: rest}, nil
	}
	return Location{}, fmt.Errorf("%w: unsupported scheme %q in %q", ErrBadURL, scheme, rawURL)
}

func parseS3(rawURL, rest string) (Location, error) {
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := validBucket(bucket); err != nil {
		return Location{}, fmt.Errorf("%w: %q: %v", ErrBadURL, rawURL, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if strings.ContainsAny(prefix, "?#") {
			return Location{}, fmt.Errorf("%w: %q: prefix contains ? or #", ErrBadURL, rawURL)
		}
		if err := thumbkey.Validate(prefix); err != nil {
			return Location{}, fmt.Errorf("%w: %q: prefix: %v", ErrBadURL, rawURL, err)
		}
		prefix += "/"
	}
	return Location{Scheme: "s3", Bucket: bucket, Prefix: prefix}, nil
}

// validBucket accepts bucket names S3 or an S3-compatible server may use:
// 3 to 255 letters, digits, dots, hyphens and underscores (AWS's current
// rules are stricter; legacy buckets and other servers are not).
func validBucket(b string) error {
	if b == "" {
		return errors.New("no bucket")
	}
	if len(b) < 3 || len(b) > 255 {
		return fmt.Errorf("bucket %q must be 3 to 255 characters long", b)
	}
	for _, r := range b {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return fmt.Errorf("bucket %q contains %q (allowed: letters, digits, '.', '-', '_')", b, r)
		}
	}
	return nil
}

// Open opens the store a URL names: s3://BUCKET[/PREFIX] (Amazon S3 or, with
// opts.S3Endpoint, an S3-compatible server) or file://DIR (a local
// directory, which must exist). It does not contact S3: call Ping for that.
func Open(ctx context.Context, rawURL string, opts Options) (Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "file":
		return NewFile(loc.Dir)
	default:
		client, err := newS3Client(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", loc, err)
		}
		return NewS3(client, loc.Bucket, loc.Prefix), nil
	}
}
