package awssetup

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// countingS3 is a real S3 client that counts the calls that change
// something, to prove a run changed nothing.
type countingS3 struct {
	S3API
	writes atomic.Int32
}

func (c *countingS3) CreateBucket(ctx context.Context, in *s3.CreateBucketInput, o ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	c.writes.Add(1)
	return c.S3API.CreateBucket(ctx, in, o...)
}

func (c *countingS3) PutPublicAccessBlock(ctx context.Context, in *s3.PutPublicAccessBlockInput, o ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	c.writes.Add(1)
	return c.S3API.PutPublicAccessBlock(ctx, in, o...)
}

func (c *countingS3) PutBucketPolicy(ctx context.Context, in *s3.PutBucketPolicyInput, o ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error) {
	c.writes.Add(1)
	return c.S3API.PutBucketPolicy(ctx, in, o...)
}

func (c *countingS3) PutBucketWebsite(ctx context.Context, in *s3.PutBucketWebsiteInput, o ...func(*s3.Options)) (*s3.PutBucketWebsiteOutput, error) {
	c.writes.Add(1)
	return c.S3API.PutBucketWebsite(ctx, in, o...)
}

func (c *countingS3) PutBucketLifecycleConfiguration(ctx context.Context, in *s3.PutBucketLifecycleConfigurationInput, o ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error) {
	c.writes.Add(1)
	return c.S3API.PutBucketLifecycleConfiguration(ctx, in, o...)
}

func (c *countingS3) DeleteBucketLifecycle(ctx context.Context, in *s3.DeleteBucketLifecycleInput, o ...func(*s3.Options)) (*s3.DeleteBucketLifecycleOutput, error) {
	c.writes.Add(1)
	return c.S3API.DeleteBucketLifecycle(ctx, in, o...)
}

func (c *countingS3) PutBucketLogging(ctx context.Context, in *s3.PutBucketLoggingInput, o ...func(*s3.Options)) (*s3.PutBucketLoggingOutput, error) {
	c.writes.Add(1)
	return c.S3API.PutBucketLogging(ctx, in, o...)
}

// countingSQS counts the SQS calls that change something.
type countingSQS struct {
	SQSAPI
	writes atomic.Int32
}

func (c *countingSQS) CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, o ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	c.writes.Add(1)
	return c.SQSAPI.CreateQueue(ctx, in, o...)
}

func (c *countingSQS) SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, o ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	c.writes.Add(1)
	return c.SQSAPI.SetQueueAttributes(ctx, in, o...)
}

// testConfig is a configuration for bucket on a test server.
func testConfig(bucket string) Config {
	cfg := DefaultConfig()
	cfg.Bucket = bucket
	cfg.ResponderURL = "http://imgpro.example.com"
	cfg.Region = testserver.Region
	return cfg
}

// mustRun runs setup and fails the test on an error.
func mustRun(t *testing.T, s Setup, cfg Config) Plan {
	t.Helper()
	plan, err := s.Run(testkit.Context(t, 2*time.Minute), cfg, false)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return plan
}

// assertNoChanges runs setup again and checks it finds nothing to change
// and writes nothing.
func assertNoChanges(t *testing.T, client S3API, queues SQSAPI, cfg Config) {
	t.Helper()
	cs := &countingS3{S3API: client}
	s := Setup{S3: cs}
	var cq *countingSQS
	if queues != nil {
		cq = &countingSQS{SQSAPI: queues}
		s.SQS = cq
	}
	plan := mustRun(t, s, cfg)
	if len(plan.Changes) != 0 {
		t.Errorf("second run changes %v, want none", plan.Changes)
	}
	if n := cs.writes.Load(); n != 0 {
		t.Errorf("second run made %d S3 writes, want 0", n)
	}
	if cq != nil && cq.writes.Load() != 0 {
		t.Errorf("second run made %d SQS writes, want 0", cq.writes.Load())
	}
}

func parts(plan Plan) []string {
	var out []string
	for _, c := range plan.Changes {
		if !slices.Contains(out, c.Part) {
			out = append(out, c.Part)
		}
	}
	return out
}

func websiteOf(t *testing.T, c *s3.Client, bucket string) *s3.GetBucketWebsiteOutput {
	t.Helper()
	out, err := c.GetBucketWebsite(testkit.Context(t, 2*time.Minute), &s3.GetBucketWebsiteInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("get website: %v", err)
	}
	return out
}

func policyOf(t *testing.T, c *s3.Client, bucket string) map[string]json.RawMessage {
	t.Helper()
	out, err := c.GetBucketPolicy(testkit.Context(t, 2*time.Minute), &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("get policy: %v", err)
	}
	p, err := ParsePolicy(aws.ToString(out.Policy))
	if err != nil {
		t.Fatal(err)
	}
	bySid := map[string]json.RawMessage{}
	for _, st := range p.Statement {
		bySid[sid(st)] = st
	}
	return bySid
}

// websiteGet asks the server's website endpoint for key.
func websiteGet(t *testing.T, srv *testserver.S3, bucket, key string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(testkit.Context(t, 2*time.Minute), http.MethodGet, srv.WebsiteEndpoint+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = srv.WebsiteHost(bucket)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("website GET %s: %v", key, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("website GET %s: %d %s %s", key, resp.StatusCode, resp.Header.Get("Location"), body)
	return resp.StatusCode
}

// TestSetupWebsiteAndPolicyOnVersity sets up the website and the policy of
// a bucket that already has a routing rule and a policy statement of its
// own, checks both are kept, that a second run changes nothing, and that
// switching to --no-public-list moves the rule to 403 and drops the list
// grant.
func TestSetupWebsiteAndPolicyOnVersity(t *testing.T) {
	srv := testserver.VersityGW(t)
	// No dots: versitygw's website endpoint cannot read a dotted bucket
	// name from the Host header.
	const bucket = "images-example"
	srv.CreateBucket(t, bucket)
	client := srv.Client()
	ctx := testkit.Context(t, 2*time.Minute)

	docsRule := s3types.RoutingRule{
		Condition: &s3types.Condition{KeyPrefixEquals: aws.String("docs/")},
		Redirect:  &s3types.Redirect{ReplaceKeyPrefixWith: aws.String("documents/")},
	}
	if _, err := client.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String(bucket), WebsiteConfiguration: &s3types.WebsiteConfiguration{
		IndexDocument: &s3types.IndexDocument{Suffix: aws.String("home.html")},
		ErrorDocument: &s3types.ErrorDocument{Key: aws.String("error.html")},
		RoutingRules:  []s3types.RoutingRule{docsRule},
	}}); err != nil {
		t.Fatal(err)
	}
	other := `{"Sid":"TeamRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::images-example/team/*"}`
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[` + other + `]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kleiber.jpg"),
		Body: strings.NewReader("not really a jpeg")}); err != nil {
		t.Fatal(err)
	}
	if code := websiteGet(t, srv, bucket, "kleiber.jpg"); code != http.StatusForbidden {
		t.Fatalf("before setup the website answers %d, want 403 (nothing public yet)", code)
	}

	cfg := testConfig(bucket)
	cfg.ExpireDays = 0 // versitygw has no lifecycle configuration
	plan := mustRun(t, Setup{S3: client}, cfg)
	if got, want := parts(plan), []string{"policy", "website"}; !slices.Equal(got, want) {
		t.Errorf("changed parts %v, want %v (changes: %v)", got, want, plan.Changes)
	}

	web := websiteOf(t, client, bucket)
	if got := aws.ToString(web.IndexDocument.Suffix); got != "home.html" {
		t.Errorf("index document %q, want the bucket's own home.html kept", got)
	}
	if web.ErrorDocument == nil || aws.ToString(web.ErrorDocument.Key) != "error.html" {
		t.Errorf("error document %+v, want error.html kept", web.ErrorDocument)
	}
	if len(web.RoutingRules) != 2 {
		t.Fatalf("%d routing rules, want the bucket's own and s3thumb's", len(web.RoutingRules))
	}
	if got := aws.ToString(web.RoutingRules[0].Condition.KeyPrefixEquals); got != "docs/" {
		t.Errorf("first rule is for %q, want the bucket's docs/ rule kept in place", got)
	}
	ours := web.RoutingRules[1]
	if got := aws.ToString(ours.Condition.HttpErrorCodeReturnedEquals); got != "404" {
		t.Errorf("s3thumb's rule is on %q, want 404 (public list is on)", got)
	}
	r := ours.Redirect
	if aws.ToString(r.HostName) != "imgpro.example.com" || r.Protocol != s3types.ProtocolHttp ||
		aws.ToString(r.ReplaceKeyPrefixWith) != "resize?src=" || aws.ToString(r.HttpRedirectCode) != "302" {
		t.Errorf("redirect %s %s %s %s, want http imgpro.example.com resize?src= 302", r.Protocol,
			aws.ToString(r.HostName), aws.ToString(r.ReplaceKeyPrefixWith), aws.ToString(r.HttpRedirectCode))
	}

	pol := policyOf(t, client, bucket)
	for _, id := range []string{"TeamRead", SidPublicRead, SidPublicList} {
		if _, ok := pol[id]; !ok {
			t.Errorf("policy has no statement %s", id)
		}
	}
	if string(pol["TeamRead"]) != other {
		t.Errorf("the bucket's own statement changed:\n%s\nwant\n%s", pol["TeamRead"], other)
	}
	if code := websiteGet(t, srv, bucket, "kleiber.jpg"); code != http.StatusOK {
		t.Errorf("after setup the website answers %d for an object, want 200 (public read)", code)
	}

	assertNoChanges(t, client, nil, cfg)

	cfg.PublicList = false
	plan = mustRun(t, Setup{S3: client}, cfg)
	if got, want := parts(plan), []string{"policy", "website"}; !slices.Equal(got, want) {
		t.Errorf("--no-public-list changed parts %v, want %v", got, want)
	}
	web = websiteOf(t, client, bucket)
	if len(web.RoutingRules) != 2 || aws.ToString(web.RoutingRules[1].Condition.HttpErrorCodeReturnedEquals) != "403" {
		t.Errorf("after --no-public-list the rules are %+v, want the docs/ rule and s3thumb's on 403", web.RoutingRules)
	}
	pol = policyOf(t, client, bucket)
	if _, ok := pol[SidPublicList]; ok {
		t.Error("the public list statement is still there after --no-public-list")
	}
	if _, ok := pol["TeamRead"]; !ok {
		t.Error("the bucket's own statement was dropped")
	}
	assertNoChanges(t, client, nil, cfg)
}

// TestSetupRoutingRuleRedirectsLikeAWS puts the website document setup
// builds on s3rver, which redirects as AWS does, and checks a missing
// thumbnail is sent to the responder.
func TestSetupRoutingRuleRedirectsLikeAWS(t *testing.T) {
	const bucket = "images.example.com"
	srv := testserver.S3rver(t, bucket, "")
	cfg := testConfig(bucket)
	cfg.ResponderURL = "https://imgpro.example.com:8443/thumbs/"
	plan, err := NewPlan(cfg, State{BucketExists: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testkit.Context(t, 2*time.Minute)
	if _, err := srv.Client().PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String(bucket), WebsiteConfiguration: plan.Website}); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.WebsiteEndpoint+"/photos/earth_200x200.jpg", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = srv.WebsiteHost(bucket)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://imgpro.example.com:8443/thumbs/resize?src=photos/earth_200x200.jpg"
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("miss answered %d Location %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestSetupLifecycleNotImplemented checks that a server without lifecycle
// support gives an error that says so, and that --expire-days 0 works
// there.
func TestSetupLifecycleNotImplemented(t *testing.T) {
	srv := testserver.VersityGW(t)
	const bucket = "images.example.com"
	srv.CreateBucket(t, bucket)
	cfg := testConfig(bucket)
	_, err := Setup{S3: srv.Client()}.Run(testkit.Context(t, 2*time.Minute), cfg, false)
	var ni *NotImplementedError
	if !errors.As(err, &ni) || ni.Part != "lifecycle" {
		t.Fatalf("error %v, want a NotImplementedError for the lifecycle", err)
	}
	if want := "lifecycle: the server does not implement s3:GetLifecycleConfiguration (501 NotImplemented)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	cfg.ExpireDays = 0
	mustRun(t, Setup{S3: srv.Client()}, cfg)
}

// TestSetupLifecycleLoggingAndPublicAccessOnMoto covers the parts versitygw
// lacks: the lifecycle rule merged with an unrelated existing rule, access
// logging with the log bucket's policy, and the block-public-access
// setting.
func TestSetupLifecycleLoggingAndPublicAccessOnMoto(t *testing.T) {
	srv := testserver.Moto(t)
	const bucket, logBucket = "images.example.com", "example-logs"
	srv.CreateBucket(t, bucket)
	srv.CreateBucket(t, logBucket)
	client := srv.Client()
	ctx := testkit.Context(t, 2*time.Minute)

	unrelated := s3types.LifecycleRule{
		ID:         aws.String("expire-uploads"),
		Status:     s3types.ExpirationStatusEnabled,
		Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("uploads/tmp/")},
		Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(2)},
	}
	if _, err := client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{unrelated}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		}}); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(bucket)
	cfg.LogBucket = logBucket
	cfg.LogPrefix = "s3/images/"
	plan := mustRun(t, Setup{S3: client}, cfg)
	want := []string{"public access block", "policy", "website", "lifecycle", "log bucket policy", "logging"}
	if got := parts(plan); !slices.Equal(got, want) {
		t.Errorf("changed parts %v, want %v", got, want)
	}

	rules := lifecycleRules(t, client, bucket)
	if len(rules) != 2 {
		t.Fatalf("%d lifecycle rules, want the unrelated one and s3thumb's", len(rules))
	}
	if aws.ToString(rules[0].ID) != "expire-uploads" || aws.ToString(rules[0].Filter.Prefix) != "uploads/tmp/" ||
		aws.ToInt32(rules[0].Expiration.Days) != 2 {
		t.Errorf("unrelated rule changed: %s", mustJSON(t, rules[0]))
	}
	ours := rules[1]
	if aws.ToString(ours.ID) != LifecycleRuleID || ours.Filter == nil || ours.Filter.Tag == nil ||
		aws.ToString(ours.Filter.Tag.Key) != "thumbnail" || aws.ToString(ours.Filter.Tag.Value) != "yes" ||
		aws.ToInt32(ours.Expiration.Days) != DefaultExpireDays || ours.Status != s3types.ExpirationStatusEnabled {
		t.Errorf("s3thumb's rule is %s, want tag thumbnail=yes expiring after %d days", mustJSON(t, ours), DefaultExpireDays)
	}

	lg, err := client.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if lg.LoggingEnabled == nil || aws.ToString(lg.LoggingEnabled.TargetBucket) != logBucket ||
		aws.ToString(lg.LoggingEnabled.TargetPrefix) != "s3/images/" {
		t.Errorf("logging %s, want to %s/s3/images/", mustJSON(t, lg.LoggingEnabled), logBucket)
	}
	if _, ok := policyOf(t, client, logBucket)[SidLogging]; !ok {
		t.Errorf("log bucket policy has no %s statement", SidLogging)
	}
	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	c := pab.PublicAccessBlockConfiguration
	if aws.ToBool(c.BlockPublicPolicy) || aws.ToBool(c.RestrictPublicBuckets) || !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.IgnorePublicAcls) {
		t.Errorf("public access block %s, want policies allowed and ACLs still blocked", mustJSON(t, c))
	}

	assertNoChanges(t, client, nil, cfg)

	t.Run("expiry changed", func(t *testing.T) {
		cfg := cfg
		cfg.ExpireDays = 7
		plan := mustRun(t, Setup{S3: client}, cfg)
		if got := parts(plan); !slices.Equal(got, []string{"lifecycle"}) {
			t.Errorf("changed parts %v, want [lifecycle]", got)
		}
		rules := lifecycleRules(t, client, bucket)
		if len(rules) != 2 || aws.ToInt32(rules[1].Expiration.Days) != 7 {
			t.Errorf("rules %s, want s3thumb's at 7 days", mustJSON(t, rules))
		}
	})
	t.Run("expiry off keeps the other rule", func(t *testing.T) {
		cfg := cfg
		cfg.ExpireDays = 0
		mustRun(t, Setup{S3: client}, cfg)
		rules := lifecycleRules(t, client, bucket)
		if len(rules) != 1 || aws.ToString(rules[0].ID) != "expire-uploads" {
			t.Errorf("rules %s, want only the unrelated one", mustJSON(t, rules))
		}
	})
	t.Run("expiry off with no other rule deletes the configuration", func(t *testing.T) {
		const solo = "solo.example.com"
		srv.CreateBucket(t, solo)
		cfg := testConfig(solo)
		mustRun(t, Setup{S3: client}, cfg)
		if n := len(lifecycleRules(t, client, solo)); n != 1 {
			t.Fatalf("%d rules, want s3thumb's", n)
		}
		cfg.ExpireDays = 0
		mustRun(t, Setup{S3: client}, cfg)
		_, err := client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(solo)})
		if !isCode(err, "NoSuchLifecycleConfiguration") {
			t.Errorf("lifecycle after removing the only rule: %v, want NoSuchLifecycleConfiguration", err)
		}
	})
}

func lifecycleRules(t *testing.T, c *s3.Client, bucket string) []s3types.LifecycleRule {
	t.Helper()
	out, err := c.GetBucketLifecycleConfiguration(testkit.Context(t, 2*time.Minute), &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("get lifecycle: %v", err)
	}
	return out.Rules
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := indentJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSetupBucketErrorsOnMoto checks the errors for a missing bucket, a
// bucket created on request, and a bucket in another region.
func TestSetupBucketErrorsOnMoto(t *testing.T) {
	srv := testserver.Moto(t)
	client := srv.Client()
	ctx := testkit.Context(t, 2*time.Minute)

	cfg := testConfig("missing.example.com")
	if _, err := (Setup{S3: client}).Run(ctx, cfg, false); !errors.Is(err, ErrNoBucket) {
		t.Errorf("missing bucket: error %v, want ErrNoBucket", err)
	}

	cfg.LogBucket = "missing-logs"
	if _, err := (Setup{S3: client}).Run(ctx, cfg, false); !errors.Is(err, ErrNoBucket) {
		t.Errorf("missing bucket and log bucket: error %v, want ErrNoBucket", err)
	}
	cfg.CreateBucket = true
	plan, err := Setup{S3: client}.Run(ctx, cfg, true)
	if err != nil || !plan.CreateBucket || !plan.CreateLogBucket {
		t.Fatalf("dry run with create: plan.CreateBucket %v, CreateLogBucket %v, error %v", plan.CreateBucket, plan.CreateLogBucket, err)
	}
	for _, b := range []string{cfg.Bucket, cfg.LogBucket} {
		if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)}); err == nil {
			t.Fatalf("a dry run created %s", b)
		}
	}
	mustRun(t, Setup{S3: client}, cfg)
	lg, err := client.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil || lg.LoggingEnabled == nil || aws.ToString(lg.LoggingEnabled.TargetBucket) != cfg.LogBucket {
		t.Errorf("logging of the created bucket: %v, error %v; want into the created log bucket", lg, err)
	}
	assertNoChanges(t, client, nil, cfg)

	const far = "far.example.com"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(far),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}}); err != nil {
		t.Fatal(err)
	}
	_, err = Setup{S3: client}.Run(ctx, testConfig(far), false)
	var wr *WrongRegionError
	if !errors.As(err, &wr) || wr.Region != "eu-west-1" || wr.Want != testserver.Region {
		t.Errorf("bucket in eu-west-1: error %v, want a WrongRegionError naming eu-west-1", err)
	}
}

// TestSetupQueuesOnFauxqs creates the job queue and its dead-letter queue,
// checks the redrive really moves a job after MaxReceives deliveries, that
// a second run changes nothing, and that a new MaxReceives is applied.
func TestSetupQueuesOnFauxqs(t *testing.T) {
	s3srv := testserver.VersityGW(t)
	const bucket = "images.example.com"
	s3srv.CreateBucket(t, bucket)
	q := testserver.Fauxqs(t)
	sq := q.Client()
	ctx := testkit.Context(t, 2*time.Minute)

	cfg := testConfig(bucket)
	cfg.ExpireDays = 0
	cfg.Queue = "s3thumb-jobs"
	cfg.MaxReceives = 2
	cfg.VisibilityTimeout = 90 * time.Second
	plan := mustRun(t, Setup{S3: s3srv.Client(), SQS: sq}, cfg)
	var queueChanges []string
	for _, c := range plan.Changes {
		if c.Part == "queue" {
			queueChanges = append(queueChanges, c.What)
		}
	}
	if len(queueChanges) != 2 || !strings.HasPrefix(queueChanges[0], "create s3thumb-jobs-dlq") || !strings.HasPrefix(queueChanges[1], "create s3thumb-jobs ") {
		t.Errorf("queue changes %q, want the dead-letter queue created, then the queue", queueChanges)
	}

	dlq := queueState(t, sq, "s3thumb-jobs-dlq")
	main := queueState(t, sq, "s3thumb-jobs")
	if got := dlq.Attributes["MessageRetentionPeriod"]; got != deadLetterRetention {
		t.Errorf("dead-letter retention %q, want %s", got, deadLetterRetention)
	}
	if got := main.Attributes["VisibilityTimeout"]; got != "90" {
		t.Errorf("visibility timeout %q, want 90", got)
	}
	rp, ok := parseRedrive(main.Attributes["RedrivePolicy"])
	if !ok || rp.DeadLetterTargetArn != dlq.arn() || rp.MaxReceiveCount != 2 {
		t.Errorf("redrive policy %q, want to %s after 2 receives", main.Attributes["RedrivePolicy"], dlq.arn())
	}

	// The redrive is live: a job received twice and never deleted moves to
	// the dead-letter queue.
	if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(main.URL), MessageBody: aws.String(`{"v":1}`)}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(main.URL), VisibilityTimeout: 1,
			WaitTimeSeconds: 5, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"ApproximateReceiveCount"}})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receive %d: %d messages, error %v", i+1, len(out.Messages), err)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(main.URL), WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("third receive: %d messages, error %v; want none (moved to the dead-letter queue)", len(out.Messages), err)
	}
	dead, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq.URL), WaitTimeSeconds: 5})
	if err != nil || len(dead.Messages) != 1 || aws.ToString(dead.Messages[0].Body) != `{"v":1}` {
		t.Fatalf("dead-letter queue: %d messages, error %v; want the job", len(dead.Messages), err)
	}

	assertNoChanges(t, s3srv.Client(), sq, cfg)

	cfg.MaxReceives = 4
	plan = mustRun(t, Setup{S3: s3srv.Client(), SQS: sq}, cfg)
	if len(plan.Changes) != 1 || plan.Changes[0].What != "set on s3thumb-jobs: RedrivePolicy to "+dlq.arn()+" after 4 receives" {
		t.Errorf("changes %v, want only the redrive policy of s3thumb-jobs", plan.Changes)
	}
	rp, _ = parseRedrive(queueState(t, sq, "s3thumb-jobs").Attributes["RedrivePolicy"])
	if rp.MaxReceiveCount != 4 {
		t.Errorf("maxReceiveCount %d after the update, want 4", rp.MaxReceiveCount)
	}
	assertNoChanges(t, s3srv.Client(), sq, cfg)
}

func queueState(t *testing.T, c *sqs.Client, name string) *QueueState {
	t.Helper()
	st, err := Setup{SQS: c}.readQueue(testkit.Context(t, 2*time.Minute), name)
	if err != nil || st == nil {
		t.Fatalf("queue %s: %+v, error %v", name, st, err)
	}
	return st
}

// TestSetupDryRunChangesNothing runs a dry run on a bare bucket and checks
// it reports every part and writes nothing.
func TestSetupDryRunChangesNothing(t *testing.T) {
	srv := testserver.Moto(t)
	const bucket = "images.example.com"
	srv.CreateBucket(t, bucket)
	cs := &countingS3{S3API: srv.Client()}
	cfg := testConfig(bucket)
	plan, err := Setup{S3: cs}.Run(testkit.Context(t, 2*time.Minute), cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := parts(plan), []string{"policy", "website", "lifecycle"}; !slices.Equal(got, want) {
		t.Errorf("dry run reports parts %v, want %v", got, want)
	}
	if n := cs.writes.Load(); n != 0 {
		t.Errorf("dry run made %d writes", n)
	}
	if _, err := srv.Client().GetBucketWebsite(testkit.Context(t, 2*time.Minute), &s3.GetBucketWebsiteInput{Bucket: aws.String(bucket)}); !isCode(err, "NoSuchWebsiteConfiguration") {
		t.Errorf("website after a dry run: %v, want none", err)
	}
}

// countingS3 counts notification writes too.
func (c *countingS3) PutBucketNotificationConfiguration(ctx context.Context, in *s3.PutBucketNotificationConfigurationInput, o ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error) {
	c.writes.Add(1)
	return c.S3API.PutBucketNotificationConfiguration(ctx, in, o...)
}

// TestSetupEventsOnMoto: setup --events on moto's S3 and SQS adds one
// queue configuration for s3thumb's events beside a topic and a queue
// configuration of someone else's (and the EventBridge setting), merges a
// statement letting S3 send from this bucket into the queue's policy
// beside one already there, changes nothing when run again, and replaces
// the configuration the README's manual commands used to write. An upload
// then puts on the queue an event the workers read.
func TestSetupEventsOnMoto(t *testing.T) {
	srv := testserver.Moto(t)
	const bucket = "images.example.com"
	srv.CreateBucket(t, bucket)
	ctx := testkit.Context(t, 2*time.Minute)
	sq := sqs.NewFromConfig(aws.Config{Region: srv.Region, Credentials: srv.Client().Options().Credentials},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.Endpoint) })
	// The job queue as setup makes it, without events.
	cfg := testConfig(bucket)
	cfg.ExpireDays = 0
	cfg.Queue = "s3thumb-jobs"
	mustRun(t, Setup{S3: srv.Client(), SQS: sq}, cfg)
	jobs := queueState(t, sq, "s3thumb-jobs")
	jobsARN := jobs.arn()
	// Someone else's queue, topic and policy statement. (The policy is
	// set after setup's queue attributes: moto drops a queue's policy when
	// other attributes are set, which AWS does not.)
	if _, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("audit")}); err != nil {
		t.Fatal(err)
	}
	otherARN := queueState(t, sq, "audit").arn()
	theirs := `{"Version":"2012-10-17","Statement":[{"Sid":"Monitoring","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sqs:GetQueueAttributes","Resource":"` + jobsARN + `"}]}`
	if _, err := sq.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(jobs.URL), Attributes: map[string]string{"Policy": theirs}}); err != nil {
		t.Fatal(err)
	}
	// moto does not keep the EventBridge setting; TestMergeNotification
	// checks it is kept.
	existing := &s3types.NotificationConfiguration{
		QueueConfigurations: []s3types.QueueConfiguration{{Id: aws.String("audit-deletes"), QueueArn: aws.String(otherARN),
			Events: []s3types.Event{"s3:ObjectRemoved:*"}, Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{
				FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String("private/")}}}}}},
		TopicConfigurations: []s3types.TopicConfiguration{{Id: aws.String("uploads-topic"), TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:uploads"),
			Events: []s3types.Event{"s3:ObjectCreated:*"}}},
	}
	if _, err := srv.Client().PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket), NotificationConfiguration: existing}); err != nil {
		t.Fatal(err)
	}

	cfg.Events = true
	plan := mustRun(t, Setup{S3: srv.Client(), SQS: sq}, cfg)
	if got := parts(plan); !slices.Equal(got, []string{"queue policy", "events"}) {
		t.Errorf("changes %v: want the queue policy and events only", plan.Changes)
	}
	checkEvents := func() {
		t.Helper()
		n, err := srv.Client().GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var ours []s3types.QueueConfiguration
		for _, q := range n.QueueConfigurations {
			if aws.ToString(q.QueueArn) == jobsARN {
				ours = append(ours, q)
			}
		}
		if len(ours) != 1 || aws.ToString(ours[0].Id) != NotificationID ||
			!slices.Equal(ours[0].Events, []s3types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}) {
			t.Errorf("queue configurations for the job queue: %+v; want one, %s, created and removed", ours, NotificationID)
		}
		if len(n.QueueConfigurations) != 2 || aws.ToString(n.QueueConfigurations[0].Id) != "audit-deletes" || n.QueueConfigurations[0].Filter == nil {
			t.Errorf("the audit queue configuration was not kept as it was: %+v", n.QueueConfigurations)
		}
		if len(n.TopicConfigurations) != 1 || aws.ToString(n.TopicConfigurations[0].Id) != "uploads-topic" {
			t.Errorf("the topic configuration was not kept: %+v", n.TopicConfigurations)
		}
		pol, err := ParsePolicy(queueState(t, sq, "s3thumb-jobs").Attributes["Policy"])
		if err != nil {
			t.Fatal(err)
		}
		var sids []string
		for _, raw := range pol.Statement {
			sids = append(sids, sid(raw))
			var st struct {
				Effect, Action, Resource string
				Principal                struct{ Service string }
				Condition                struct{ ArnLike map[string]string }
			}
			if sid(raw) == SidS3Events && (json.Unmarshal(raw, &st) != nil || st.Effect != "Allow" || st.Action != "sqs:SendMessage" ||
				st.Resource != jobsARN || st.Principal.Service != "s3.amazonaws.com" || st.Condition.ArnLike["aws:SourceArn"] != "arn:aws:s3:::"+bucket) {
				t.Errorf("statement %s: want S3 to send to %s from %s only", raw, jobsARN, bucket)
			}
		}
		if !slices.Equal(sids, []string{"Monitoring", SidS3Events}) {
			t.Errorf("queue policy statements %q, want the one there and s3thumb's", sids)
		}
	}
	checkEvents()
	assertNoChanges(t, srv.Client(), sq, cfg)

	// The configuration the README's commands wrote is replaced, not
	// doubled (S3 refuses overlapping configurations).
	legacy := *existing
	legacy.QueueConfigurations = append(slices.Clone(existing.QueueConfigurations), s3types.QueueConfiguration{Id: aws.String("s3thumb-uploads"),
		QueueArn: aws.String(jobsARN), Events: []s3types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}})
	if _, err := srv.Client().PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket), NotificationConfiguration: &legacy}); err != nil {
		t.Fatal(err)
	}
	if plan := mustRun(t, Setup{S3: srv.Client(), SQS: sq}, cfg); !slices.Equal(parts(plan), []string{"events"}) {
		t.Errorf("over the README's configuration: changes %v, want events only", plan.Changes)
	}
	checkEvents()
	assertNoChanges(t, srv.Client(), sq, cfg)

	// moto delivers to its own SQS: an upload reaches the job queue as an
	// event the workers decode.
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("photos/new earth.jpg"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	testkit.WaitFor(t, 20*time.Second, "the upload's event on the job queue", func() bool {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(jobs.URL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			ups, err := queue.DecodeS3Event([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Errorf("message %s: %v", aws.ToString(m.Body), err)
			}
			for _, u := range ups {
				got = append(got, u.Bucket+"/"+u.Key)
			}
		}
		return len(got) > 0
	})
	if !slices.Equal(got, []string{bucket + "/photos/new earth.jpg"}) {
		t.Errorf("events received %q, want the upload of photos/new earth.jpg", got)
	}
}
