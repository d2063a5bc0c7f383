package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

var _ Store = (*S3Store)(nil)

// defaultStorageClass is what S3 stores an object as when none is asked for.
const defaultStorageClass = string(types.StorageClassStandard)

// S3Store is a Store in an S3 bucket, under an optional key prefix. Keys
// that thumbkey.Validate refuses are never sent: reads of them give
// ErrNotFound, writes and deletes ErrInvalidKey, as in the file store.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
}

// NewS3 returns the store of the objects in bucket whose keys start with
// prefix ("" or ending in "/"). Keys given to and returned by the store are
// relative to the prefix.
func NewS3(client *s3.Client, bucket, prefix string) *S3Store {
	return &S3Store{client: client, bucket: bucket, prefix: prefix}
}

// newS3Client makes an S3 client from the standard AWS configuration
// (environment, shared files, instance roles) and the options.
func newS3Client(ctx context.Context, opts Options) (*s3.Client, error) {
	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.Credentials != nil {
		load = append(load, config.WithCredentialsProvider(opts.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region configured: set AWS_REGION or the store's region option")
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// "app/s3thumb" in every request's User-Agent: the access logs
		// tell s3thumb's thumbnail writes from uploads by it.
		o.AppID = thumbtag.Agent
		if opts.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.S3Endpoint)
		}
		o.UsePathStyle = opts.S3PathStyle
		if opts.HTTPClient != nil {
			// Set here rather than with config.WithHTTPClient, which
			// refuses a plain *http.Client when AWS_CA_BUNDLE is set.
			o.HTTPClient = opts.HTTPClient
		}
	}), nil
}

// String names the store as s3://BUCKET[/PREFIX].
func (s *S3Store) String() string {
	return Location{Scheme: "s3", Bucket: s.bucket, Prefix: s.prefix}.String()
}

func (s *S3Store) fullKey(key string) string { return s.prefix + key }

// Get opens an object.
func (s *S3Store) Get(ctx context.Context, key string) (*Object, error) {
	if err := thumbkey.Validate(key); err != nil {
		return nil, fmt.Errorf("get %s: %w: %w", key, ErrNotFound, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.fullKey(key)),
	})
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return &Object{
		Attrs: Attrs{
			Key:          key,
			Size:         aws.ToInt64(out.ContentLength),
			ContentType:  aws.ToString(out.ContentType),
			CacheControl: aws.ToString(out.CacheControl),
			ETag:         aws.ToString(out.ETag),
			LastModified: aws.ToTime(out.LastModified),
			StorageClass: storageClass(out.StorageClass),
			Metadata:     metadata(out.Metadata),
		},
		Body: out.Body,
	}, nil
}

// Head returns an object's attributes.
func (s *S3Store) Head(ctx context.Context, key string) (Attrs, error) {
	if err := thumbkey.Validate(key); err != nil {
		return Attrs{}, fmt.Errorf("head %s: %w: %w", key, ErrNotFound, err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.fullKey(key)),
	})
	if err != nil {
		return Attrs{}, s.fail("head", key, err)
	}
	return Attrs{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ContentType:  aws.ToString(out.ContentType),
		CacheControl: aws.ToString(out.CacheControl),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		StorageClass: storageClass(out.StorageClass),
		Metadata:     metadata(out.Metadata),
	}, nil
}

// Put writes an object with its attributes and tags in one request; with
// opts.IfNoneMatch it fails with ErrExists when the key is taken, with
// opts.IfMatch with ErrChanged when the object is not that version.
func (s *S3Store) Put(ctx context.Context, key string, body []byte, opts PutOptions) error {
	if err := thumbkey.Validate(key); err != nil {
		return fmt.Errorf("put %s: %w: %w", key, ErrInvalidKey, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.fullKey(key)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		in.CacheControl = aws.String(opts.CacheControl)
	}
	if opts.StorageClass != "" {
		in.StorageClass = types.StorageClass(opts.StorageClass)
	}
	if len(opts.Tags) > 0 {
		in.Tagging = aws.String(encodeTags(opts.Tags))
	}
	in.Metadata = encodeMetadata(opts.Metadata) // US-ASCII, as S3 wants it
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		in.IfMatch = aws.String(opts.IfMatch)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		if c := classify(err); opts.IfMatch != "" && (c == ErrExists || c == ErrNotFound) {
			// 412: another version; 404: none at all. Either way not the
			// version read.
			return fmt.Errorf("put %s/%s: %w: %w", s, key, ErrChanged, err)
		}
		return s.fail("put", key, err)
	}
	return nil
}

// encodeTags encodes a tag set as the x-amz-tagging header wants it: URL
// query parameters, in key order, with spaces as %20.
func encodeTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(queryEscape(k))
		b.WriteByte('=')
		b.WriteString(queryEscape(tags[k]))
	}
	return b.String()
}

// queryEscape escapes s for a query, spaces as %20 (a literal "+" is
// already escaped as %2B, so every "+" left is a space).
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Tags returns an object's tags.
func (s *S3Store) Tags(ctx context.Context, key string) (map[string]string, error) {
	if err := thumbkey.Validate(key); err != nil {
		return nil, fmt.Errorf("tags %s: %w: %w", key, ErrNotFound, err)
	}
	out, err := s.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.fullKey(key)),
	})
	if err != nil {
		return nil, s.fail("tags", key, err)
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// Delete removes an object; deleting a missing key is not an error.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := thumbkey.Validate(key); err != nil {
		return fmt.Errorf("delete %s: %w: %w", key, ErrInvalidKey, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.fullKey(key)),
	})
	if err != nil {
		err = s.fail("delete", key, err)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// DeleteIfMatch removes an object if it is still the version with etag.
func (s *S3Store) DeleteIfMatch(ctx context.Context, key, etag string) error {
	if err := thumbkey.Validate(key); err != nil {
		return fmt.Errorf("delete %s: %w: %w", key, ErrInvalidKey, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:  aws.String(s.bucket),
		Key:     aws.String(s.fullKey(key)),
		IfMatch: aws.String(etag),
	})
	switch c := classify(err); {
	case err == nil, c == ErrNotFound:
		return nil
	case c == ErrExists:
		return fmt.Errorf("delete %s/%s: %w: %w", s, key, ErrChanged, err)
	}
	return s.fail("delete", key, err)
}

// List calls fn for each object under prefix after startAfter, in key order.
func (s *S3Store) List(ctx context.Context, prefix, startAfter string, fn func(Attrs) error) error {
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.fullKey(prefix)),
	}
	if startAfter != "" {
		in.StartAfter = aws.String(s.fullKey(startAfter))
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s/%s: %w", s, prefix, err)
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), s.prefix)
			if !ok || key == "" {
				continue // not ours; S3 only answers keys under the prefix
			}
			err := fn(Attrs{
				Key:          key,
				Size:         aws.ToInt64(obj.Size),
				ETag:         aws.ToString(obj.ETag),
				LastModified: aws.ToTime(obj.LastModified),
				StorageClass: storageClass(types.StorageClass(obj.StorageClass)),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Ping checks that the bucket exists and the credentials may use it.
func (s *S3Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("ping %s: %w", s, err)
	}
	return nil
}

// storageClass reads back a storage class; S3 leaves it out for STANDARD.
func storageClass(c types.StorageClass) string {
	if c == "" {
		return defaultStorageClass
	}
	return string(c)
}

// fail wraps an S3 error with the operation and key, adding ErrNotFound or
// ErrExists where the error means that.
func (s *S3Store) fail(op, key string, err error) error {
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("%s %s/%s: %w: %w", op, s, key, sentinel, err)
	}
	return fmt.Errorf("%s %s/%s: %w", op, s, key, err)
}

// classify maps an S3 error to ErrNotFound (no such key), ErrExists (a
// conditional write lost: 412 PreconditionFailed, or 409
// ConditionalRequestConflict while another write of the key is in flight),
// ErrUnavailable (no answer: refused, reset, timed out; or 5xx, throttling)
// or nil.
func classify(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return ErrNotFound
		case "PreconditionFailed", "ConditionalRequestConflict":
			return ErrExists
		case "NoSuchBucket":
			return nil // a configuration error, not a missing object
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
			return ErrUnavailable
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		switch code := status.HTTPStatusCode(); {
		case code == http.StatusNotFound:
			return ErrNotFound
		case code == http.StatusPreconditionFailed:
			return ErrExists
		case code >= 500, code == http.StatusTooManyRequests:
			return ErrUnavailable
		}
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return ErrUnavailable
	}
	return nil
}
