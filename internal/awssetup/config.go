package awssetup

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// Defaults of Config.
const (
	DefaultExpireDays        = 30
	DefaultMaxReceives       = 5
	DefaultVisibilityTimeout = 2 * time.Minute
	// DefaultIndexDocument is the index document a website gets when it has
	// none: S3 requires one on every website configuration.
	DefaultIndexDocument = "index.html"
	// DLQSuffix is appended to the queue's name to name its dead-letter queue.
	DLQSuffix = "-dlq"
	// MaxRoutingRules is how many routing rules S3 allows on one bucket.
	MaxRoutingRules = 50
)

// ErrInvalidConfig means a Config cannot be set up; the message says which
// field and why.
var ErrInvalidConfig = errors.New("invalid setup configuration")

// Tag is an object tag.
type Tag struct{ Key, Value string }

// Config says what the bucket (and queue) should look like.
type Config struct {
	// Bucket is the bucket of originals and thumbnails, served as a static
	// website (named after its domain, e.g. images.example.com).
	Bucket string
	// ResponderURL is where the routing rule sends misses:
	// http(s)://HOST[:PORT][/PATH/]. Misses go to RESPONDER/resize?src=KEY.
	ResponderURL string
	// IndexDocument is the website's index document; empty keeps the
	// bucket's own, or DefaultIndexDocument when it has none.
	IndexDocument string
	// PublicList grants the public s3:ListBucket so that S3 answers 404 for
	// a missing key, and puts the routing rule on 404. Without it S3 answers
	// 403 for a missing key, so the rule is put on 403 (then every 403,
	// whatever its cause, goes to the responder).
	PublicList bool
	// ExpireDays expires objects tagged ThumbnailTag that many days after
	// they were written; 0 removes s3thumb's lifecycle rule.
	ExpireDays int
	// ThumbnailTag is the tag the responder and workers put on thumbnails.
	ThumbnailTag Tag
	// LogBucket receives the bucket's server access logs under LogPrefix;
	// empty leaves logging alone.
	LogBucket string
	// LogPrefix is the key prefix of the access logs; empty means
	// "BUCKET/".
	LogPrefix string
	// Queue names the job queue; empty leaves queues alone. Its dead-letter
	// queue is Queue+DLQSuffix.
	Queue string
	// MaxReceives is how often a job is delivered before it moves to the
	// dead-letter queue.
	MaxReceives int
	// VisibilityTimeout is how long a received job stays hidden from other
	// workers.
	VisibilityTimeout time.Duration
	// Events has the bucket send its s3:ObjectCreated:* and
	// s3:ObjectRemoved:* event notifications to Queue (which it needs),
	// and lets S3 send there (the queue's policy), merged with the
	// notification configurations and policy statements there are.
	Events bool
	// CreateBucket creates the bucket when it does not exist.
	CreateBucket bool
	// Region is the AWS region of the bucket and queue. It chooses the
	// partition of ARNs and the bucket's location when created.
	Region string
}

// DefaultConfig returns a Config with the defaults the command line shows.
// The thumbnail tag is the one the make-and-store path writes.
func DefaultConfig() Config {
	return Config{
		PublicList:        true,
		ExpireDays:        DefaultExpireDays,
		ThumbnailTag:      thumbnailTag(),
		MaxReceives:       DefaultMaxReceives,
		VisibilityTimeout: DefaultVisibilityTimeout,
	}
}

// thumbnailTag is the tag thumbnails get (package thumbtag).
func thumbnailTag() Tag { return Tag{Key: thumbtag.Key, Value: thumbtag.Value} }

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	if err := ValidBucket(c.Bucket); err != nil {
		return fmt.Errorf("%w: bucket: %w", ErrInvalidConfig, err)
	}
	if _, err := ParseResponderURL(c.ResponderURL); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.IndexDocument != "" && (strings.Contains(c.IndexDocument, "/") || strings.TrimSpace(c.IndexDocument) != c.IndexDocument) {
		return fmt.Errorf("%w: index document %q: want a name without slashes, like index.html", ErrInvalidConfig, c.IndexDocument)
	}
	if c.ExpireDays < 0 {
		return fmt.Errorf("%w: expire days %d: want 0 (no expiry) or more", ErrInvalidConfig, c.ExpireDays)
	}
	if c.ExpireDays > 0 && (c.ThumbnailTag.Key == "" || c.ThumbnailTag.Value == "") {
		return fmt.Errorf("%w: thumbnail tag %q=%q: expiry needs a tag key and value", ErrInvalidConfig, c.ThumbnailTag.Key, c.ThumbnailTag.Value)
	}
	if c.LogBucket != "" {
		if err := ValidBucket(c.LogBucket); err != nil {
			return fmt.Errorf("%w: log bucket: %w", ErrInvalidConfig, err)
		}
		if c.LogBucket == c.Bucket {
			return fmt.Errorf("%w: log bucket %q is the website bucket, whose objects the public may read: "+
				"access logs hold visitors' IP addresses, so send them to a separate, private bucket", ErrInvalidConfig, c.LogBucket)
		}
		if strings.HasPrefix(c.LogPrefix, "/") {
			return fmt.Errorf("%w: log prefix %q: must not start with /", ErrInvalidConfig, c.LogPrefix)
		}
	} else if c.LogPrefix != "" {
		return fmt.Errorf("%w: log prefix %q given without a log bucket", ErrInvalidConfig, c.LogPrefix)
	}
	if c.Events && c.Queue == "" {
		return fmt.Errorf("%w: events need the queue they are sent to (--queue)", ErrInvalidConfig)
	}
	if c.Queue != "" {
		if !queueName.MatchString(c.Queue) {
			return fmt.Errorf("%w: queue %q: want 1 to %d letters, digits, - and _ (its dead-letter queue adds %q)",
				ErrInvalidConfig, c.Queue, 80-len(DLQSuffix), DLQSuffix)
		}
		if c.MaxReceives < 1 || c.MaxReceives > 1000 {
			return fmt.Errorf("%w: max receives %d: want 1 to 1000", ErrInvalidConfig, c.MaxReceives)
		}
		if c.VisibilityTimeout < time.Second || c.VisibilityTimeout > 12*time.Hour || c.VisibilityTimeout%time.Second != 0 {
			return fmt.Errorf("%w: visibility timeout %v: want whole seconds from 1s to 12h", ErrInvalidConfig, c.VisibilityTimeout)
		}
	}
	return nil
}

// logPrefix is the access log prefix, defaulted.
func (c Config) logPrefix() string {
	if c.LogPrefix == "" {
		return c.Bucket + "/"
	}
	return c.LogPrefix
}

// queueName is what SQS allows as a standard queue's name, leaving room for
// the dead-letter suffix.
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,76}$`)

// bucketName is AWS's rule for new bucket names; bucket names are also DNS
// names, and website buckets are named after their domain.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidBucket checks a bucket name against S3's rules for new buckets.
func ValidBucket(name string) error {
	switch {
	case name == "":
		return errors.New("no bucket name")
	case !bucketName.MatchString(name):
		return fmt.Errorf("%q: want 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%q: two dots in a row", name)
	case isIPv4(name):
		return fmt.Errorf("%q: looks like an IP address", name)
	}
	return nil
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 {
			return false
		}
	}
	return true
}

// Redirect is where the routing rule sends a miss.
type Redirect struct {
	Protocol string // "http" or "https"
	HostName string // host, with ":PORT" when one was given
	// KeyPrefix replaces the empty prefix of the missing key: PATH/resize?src=
	KeyPrefix string
}

// hostLabel is one label of a DNS host name.
var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// safePath is what a responder URL's path may contain.
var safePath = regexp.MustCompile(`^[A-Za-z0-9._~/-]*$`)

// ParseResponderURL reads http(s)://HOST[:PORT][/PATH] into the redirect
// the routing rule makes. A miss for KEY goes to
// SCHEME://HOST[:PORT]/[PATH/]resize?src=KEY.
func ParseResponderURL(raw string) (Redirect, error) {
	bad := func(why string, args ...any) (Redirect, error) {
		return Redirect{}, fmt.Errorf("responder URL %q: %s", raw, fmt.Sprintf(why, args...))
	}
	if raw == "" {
		return bad("missing: want http://HOST or https://HOST, the address of the responder (s3thumb serve)")
	}
	if !strings.Contains(raw, "://") {
		return bad("no scheme: want http://%s or https://%s", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%v", errors.Unwrap(err))
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return bad("scheme %q: want http or https", u.Scheme)
	case u.User != nil:
		return bad("has user information; a redirect cannot carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("has a query or fragment; the routing rule adds ?src=KEY itself")
	case u.Hostname() == "":
		return bad("no host")
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		return bad("IPv6 literal hosts are not supported in S3 routing rules; use a host name")
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(host) > 253 {
		return bad("host name longer than 253 characters")
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return bad("%q is not a valid host name (letters, digits and hyphens between dots)", host)
		}
	}
	hostName := strings.ToLower(host)
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port %q: want 1 to 65535", p)
		}
		hostName += ":" + strconv.Itoa(n)
	}
	path := strings.Trim(u.EscapedPath(), "/")
	if !safePath.MatchString(path) || strings.Contains(path, "//") {
		return bad("path %q: only letters, digits and . _ ~ - / are allowed", u.Path)
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return bad("path %q: . and .. segments are not allowed", u.Path)
		}
	}
	prefix := "resize?src="
	if path != "" {
		prefix = path + "/" + prefix
	}
	return Redirect{Protocol: scheme, HostName: hostName, KeyPrefix: prefix}, nil
}

// String is the URL a miss for KEY is sent to, with KEY as a placeholder.
func (r Redirect) String() string {
	return r.Protocol + "://" + r.HostName + "/" + r.KeyPrefix + "KEY"
}
