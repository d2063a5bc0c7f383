package awssetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/s3thumb/s3thumb/internal/layout"
)

// Role is a part of s3thumb that runs under its own IAM identity.
type Role string

// The roles IAMPolicy knows.
const (
	RoleResponder Role = "responder" // s3thumb serve
	RoleWorker    Role = "worker"    // s3thumb work
	RoleAnalyzer  Role = "analyzer"  // the access log analyzer
	RoleSetup     Role = "setup"     // s3thumb setup itself
)

// Roles lists the roles in the order --help shows them.
func Roles() []Role { return []Role{RoleResponder, RoleWorker, RoleAnalyzer, RoleSetup} }

// ErrUnknownRole means IAMPolicy was asked for a role it does not know.
var ErrUnknownRole = errors.New("unknown role")

// IAMPolicy returns the least-privilege identity policy for a role, for the
// bucket, queue and log bucket of cfg. Only the fields the role needs must
// be set: Bucket always, Queue for the worker, LogBucket for the analyzer
// (and for a worker that reads the analyzer's popular classes).
func IAMPolicy(role Role, cfg Config) (*Policy, error) {
	if err := ValidBucket(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("%w: bucket: %w", ErrInvalidConfig, err)
	}
	part := Partition(cfg.Region)
	b := bucketARN(part, cfg.Bucket)
	queue, dlq := sqsARN(part, cfg.Region, cfg.Queue), sqsARN(part, cfg.Region, cfg.Queue+DLQSuffix)
	tagCond := map[string]any{"StringEquals": map[string]any{
		"s3:RequestObjectTag/" + cfg.ThumbnailTag.Key: cfg.ThumbnailTag.Value,
	}}
	// Making and storing thumbnails: the responder's and the worker's.
	thumbnails := []Statement{
		// Tags tell a thumbnail from an original (package thumbtag): a
		// refresh rewrites only a tagged object, an upload event of a key
		// named like a thumbnail is an original unless tagged.
		{Sid: "ReadOriginalsAndThumbnails", Effect: "Allow", Action: []string{"s3:GetObject", "s3:GetObjectTagging"}, Resource: b + "/*"},
		// Without ListBucket, S3 answers 403 instead of 404 for a missing
		// original, and the thumbnail cannot be told apart from a failure.
		{Sid: "TellMissingObjects", Effect: "Allow", Action: "s3:ListBucket", Resource: b},
		// Only objects tagged as thumbnails may be written: no original
		// can be created or replaced by an untagged write.
		{Sid: "StoreTaggedThumbnails", Effect: "Allow", Action: []string{"s3:PutObject", "s3:PutObjectTagging"},
			Resource: b + "/*", Condition: tagCond},
		// The thumbnails of a changed or deleted original go with it
		// (worker events, and a store-back that raced the change).
		deleteThumbnails("DeleteThumbnailsOfChangedOriginals", b),
	}
	var st []Statement
	switch role {
	case RoleResponder:
		st = thumbnails
	case RoleWorker:
		if err := needQueue(role, cfg); err != nil {
			return nil, err
		}
		st = append(thumbnails,
			Statement{Sid: "ReceiveJobs", Effect: "Allow", Resource: queue, Action: []string{
				"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"}},
			Statement{Sid: "DeadLetterJobs", Effect: "Allow", Resource: dlq, Action: []string{"sqs:GetQueueUrl", "sqs:SendMessage"}},
		)
		if cfg.LogBucket != "" {
			// work --state: the classes an upload event makes.
			st = append(st, Statement{Sid: "ReadPopularClasses", Effect: "Allow", Action: "s3:GetObject",
				Resource: bucketARN(part, cfg.LogBucket) + "/" + layout.StatePrefix + layout.PopularClasses})
		}
	case RoleAnalyzer:
		if err := ValidBucket(cfg.LogBucket); err != nil {
			return nil, fmt.Errorf("%w: the analyzer's policy needs the log bucket: %w", ErrInvalidConfig, err)
		}
		logs := bucketARN(part, cfg.LogBucket)
		prefix := cfg.logPrefix()
		st = []Statement{
			{Sid: "ListAccessLogs", Effect: "Allow", Action: "s3:ListBucket", Resource: logs,
				Condition: map[string]any{"StringLike": map[string]any{"s3:prefix": []string{prefix + "*", layout.StatePrefix + "*"}}}},
			{Sid: "ReadAccessLogs", Effect: "Allow", Action: "s3:GetObject", Resource: logs + "/" + prefix + "*"},
			{Sid: "KeepState", Effect: "Allow", Action: []string{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"},
				Resource: logs + "/" + layout.StatePrefix + "*"},
			// HEAD of thumbnails and originals, listing new originals.
			{Sid: "LookAtBucket", Effect: "Allow", Action: []string{"s3:GetObject", "s3:GetObjectTagging"}, Resource: b + "/*"},
			{Sid: "ListBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: b},
			// --delete-stale: thumbnails nobody reads.
			deleteThumbnails("DeleteStaleThumbnails", b),
		}
		if cfg.Queue != "" {
			if err := needQueue(role, cfg); err != nil {
				return nil, err
			}
			st = append(st, Statement{Sid: "SendJobs", Effect: "Allow", Resource: queue,
				Action: []string{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}})
		}
	case RoleSetup:
		st = []Statement{{Sid: "ConfigureBucket", Effect: "Allow", Resource: b, Action: []string{
			"s3:CreateBucket", "s3:GetBucketLogging", "s3:GetBucketPolicy", "s3:GetBucketPublicAccessBlock",
			"s3:GetBucketWebsite", "s3:GetLifecycleConfiguration", "s3:ListBucket", "s3:PutBucketLogging",
			"s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketWebsite", "s3:PutLifecycleConfiguration",
		}}}
		if cfg.Events {
			st[0].Action = append(st[0].Action.([]string), "s3:GetBucketNotification", "s3:PutBucketNotification")
		}
		if cfg.LogBucket != "" {
			st = append(st, Statement{Sid: "ConfigureLogBucket", Effect: "Allow", Resource: bucketARN(part, cfg.LogBucket),
				Action: []string{"s3:CreateBucket", "s3:GetBucketPolicy", "s3:ListBucket", "s3:PutBucketPolicy"}})
		}
		if cfg.Queue != "" {
			if err := needQueue(role, cfg); err != nil {
				return nil, err
			}
			st = append(st, Statement{Sid: "ConfigureQueues", Effect: "Allow", Resource: []string{queue, dlq}, Action: []string{
				"sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SetQueueAttributes"}})
		}
	default:
		names := make([]string, 0, len(Roles()))
		for _, r := range Roles() {
			names = append(names, string(r))
		}
		return nil, fmt.Errorf("%w %q: want %s", ErrUnknownRole, role, strings.Join(names, ", "))
	}
	p := &Policy{Version: PolicyVersion}
	for _, s := range st {
		raw, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("encode statement %s: %w", s.Sid, err)
		}
		p.Statement = append(p.Statement, raw)
	}
	return p, nil
}

// deleteThumbnails grants s3:DeleteObject on every object of the bucket b.
// IAM cannot narrow it to thumbnails: S3 does not evaluate
// s3:ExistingObjectTag for DELETE Object (nor for PUT Object: "When
// granting permissions for the PUT Object and DELETE Object operations,
// this condition key is not supported", S3 User Guide, Tagging and access
// control policies), so an Allow under that condition allows nothing. What
// keeps originals from being deleted is the code: every delete of a
// thumbnail reads the object's tag first and is conditional on the ETag it
// read (DeleteIfMatch), so an untagged object, or a version uploaded
// since, is never deleted. The README says so, and recommends versioning.
func deleteThumbnails(sid, b string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: "s3:DeleteObject", Resource: b + "/*"}
}

func needQueue(role Role, cfg Config) error {
	if cfg.Queue == "" {
		return fmt.Errorf("%w: the %s's policy needs the queue name", ErrInvalidConfig, role)
	}
	if !queueName.MatchString(cfg.Queue) {
		return fmt.Errorf("%w: queue %q: want letters, digits, - and _", ErrInvalidConfig, cfg.Queue)
	}
	return nil
}

// sqsARN is a queue's ARN in any account (and, when region is empty, any
// region): the queue name is what identifies it to s3thumb.
func sqsARN(partition, region, name string) string {
	if region == "" {
		region = "*"
	}
	return "arn:" + partition + ":sqs:" + region + ":*:" + name
}

// PolicyJSON renders a policy as indented JSON, statements' members in
// the usual order (Sid, Effect, Principal, Action, Resource, Condition).
func PolicyJSON(p *Policy) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	return buf.Bytes(), nil
}
