// Package cdn drops changed thumbnails from a CDN's edge caches: after a
// worker has remade or deleted the thumbnails of a replaced or deleted
// original, CloudFront would go on serving the old ones until they expire
// (--cache-control's max-age) unless their paths are invalidated.
package cdn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// MaxPathsPerRequest is the most paths one CreateInvalidation request
// names. CloudFront takes up to 3,000 per invalidation in progress (and
// bills each path past the first 1,000 a month); one original has a few
// thumbnails, so a request stays far below.
const MaxPathsPerRequest = 100

// CloudFrontAPI is the CloudFront call an invalidator makes
// (*cloudfront.Client).
type CloudFrontAPI interface {
	CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, opts ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error)
}

var _ CloudFrontAPI = (*cloudfront.Client)(nil)

// CloudFront invalidates keys in one distribution.
type CloudFront struct {
	api            CloudFrontAPI
	distributionID string
	keyPrefix      string
}

// NewCloudFront returns an invalidator of the distribution distributionID,
// whose origin is the bucket: a key's path is "/" + keyPrefix + key
// (keyPrefix, the store's prefix in the bucket, may be "").
func NewCloudFront(api CloudFrontAPI, distributionID, keyPrefix string) (*CloudFront, error) {
	if err := ValidDistributionID(distributionID); err != nil {
		return nil, err
	}
	return &CloudFront{api: api, distributionID: distributionID, keyPrefix: keyPrefix}, nil
}

// ValidDistributionID checks that id can name a distribution in a request
// path: CloudFront's IDs are letters and digits (E2QWRUHAPOMQZL).
func ValidDistributionID(id string) error {
	if id == "" || strings.ContainsFunc(id, func(r rune) bool { return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
		return fmt.Errorf("CloudFront distribution ID %q: want letters and digits, such as E2QWRUHAPOMQZL", id)
	}
	return nil
}

// Path is the invalidation path of an object key: "/" and the key, each
// segment URL-escaped as CloudFront requires (spaces, non-ASCII
// characters and characters unsafe in a URL percent-encoded; "*", a
// wildcard in invalidation paths, too), so that it names the URL a page
// asks for.
func Path(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + strings.Join(segs, "/")
}

// Invalidate asks CloudFront to drop keys from its caches, in requests of
// at most MaxPathsPerRequest paths, each with a CallerReference of its
// own. It returns the errors of the requests that failed, joined.
func (c *CloudFront) Invalidate(ctx context.Context, keys []string) error {
	var errs []error
	for batch := range slices.Chunk(keys, MaxPathsPerRequest) {
		paths := make([]string, len(batch))
		for i, k := range batch {
			paths[i] = Path(c.keyPrefix + k)
		}
		ref, err := callerReference()
		if err != nil {
			return err
		}
		_, err = c.api.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
			DistributionId: aws.String(c.distributionID),
			InvalidationBatch: &types.InvalidationBatch{
				CallerReference: aws.String(ref),
				Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
			},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("invalidate %d paths in CloudFront distribution %s: %w", len(paths), c.distributionID, err))
		}
	}
	return errors.Join(errs...)
}

// callerReference is a new, unique CallerReference: CloudFront takes a
// request with a reference it has seen as a repeat of that one.
func callerReference() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("caller reference: %w", err)
	}
	return "s3thumb-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + hex.EncodeToString(b[:]), nil
}
