package testserver

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Region is the region every test server and client uses.
const Region = "us-east-1"

// S3 is a running S3 server.
type S3 struct {
	// Endpoint is the S3 API's base URL, http://127.0.0.1:PORT; address
	// buckets path-style (Endpoint/BUCKET/KEY).
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string

	// WebsiteEndpoint is the base URL of the static-website endpoint.
	// Website requests go there with the Host header WebsiteHost(bucket),
	// e.g. for s3rver:
	//
	//	req, _ := http.NewRequest("GET", s.WebsiteEndpoint+"/photo_200x.jpg", nil)
	//	req.Host = s.WebsiteHost("bucket") // bucket.s3-website-us-east-1.amazonaws.com
	//
	// For s3rver it is Endpoint itself: requests with that Host header get
	// AWS's website behaviour (index documents, routing-rule redirects).
	// For versitygw it is a separate port, and only buckets whose policy
	// grants public s3:GetObject are served.
	WebsiteEndpoint string
	// WebsiteDomain is the domain website hosts are named under:
	// BUCKET.WebsiteDomain.
	WebsiteDomain string
}

// WebsiteHost is the Host header that addresses bucket's website.
func (s *S3) WebsiteHost(bucket string) string {
	return bucket + "." + s.WebsiteDomain
}

// Client returns an S3 client for the server: path-style addressing, static
// credentials, region us-east-1. Checksums are only computed where an
// operation requires them, which every server here understands.
func (s *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates a bucket, failing the test if it cannot.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %q on %s: %v", name, s.Endpoint, err)
	}
}

// Credentials of the versitygw servers started here.
const (
	versityAccessKey     = "s3thumb-test-access"
	versitySecretKey     = "s3thumb-test-secret"
	versityWebsiteDomain = "website.local"
)

// VersityGW starts a fresh versitygw (POSIX backend in a temporary
// directory) with its S3 API and its website endpoint on 127.0.0.1. It is
// stopped when the test ends.
func VersityGW(t testing.TB) *S3 {
	t.Helper()
	bin := tool(t, "bin", "versitygw")
	dir := t.TempDir()
	ports := start(t, command{
		name:  "versitygw",
		ports: 2,
		args: func(ports []int) []string {
			return []string{bin,
				"--port", "127.0.0.1:" + strconv.Itoa(ports[0]),
				"--access", versityAccessKey,
				"--secret", versitySecretKey,
				"--website", "127.0.0.1:" + strconv.Itoa(ports[1]),
				"--website-domain", versityWebsiteDomain,
				"--quiet",
				"posix", dir,
			}
		},
		urls: func(ports []int) []string {
			return []string{loopbackURL(ports[0]), loopbackURL(ports[1])}
		},
	})
	return &S3{
		Endpoint:        loopbackURL(ports[0]),
		Region:          Region,
		AccessKey:       versityAccessKey,
		SecretKey:       versitySecretKey,
		WebsiteEndpoint: loopbackURL(ports[1]),
		WebsiteDomain:   versityWebsiteDomain,
	}
}

// s3rver's fixed credentials and the website domain it recognises.
const (
	s3rverKey           = "S3RVER"
	s3rverWebsiteDomain = "s3-website-us-east-1.amazonaws.com"
)

// S3rver starts s3rver on 127.0.0.1 with one bucket, configured with
// websiteXML (a WebsiteConfiguration document; "" for none). s3rver answers
// website requests (see S3.WebsiteEndpoint) with AWS's redirect behaviour,
// which versitygw does not reproduce. It does not honour If-None-Match or
// the x-amz-tagging header: use VersityGW for those. It is stopped when the
// test ends.
func S3rver(t testing.TB, bucket, websiteXML string) *S3 {
	t.Helper()
	script := tool(t, "node", "node_modules", "s3rver", "bin", "s3rver.js")
	node := program(t, "node")
	dir := t.TempDir()
	configure := []string{"--configure-bucket", bucket}
	if websiteXML != "" {
		path := filepath.Join(t.TempDir(), "website.xml")
		if err := os.WriteFile(path, []byte(websiteXML), 0o600); err != nil {
			t.Fatalf("s3rver: write website configuration: %v", err)
		}
		configure = append(configure, path)
	}
	ports := start(t, command{
		name: "s3rver",
		args: func(ports []int) []string {
			return append([]string{node, script,
				"--directory", filepath.Join(dir, "data"),
				"--address", "127.0.0.1",
				"--port", strconv.Itoa(ports[0]),
			}, configure...)
		},
		// Without the legacy provider, paginated listings answer 500 on
		// Node 20: s3rver encrypts continuation tokens with DES.
		env:  func([]int) []string { return []string{"NODE_OPTIONS=--openssl-legacy-provider"} },
		urls: func(ports []int) []string { return []string{loopbackURL(ports[0])} },
	})
	endpoint := loopbackURL(ports[0])
	return &S3{
		Endpoint:        endpoint,
		Region:          Region,
		AccessKey:       s3rverKey,
		SecretKey:       s3rverKey,
		WebsiteEndpoint: endpoint,
		WebsiteDomain:   s3rverWebsiteDomain,
	}
}
