// Package awssetup makes an S3 bucket (and an SQS queue) ready for s3thumb
// in one idempotent step: static website hosting with a routing rule that
// sends misses to the responder, a bucket policy that lets the public read
// (and list), a lifecycle rule that expires tagged thumbnails, server access
// logging for the analyzer, and the job queue with its dead-letter queue.
//
// Each part is a document built as a Go value (NewPlan), merged with what
// the bucket already has (the routing rules, policy statements and lifecycle
// rules of others are kept; s3thumb's own are found by Sid, rule ID or
// shape), and compared in normal form with what is there, so that a second
// run finds nothing to change. Setup reads and applies through small
// interfaces over the S3 and SQS clients.
package awssetup

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// The S3 calls setup makes, one small interface per part.
type (
	bucketAPI interface {
		HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
		CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
		// ListObjectsV2 explains a HEAD refused without a reason: it needs
		// the same permission, and its answer has a body with the error.
		ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	}
	publicAccessAPI interface {
		GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
		PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	}
	policyAPI interface {
		GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
		PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	}
	websiteAPI interface {
		GetBucketWebsite(context.Context, *s3.GetBucketWebsiteInput, ...func(*s3.Options)) (*s3.GetBucketWebsiteOutput, error)
		PutBucketWebsite(context.Context, *s3.PutBucketWebsiteInput, ...func(*s3.Options)) (*s3.PutBucketWebsiteOutput, error)
	}
	lifecycleAPI interface {
		GetBucketLifecycleConfiguration(context.Context, *s3.GetBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error)
		PutBucketLifecycleConfiguration(context.Context, *s3.PutBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error)
		DeleteBucketLifecycle(context.Context, *s3.DeleteBucketLifecycleInput, ...func(*s3.Options)) (*s3.DeleteBucketLifecycleOutput, error)
	}
	loggingAPI interface {
		GetBucketLogging(context.Context, *s3.GetBucketLoggingInput, ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error)
		PutBucketLogging(context.Context, *s3.PutBucketLoggingInput, ...func(*s3.Options)) (*s3.PutBucketLoggingOutput, error)
	}
)

// S3API is every S3 call setup makes; *s3.Client implements it.
type S3API interface {
	bucketAPI
	publicAccessAPI
	policyAPI
	websiteAPI
	lifecycleAPI
	loggingAPI
	notificationAPI
}

// SQSAPI is every SQS call setup makes; *sqs.Client implements it.
type SQSAPI interface {
	GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(context.Context, *sqs.SetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
}

var (
	_ S3API  = (*s3.Client)(nil)
	_ SQSAPI = (*sqs.Client)(nil)
)

// Setup reads and changes a bucket and queues.
type Setup struct {
	S3  S3API
	SQS SQSAPI // needed only when Config.Queue is set
}

// Run reads what exists, plans, and unless dryRun applies the plan. It
// returns the plan: its Changes are what was changed (or, in a dry run,
// what would be); none means everything was already set up.
func (s Setup) Run(ctx context.Context, cfg Config, dryRun bool) (Plan, error) {
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	cur, err := s.Read(ctx, cfg)
	if err != nil {
		return Plan{}, err
	}
	plan, err := NewPlan(cfg, cur)
	if err != nil {
		return Plan{}, err
	}
	if dryRun || len(plan.Changes) == 0 {
		return plan, nil
	}
	return plan, s.Apply(ctx, cfg, plan)
}

// Read finds what the bucket, the log bucket and the queues have now. It
// only reads the parts cfg asks setup to manage.
func (s Setup) Read(ctx context.Context, cfg Config) (State, error) {
	var st State
	var err error
	if cfg.Queue != "" && s.SQS == nil {
		return st, errors.New("setup: a queue was asked for but there is no SQS client")
	}
	if st.BucketExists, err = s.bucketExists(ctx, cfg.Bucket, cfg.Region); err != nil {
		return st, err
	}
	switch {
	case st.BucketExists:
		if err := s.readBucket(ctx, cfg, &st); err != nil {
			return st, err
		}
	case !cfg.CreateBucket:
		return st, fmt.Errorf("%w: %s", ErrNoBucket, cfg.Bucket)
	}
	if cfg.LogBucket != "" {
		exists, err := s.bucketExists(ctx, cfg.LogBucket, cfg.Region)
		if err != nil {
			return st, err
		}
		st.LogBucketExists = exists
		switch {
		case exists:
			if st.LogBucketPolicy, err = s.readPolicy(ctx, "log bucket policy", cfg.LogBucket, cfg.Region); err != nil {
				return st, err
			}
		case !cfg.CreateBucket:
			return st, fmt.Errorf("log bucket: %w: %s (create it first, private, in the same region as %s)", ErrNoBucket, cfg.LogBucket, cfg.Bucket)
		}
	}
	if cfg.Queue != "" {
		if st.DeadLetterQueue, err = s.readQueue(ctx, cfg.Queue+DLQSuffix); err != nil {
			return st, err
		}
		if st.Queue, err = s.readQueue(ctx, cfg.Queue); err != nil {
			return st, err
		}
	}
	return st, nil
}

// bucketExists asks for a bucket, and checks it is in region (when both
// the bucket's and the wanted region are known).
func (s Setup) bucketExists(ctx context.Context, bucket, region string) (bool, error) {
	out, err := s.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		if wr := wrongRegion(bucket, region, err); wr != nil {
			return false, wr
		}
		if isCode(err, "NotFound", "NoSuchBucket") || httpStatus(err) == 404 {
			return false, nil
		}
		if code, _ := apiCode(err); httpStatus(err) == http.StatusForbidden && (code == "" || code == "Forbidden") {
			// A HEAD answer has no body to say why: refused credentials
			// and a denied action look the same. Ask again with a GET.
			_, lerr := s.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1)})
			if lerr != nil && httpStatus(lerr) == http.StatusForbidden {
				err = lerr
			}
		}
		return false, classify("bucket", "s3:ListBucket", bucketARN(Partition(region), bucket), err)
	}
	if got := aws.ToString(out.BucketRegion); got != "" && region != "" && got != region {
		return false, &WrongRegionError{Bucket: bucket, Region: got, Want: region}
	}
	return true, nil
}

func (s Setup) readBucket(ctx context.Context, cfg Config, st *State) error {
	b := aws.String(cfg.Bucket)
	arn := bucketARN(Partition(cfg.Region), cfg.Bucket)

	pab, err := s.S3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	switch {
	case err == nil:
		st.PublicAccessBlock = pab.PublicAccessBlockConfiguration
	case isCode(err, "NoSuchPublicAccessBlockConfiguration"):
	default:
		var ni *NotImplementedError
		if err = classify("public access block", "s3:GetBucketPublicAccessBlock", arn, err); !errors.As(err, &ni) {
			return err
		}
		// Only AWS has this setting; on other servers nothing blocks a public policy.
	}

	if st.Policy, err = s.readPolicy(ctx, "policy", cfg.Bucket, cfg.Region); err != nil {
		return err
	}

	web, err := s.S3.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	switch {
	case err == nil:
		st.Website = &s3types.WebsiteConfiguration{
			IndexDocument:         web.IndexDocument,
			ErrorDocument:         web.ErrorDocument,
			RedirectAllRequestsTo: web.RedirectAllRequestsTo,
			RoutingRules:          web.RoutingRules,
		}
	case isCode(err, "NoSuchWebsiteConfiguration"):
	default:
		return classify("website", "s3:GetBucketWebsite", arn, err)
	}

	lc, err := s.S3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	switch {
	case err == nil:
		if len(lc.Rules) > 0 {
			st.Lifecycle = &s3types.BucketLifecycleConfiguration{Rules: lc.Rules}
			st.LifecycleMinimumSize = lc.TransitionDefaultMinimumObjectSize
		}
	case isCode(err, "NoSuchLifecycleConfiguration"):
	default:
		var ni *NotImplementedError
		err = classify("lifecycle", "s3:GetLifecycleConfiguration", arn, err)
		if !errors.As(err, &ni) || cfg.ExpireDays > 0 {
			return err
		}
		// No lifecycle support and none wanted: there is no rule to remove.
	}

	if cfg.LogBucket != "" {
		lg, err := s.S3.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: b})
		if err != nil {
			return classify("logging", "s3:GetBucketLogging", arn, err)
		}
		st.Logging = lg.LoggingEnabled
	}
	if cfg.Events {
		return s.readEvents(ctx, cfg, st)
	}
	return nil
}

func (s Setup) readPolicy(ctx context.Context, part, bucket, region string) (*Policy, error) {
	out, err := s.S3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	switch {
	case err == nil:
		if aws.ToString(out.Policy) == "" {
			return nil, nil
		}
		p, err := ParsePolicy(aws.ToString(out.Policy))
		if err != nil {
			return nil, fmt.Errorf("%s of %s: %w", part, bucket, err)
		}
		return p, nil
	case isCode(err, "NoSuchBucketPolicy"):
		return nil, nil
	}
	return nil, classify(part, "s3:GetBucketPolicy", bucketARN(Partition(region), bucket), err)
}

// queueMissing reports whether err says a queue does not exist.
func queueMissing(err error) bool {
	var missing *sqstypes.QueueDoesNotExist
	return errors.As(err, &missing) || isCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
}

func (s Setup) readQueue(ctx context.Context, name string) (*QueueState, error) {
	u, err := s.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if queueMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("queue", "sqs:GetQueueUrl", name, err)
	}
	url := aws.ToString(u.QueueUrl)
	attrs, err := s.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return nil, classify("queue", "sqs:GetQueueAttributes", url, err)
	}
	return &QueueState{URL: url, Attributes: attrs.Attributes}, nil
}

// Apply makes the changes of a plan NewPlan made for cfg, in an order
// that works: bucket, public access, policy, website, lifecycle, log
// bucket policy, logging, dead-letter queue, queue. Parts without changes
// are not written.
func (s Setup) Apply(ctx context.Context, cfg Config, plan Plan) error {
	changed := map[string]bool{}
	for _, c := range plan.Changes {
		changed[c.Part] = true
	}
	b := aws.String(cfg.Bucket)
	arn := bucketARN(Partition(cfg.Region), cfg.Bucket)
	if plan.CreateBucket {
		if err := s.createBucket(ctx, cfg.Bucket, cfg.Region); err != nil {
			return err
		}
	}
	if changed["public access block"] {
		_, err := s.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: plan.PublicAccessBlock})
		if err != nil {
			return classify("public access block", "s3:PutBucketPublicAccessBlock", arn, err)
		}
	}
	if changed["policy"] {
		if _, err := s.S3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(plan.Policy.String())}); err != nil {
			return classify("policy", "s3:PutBucketPolicy", arn, err)
		}
	}
	if changed["website"] {
		if _, err := s.S3.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: plan.Website}); err != nil {
			return classify("website", "s3:PutBucketWebsite", arn, err)
		}
	}
	if changed["lifecycle"] {
		var err error
		if plan.Lifecycle == nil {
			_, err = s.S3.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b})
		} else {
			_, err = s.S3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
				LifecycleConfiguration: plan.Lifecycle, TransitionDefaultMinimumObjectSize: plan.LifecycleMinimumSize})
		}
		if err != nil {
			return classify("lifecycle", "s3:PutLifecycleConfiguration", arn, err)
		}
	}
	if plan.CreateLogBucket {
		if err := s.createBucket(ctx, cfg.LogBucket, cfg.Region); err != nil {
			return err
		}
	}
	if changed["log bucket policy"] {
		_, err := s.S3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(plan.LogBucket), Policy: aws.String(plan.LogBucketPolicy.String())})
		if err != nil {
			return classify("log bucket policy", "s3:PutBucketPolicy", bucketARN(Partition(cfg.Region), plan.LogBucket), err)
		}
	}
	if changed["logging"] {
		if _, err := s.S3.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: b, BucketLoggingStatus: plan.Logging}); err != nil {
			return classify("logging", "s3:PutBucketLogging", arn, err)
		}
	}
	jobQueueARN := ""
	if changed["queue"] {
		dlqARN, err := s.ensureQueue(ctx, cfg.Queue+DLQSuffix, deadLetterAttributes())
		if err != nil {
			return err
		}
		if jobQueueARN, err = s.ensureQueue(ctx, cfg.Queue, queueAttributes(cfg, dlqARN)); err != nil {
			return err
		}
	}
	if cfg.Events && (changed["queue policy"] || changed["events"]) {
		if jobQueueARN == "" {
			q, err := s.readQueue(ctx, cfg.Queue)
			if err != nil {
				return err
			}
			if jobQueueARN = q.arn(); jobQueueARN == "" {
				return fmt.Errorf("events: queue %s: the server returned no QueueArn", cfg.Queue)
			}
		}
		return s.applyEvents(ctx, cfg, plan, jobQueueARN)
	}
	return nil
}

func (s Setup) createBucket(ctx context.Context, bucket, region string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraint(region),
		}
	}
	_, err := s.S3.CreateBucket(ctx, in)
	switch {
	case err == nil, isCode(err, "BucketAlreadyOwnedByYou"):
		return nil
	case isCode(err, "BucketAlreadyExists"):
		return fmt.Errorf("bucket: %s belongs to another AWS account (bucket names are global): choose another name: %w", bucket, err)
	}
	return classify("bucket", "s3:CreateBucket", bucketARN(Partition(region), bucket), err)
}

// ensureQueue creates the queue with attrs, or sets those of attrs that
// differ on the existing queue. It returns the queue's ARN.
func (s Setup) ensureQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	cur, err := s.readQueue(ctx, name)
	if err != nil {
		return "", err
	}
	url := ""
	if cur == nil {
		out, err := s.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return "", classify("queue", "sqs:CreateQueue", name, err)
		}
		url = aws.ToString(out.QueueUrl)
	} else {
		url = cur.URL
		if diff := changedAttributes(cur.Attributes, attrs); len(diff) > 0 {
			if _, err := s.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: diff}); err != nil {
				return "", classify("queue", "sqs:SetQueueAttributes", url, err)
			}
		}
		if arn := cur.arn(); arn != "" {
			return arn, nil
		}
	}
	out, err := s.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", classify("queue", "sqs:GetQueueAttributes", url, err)
	}
	arn := out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("queue %s: the server returned no QueueArn", url)
	}
	return arn, nil
}
