// Package accesslog reads the access logs s3thumb learns from: Amazon S3
// server access logs of every era (18 to 27 and more fields) and CloudFront
// standard logs (W3C, tab-separated, described by their #Fields header),
// plain or gzip, into one Record type.
//
// The S3 tokenizer is hand-written and streams: bracketed times, quoted
// fields with spaces (and the raw quotes S3 leaves in them), "-" for empty,
// URL-encoded keys, and any number of trailing fields. A line that cannot be
// read is a *ParseError wrapping ErrMalformed; a Reader counts and samples
// such lines and goes on. Parsing allocates nothing for values it has seen
// before (see Parser).
//
// AppendS3 and AppendCloudFront write records back in the same formats, for
// the local front's own access log and for the log generator.
package accesslog

import (
	"errors"
	"fmt"
	"time"
)

// ErrMalformed is wrapped by every error about a line that is not a record.
var ErrMalformed = errors.New("malformed log record")

// ParseError says which field of a line is wrong and why. It wraps
// ErrMalformed.
type ParseError struct {
	Field  string // "time", "http-status", "key", "fields", "line", ...
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrMalformed, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *ParseError) Unwrap() error { return ErrMalformed }

func malformed(field, reason string) error {
	return &ParseError{Field: field, Reason: reason}
}

// Format is the log format a record or a stream is in.
type Format uint8

// The formats this package reads.
const (
	FormatUnknown    Format = iota
	FormatS3                // Amazon S3 server access log
	FormatCloudFront        // CloudFront standard (W3C) log
)

func (f Format) String() string {
	switch f {
	case FormatS3:
		return "s3"
	case FormatCloudFront:
		return "cloudfront"
	}
	return "unknown"
}

// Operations the analyzer looks for. S3 writes REST.*, WEBSITE.*, BATCH.* and
// S3.* (lifecycle) operations; CloudFront records get CLOUDFRONT.<METHOD>.OBJECT.
const (
	OpRESTGetObject      = "REST.GET.OBJECT"
	OpRESTHeadObject     = "REST.HEAD.OBJECT"
	OpRESTPutObject      = "REST.PUT.OBJECT"
	OpRESTCopyObject     = "REST.COPY.OBJECT"
	OpRESTCopyObjectGet  = "REST.COPY.OBJECT_GET"
	OpRESTPostUpload     = "REST.POST.UPLOAD" // CompleteMultipartUpload
	OpRESTDeleteObject   = "REST.DELETE.OBJECT"
	OpBatchDeleteObject  = "BATCH.DELETE.OBJECT"
	OpWebsiteGetObject   = "WEBSITE.GET.OBJECT"
	OpWebsiteHeadObject  = "WEBSITE.HEAD.OBJECT"
	OpExpireObject       = "S3.EXPIRE.OBJECT"       // lifecycle expiration
	OpCreateDeleteMarker = "S3.CREATE.DELETEMARKER" // lifecycle expiration of a current version
	OpCloudFrontGet      = "CLOUDFRONT.GET.OBJECT"  // a CloudFront GET
	OpCloudFrontHead     = "CLOUDFRONT.HEAD.OBJECT" // a CloudFront HEAD
)

// Kind is what an operation does to an object, as far as the analyzer cares.
type Kind uint8

// Operation kinds.
const (
	KindOther  Kind = iota
	KindRead        // GET of an object: REST, website or CloudFront
	KindHead        // HEAD of an object
	KindWrite       // an object was written: PUT, COPY, completed multipart upload
	KindDelete      // an object was deleted by a request
	KindExpire      // an object was removed by a lifecycle rule
)

func (k Kind) String() string {
	switch k {
	case KindRead:
		return "read"
	case KindHead:
		return "head"
	case KindWrite:
		return "write"
	case KindDelete:
		return "delete"
	case KindExpire:
		return "expire"
	}
	return "other"
}

// KindOf classifies an operation name.
func KindOf(op string) Kind {
	switch op {
	case OpRESTGetObject, OpWebsiteGetObject, OpCloudFrontGet:
		return KindRead
	case OpRESTHeadObject, OpWebsiteHeadObject, OpCloudFrontHead:
		return KindHead
	case OpRESTPutObject, OpRESTCopyObject, OpRESTPostUpload:
		return KindWrite
	case OpRESTDeleteObject, OpBatchDeleteObject:
		return KindDelete
	case OpExpireObject, OpCreateDeleteMarker:
		return KindExpire
	}
	return KindOther
}

// Record is one request from an access log. String fields hold "" where the
// log has "-". No field refers to the line it was parsed from: a Record stays
// valid after the line's buffer is reused.
type Record struct {
	Format Format
	// Fields is the number of fields the line had: 18, 24, 25, 26, 27 or more
	// for S3 (the era of the format), the number of columns for CloudFront.
	Fields int

	BucketOwner string
	// Bucket is the bucket; for CloudFront, the distribution's domain, cs(Host).
	Bucket    string
	Time      time.Time // when the request was received (S3) or answered (CloudFront), UTC
	RemoteIP  string
	Requester string
	// RequestID identifies the request: S3's request ID, CloudFront's
	// x-edge-request-id. A record delivered twice has the same one.
	RequestID string
	// RequestIDHash is HashPart(HashStart, RequestID), filled instead of
	// RequestID by a Parser that skips FieldRequestID (0: no request ID).
	RequestIDHash uint64
	// ClientHash is ClientOf(RemoteIP, UserAgent), and Crawler whether the
	// agent is a crawler's, filled instead of RemoteIP by a Parser that
	// skips FieldRemoteIP (whatever it does with the agent): who asked,
	// without a string per client.
	ClientHash uint64
	Crawler    bool
	// KeyHash is the hash Parser.Keys gave Key (0 without Keys).
	KeyHash   uint64
	Operation string // REST.GET.OBJECT, WEBSITE.GET.OBJECT, S3.EXPIRE.OBJECT, CLOUDFRONT.GET.OBJECT, ...
	// Key is the object key, decoded ("" when the request names none). For
	// CloudFront it is cs-uri-stem without its leading '/'.
	Key string
	// RequestURI is the request line, "GET /bucket/key HTTP/1.1". Filled
	// only by a Parser with Full set: it is unique per record.
	RequestURI string
	HTTPStatus int // 0 when the log has "-" (S3) or "000" (CloudFront: the viewer left)
	ErrorCode  string
	BytesSent  int64
	ObjectSize int64
	TotalTime  time.Duration // request in flight (S3 total time; CloudFront time-taken)
	TurnAround time.Duration // S3 turn-around time
	Referer    string
	UserAgent  string
	VersionID  string
	// HostID is S3's x-amz-id-2. Filled only by a Parser with Full set.
	HostID           string
	SignatureVersion string
	CipherSuite      string
	AuthType         string
	HostHeader       string
	TLSVersion       string
	AccessPointARN   string
	ACLRequired      string
	SourceRegion     string
	// EdgeResult is CloudFront's x-edge-result-type: Hit, RefreshHit, Miss,
	// Error, ...; "" for S3.
	EdgeResult string
}

// Kind classifies the record's operation.
func (r *Record) Kind() Kind { return KindOf(r.Operation) }
