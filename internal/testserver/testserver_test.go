package testserver_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// putGet writes an object and reads it back through the server's S3 API.
func putGet(t *testing.T, srv *testserver.S3, bucket string) {
	t.Helper()
	ctx := testkit.Context(t, 2*time.Minute)
	client := srv.Client()
	body := []byte("hello from s3thumb")
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String("dir/hello world.txt"),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("text/plain"),
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String("dir/hello world.txt"),
	})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("body = %q, want %q", got, body)
	}
	if ct := aws.ToString(out.ContentType); ct != "text/plain" {
		t.Errorf("ContentType = %q, want text/plain", ct)
	}
}

func TestVersityGW(t *testing.T) {
	t.Parallel()
	srv := testserver.VersityGW(t)
	srv.CreateBucket(t, "bucket")
	putGet(t, srv, "bucket")

	// Credentials are checked: a wrong secret must be refused.
	bad := *srv
	bad.SecretKey = "wrong"
	_, err := bad.Client().HeadBucket(testkit.Context(t, 2*time.Minute), &s3.HeadBucketInput{Bucket: aws.String("bucket")})
	if err == nil {
		t.Error("HeadBucket with a wrong secret succeeded")
	}

	// With a website configuration and a public-read policy, the website
	// endpoint serves the bucket's objects under WebsiteHost.
	ctx := testkit.Context(t, 2*time.Minute)
	client := srv.Client()
	_, err = client.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{
		Bucket:               aws.String("bucket"),
		WebsiteConfiguration: &types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}},
	})
	if err != nil {
		t.Fatalf("PutBucketWebsite: %v", err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}`
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("bucket"), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("PutBucketPolicy: %v", err)
	}
	status, _, body := websiteGet(t, srv, "bucket", "/dir/hello%20world.txt")
	if status != http.StatusOK || body != "hello from s3thumb" {
		t.Errorf("website GET: %d %q, want 200 with the object", status, body)
	}
}

// websiteGet fetches path from bucket's website without following
// redirects, and returns the status, the Location header and the body.
func websiteGet(t *testing.T, srv *testserver.S3, bucket, path string) (status int, location, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testkit.Context(t, 2*time.Minute), http.MethodGet, srv.WebsiteEndpoint+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = srv.WebsiteHost(bucket)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("website request: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("website response: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

const redirectWebsite = `<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <IndexDocument><Suffix>index.html</Suffix></IndexDocument>
  <RoutingRules>
    <RoutingRule>
      <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
      <Redirect>
        <HostName>thumbs.example</HostName>
        <ReplaceKeyPrefixWith>resize?src=</ReplaceKeyPrefixWith>
        <HttpRedirectCode>302</HttpRedirectCode>
      </Redirect>
    </RoutingRule>
  </RoutingRules>
</WebsiteConfiguration>`

func TestS3rver(t *testing.T) {
	t.Parallel()
	srv := testserver.S3rver(t, "site", redirectWebsite)
	putGet(t, srv, "site")

	// A website request for a missing key is redirected as AWS does.
	status, location, _ := websiteGet(t, srv, "site", "/photos/earth_200x200.jpg")
	want := "http://thumbs.example/resize?src=photos/earth_200x200.jpg"
	if status != http.StatusFound || location != want {
		t.Errorf("website GET of a missing key: %d Location %q, want 302 %q", status, location, want)
	}
}

func TestFauxqs(t *testing.T) {
	t.Parallel()
	srv := testserver.Fauxqs(t)
	ctx := testkit.Context(t, 2*time.Minute)
	client := srv.Client()
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("make photos/earth_200x200.jpg")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "make photos/earth_200x200.jpg" {
		t.Fatalf("received %+v, want the one message sent", out.Messages)
	}
}

// TestStopsServer checks that a server does not outlive its test.
func TestStopsServer(t *testing.T) {
	t.Parallel()
	var endpoint string
	t.Run("server", func(t *testing.T) {
		endpoint = testserver.Fauxqs(t).Endpoint
	})
	if endpoint == "" {
		t.Skip("server did not start")
	}
	resp, err := http.Get(endpoint + "/health")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("server at %s still answers after its test ended: %s", endpoint, resp.Status)
	}
}
