package awssetup

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// LifecycleRuleID is the ID of s3thumb's lifecycle rule; rules with other
// IDs are never changed.
const LifecycleRuleID = "s3thumb-expire-thumbnails"

// Queue attribute values setup writes.
const (
	// longPollSeconds makes every receive a long poll by default.
	longPollSeconds = "20"
	// deadLetterRetention keeps dead jobs for SQS's maximum, 14 days, so
	// that someone can look at them.
	deadLetterRetention = "1209600"
)

// ErrConflict means the bucket is configured in a way s3thumb will not
// overwrite; the message says what to change.
var ErrConflict = errors.New("conflicting bucket configuration")

// State is what the bucket and queues have now. A nil field means there is
// none (or, for PublicAccessBlock, that the server has no such setting).
type State struct {
	BucketExists      bool
	LogBucketExists   bool
	PublicAccessBlock *types.PublicAccessBlockConfiguration
	Policy            *Policy
	Website           *types.WebsiteConfiguration
	Lifecycle         *types.BucketLifecycleConfiguration
	// LifecycleMinimumSize is the bucket's transition size setting, which
	// a lifecycle write must repeat to keep.
	LifecycleMinimumSize types.TransitionDefaultMinimumObjectSize
	Logging              *types.LoggingEnabled
	LogBucketPolicy      *Policy
	Queue                *QueueState
	DeadLetterQueue      *QueueState
	// Notification is the bucket's event notification configuration (read
	// with Config.Events).
	Notification *types.NotificationConfiguration
}

// QueueState is an existing queue.
type QueueState struct {
	URL        string
	Attributes map[string]string // all of them, as GetQueueAttributes returns
}

// arn is the queue's ARN, "" if unknown.
func (q *QueueState) arn() string {
	if q == nil {
		return ""
	}
	return q.Attributes["QueueArn"]
}

// Change is one thing setup changes (or, in a dry run, would change).
type Change struct {
	Part string `json:"part"` // "website", "policy", "lifecycle", ...
	What string `json:"what"`
}

func (c Change) String() string { return c.Part + ": " + c.What }

// QueuePlan is a queue and the attributes setup manages on it.
type QueuePlan struct {
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes"`
}

// Plan is every document setup writes, merged with what exists, and the
// changes from what exists. Its JSON is what --dry-run prints; each
// document is in the form the AWS CLI's matching put command reads.
type Plan struct {
	Bucket       string `json:"bucket"`
	CreateBucket bool   `json:"createBucket,omitempty"`
	// PublicAccessBlock is the bucket's block-public-access setting; nil
	// when it has none.
	PublicAccessBlock *types.PublicAccessBlockConfiguration `json:"publicAccessBlock,omitempty"`
	Policy            *Policy                               `json:"policy"`
	Website           *types.WebsiteConfiguration           `json:"website"`
	// Lifecycle is nil when the bucket has (and keeps) no lifecycle rules.
	Lifecycle *types.BucketLifecycleConfiguration `json:"lifecycle,omitempty"`
	// LifecycleMinimumSize is written back with the lifecycle rules (the
	// AWS CLI's --transition-default-minimum-object-size); empty: S3's
	// default.
	LifecycleMinimumSize types.TransitionDefaultMinimumObjectSize `json:"lifecycleTransitionDefaultMinimumObjectSize,omitempty"`
	// Logging is nil when logging is left alone.
	Logging         *types.BucketLoggingStatus `json:"logging,omitempty"`
	LogBucket       string                     `json:"logBucket,omitempty"`
	CreateLogBucket bool                       `json:"createLogBucket,omitempty"`
	LogBucketPolicy *Policy                    `json:"logBucketPolicy,omitempty"`
	// Queues are the dead-letter queue, then the job queue.
	Queues []QueuePlan `json:"queues,omitempty"`
	// QueuePolicy is the job queue's access policy (its Policy attribute)
	// and Notification the bucket's event notification configuration,
	// with Config.Events.
	QueuePolicy  *Policy                          `json:"queuePolicy,omitempty"`
	Notification *types.NotificationConfiguration `json:"notification,omitempty"`
	Changes      []Change                         `json:"changes"`

	// currentNotification is what the bucket had, for Apply to merge into
	// again once it knows the queue's ARN.
	currentNotification *types.NotificationConfiguration
}

// JSON renders the plan as --dry-run prints it. "changes" is always
// there, [] when there are none.
func (p Plan) JSON() ([]byte, error) {
	v, err := plain(p)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("encode plan: got %T, want an object", v)
	}
	if _, ok := m["changes"]; !ok {
		m["changes"] = []any{}
	}
	return encodeIndented(m)
}

func (p *Plan) change(part, format string, args ...any) {
	p.Changes = append(p.Changes, Change{Part: part, What: fmt.Sprintf(format, args...)})
}

// NewPlan works out the documents that make cur what cfg asks for, keeping
// everything in cur that s3thumb does not own. It makes no calls.
func NewPlan(cfg Config, cur State) (Plan, error) {
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	partition := Partition(cfg.Region)
	p := Plan{Bucket: cfg.Bucket}
	if !cur.BucketExists {
		if !cfg.CreateBucket {
			return Plan{}, fmt.Errorf("%w: %s", ErrNoBucket, cfg.Bucket)
		}
		p.CreateBucket = true
		p.change("bucket", "create %s in %s", cfg.Bucket, regionName(cfg.Region))
	}
	if cfg.LogBucket != "" && !cur.LogBucketExists {
		if !cfg.CreateBucket {
			return Plan{}, fmt.Errorf("log bucket: %w: %s", ErrNoBucket, cfg.LogBucket)
		}
		p.CreateLogBucket = true
		p.change("bucket", "create %s in %s (private, for the access logs)", cfg.LogBucket, regionName(cfg.Region))
	}
	p.planPublicAccess(cur.PublicAccessBlock)
	if err := p.planPolicy(cfg, partition, cur.Policy); err != nil {
		return Plan{}, err
	}
	if err := p.planWebsite(cfg, cur.Website); err != nil {
		return Plan{}, err
	}
	if err := p.planLifecycle(cfg, cur.Lifecycle); err != nil {
		return Plan{}, err
	}
	p.LifecycleMinimumSize = cur.LifecycleMinimumSize
	if cfg.LogBucket != "" {
		if err := p.planLogging(cfg, partition, cur.Logging, cur.LogBucketPolicy); err != nil {
			return Plan{}, err
		}
	}
	if cfg.Queue != "" {
		p.planQueues(cfg, partition, cur.DeadLetterQueue, cur.Queue)
	}
	if cfg.Events {
		curPolicy, err := queuePolicy(cur.Queue)
		if err != nil {
			return Plan{}, err
		}
		p.currentNotification = cur.Notification
		if err := p.planEvents(cfg, partition, queueARN(cfg, partition, cur.Queue), curPolicy, cur.Notification); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

func regionName(region string) string {
	if region == "" {
		return "the default region"
	}
	return region
}

// planPublicAccess turns off the two block-public-access settings that stop
// a public bucket policy from working; the ACL settings stay as they are
// (s3thumb uses no ACLs).
func (p *Plan) planPublicAccess(cur *types.PublicAccessBlockConfiguration) {
	if cur == nil {
		return
	}
	want := *cur
	if aws.ToBool(cur.BlockPublicPolicy) || aws.ToBool(cur.RestrictPublicBuckets) {
		want.BlockPublicPolicy = aws.Bool(false)
		want.RestrictPublicBuckets = aws.Bool(false)
		p.change("public access block", "allow a public bucket policy (BlockPublicPolicy and RestrictPublicBuckets off; the ACL settings are kept)")
	}
	p.PublicAccessBlock = &want
}

func (p *Plan) planPolicy(cfg Config, partition string, cur *Policy) error {
	want := publicStatements(partition, cfg.Bucket, cfg.PublicList)
	merged, err := mergeStatements(cur, want)
	if err != nil {
		return err
	}
	p.Policy = merged
	return p.diffStatements("policy", cur, merged)
}

// diffStatements records the changes to s3thumb's statements.
func (p *Plan) diffStatements(part string, cur, want *Policy) error {
	same, err := samePolicy(cur, want)
	if err != nil || same {
		return err
	}
	before := len(p.Changes)
	find := func(pol *Policy, id string) json.RawMessage {
		if pol == nil {
			return nil
		}
		for _, st := range pol.Statement {
			if sid(st) == id {
				return st
			}
		}
		return nil
	}
	for _, id := range ourSids {
		was, now := find(cur, id), find(want, id)
		switch {
		case was == nil && now != nil:
			p.change(part, "add statement %s (%s)", id, describeStatement(now))
		case was != nil && now == nil:
			p.change(part, "remove statement %s", id)
		case was != nil:
			a, b := &Policy{Statement: []json.RawMessage{was}}, &Policy{Statement: []json.RawMessage{now}}
			if same, err := samePolicy(a, b); err != nil {
				return err
			} else if !same {
				p.change(part, "update statement %s (%s)", id, describeStatement(now))
			}
		}
	}
	if len(p.Changes) == before {
		// Only the version or the layout differs.
		p.change(part, "rewrite the policy in normal form")
	}
	return nil
}

// describeStatement summarises one of s3thumb's statements.
func describeStatement(raw json.RawMessage) string {
	var st Statement
	if json.Unmarshal(raw, &st) != nil {
		return "unreadable"
	}
	who := "everyone"
	if m, ok := st.Principal.(map[string]any); ok {
		who = fmt.Sprint(m["Service"])
	}
	return fmt.Sprintf("%s may %v on %v", who, st.Action, st.Resource)
}

// isOurRoutingRule tells s3thumb's rule: a catch-all rule (no key prefix)
// on a miss (403 or 404). A bucket can only use one such rule, so any such
// rule is replaced by s3thumb's.
func isOurRoutingRule(r types.RoutingRule) bool {
	if r.Condition == nil || aws.ToString(r.Condition.KeyPrefixEquals) != "" {
		return false
	}
	code := aws.ToString(r.Condition.HttpErrorCodeReturnedEquals)
	return code == "403" || code == "404"
}

// missCode is the status S3 answers for a missing key.
func missCode(publicList bool) string {
	if publicList {
		return "404"
	}
	return "403"
}

func (p *Plan) planWebsite(cfg Config, cur *types.WebsiteConfiguration) error {
	redirect, err := ParseResponderURL(cfg.ResponderURL)
	if err != nil {
		return err
	}
	if cur != nil && cur.RedirectAllRequestsTo != nil {
		return fmt.Errorf("%w: the website of %s redirects every request to %s, so no routing rule can run: "+
			"remove that redirect first", ErrConflict, cfg.Bucket, aws.ToString(cur.RedirectAllRequestsTo.HostName))
	}
	ours := types.RoutingRule{
		Condition: &types.Condition{HttpErrorCodeReturnedEquals: aws.String(missCode(cfg.PublicList))},
		Redirect: &types.Redirect{
			Protocol:             types.Protocol(redirect.Protocol),
			HostName:             aws.String(redirect.HostName),
			ReplaceKeyPrefixWith: aws.String(redirect.KeyPrefix),
			HttpRedirectCode:     aws.String("302"),
		},
	}
	want := &types.WebsiteConfiguration{}
	var old *types.RoutingRule
	var dropped []types.RoutingRule
	if cur != nil {
		want.IndexDocument, want.ErrorDocument = cur.IndexDocument, cur.ErrorDocument
		for _, r := range cur.RoutingRules {
			switch {
			case !isOurRoutingRule(r):
				want.RoutingRules = append(want.RoutingRules, r)
			case old == nil:
				old = &r
				want.RoutingRules = append(want.RoutingRules, ours)
			default:
				dropped = append(dropped, r)
			}
		}
	}
	if old == nil {
		want.RoutingRules = append(want.RoutingRules, ours)
	}
	if len(want.RoutingRules) > MaxRoutingRules {
		return fmt.Errorf("%w: the website of %s has %d routing rules; S3 allows %d and s3thumb needs one",
			ErrConflict, cfg.Bucket, len(want.RoutingRules)-1, MaxRoutingRules)
	}
	switch {
	case cfg.IndexDocument != "":
		want.IndexDocument = &types.IndexDocument{Suffix: aws.String(cfg.IndexDocument)}
	case want.IndexDocument == nil:
		want.IndexDocument = &types.IndexDocument{Suffix: aws.String(DefaultIndexDocument)}
	}
	p.Website = want

	if cur == nil {
		p.change("website", "enable static website hosting (index document %s)", aws.ToString(want.IndexDocument.Suffix))
	} else if indexSuffix(cur) != aws.ToString(want.IndexDocument.Suffix) {
		p.change("website", "set the index document to %s", aws.ToString(want.IndexDocument.Suffix))
	}
	rule := fmt.Sprintf("%s → %s (302)", missCode(cfg.PublicList), redirect)
	switch same, err := sameDocument(old, &ours); {
	case err != nil:
		return err
	case old == nil:
		p.change("website", "add routing rule %s", rule)
	case !same:
		p.change("website", "replace routing rule %s with %s", describeRule(*old), rule)
	}
	for _, r := range dropped {
		p.change("website", "remove routing rule %s: s3thumb's rule handles misses", describeRule(r))
	}
	return nil
}

func indexSuffix(w *types.WebsiteConfiguration) string {
	if w == nil || w.IndexDocument == nil {
		return ""
	}
	return aws.ToString(w.IndexDocument.Suffix)
}

// describeRule summarises a catch-all routing rule.
func describeRule(r types.RoutingRule) string {
	code := aws.ToString(r.Condition.HttpErrorCodeReturnedEquals)
	if r.Redirect == nil {
		return code + " → nowhere"
	}
	proto := string(r.Redirect.Protocol)
	if proto == "" {
		proto = "http"
	}
	status := aws.ToString(r.Redirect.HttpRedirectCode)
	if status == "" {
		status = "301"
	}
	return fmt.Sprintf("%s → %s://%s/%sKEY (%s)", code, proto, aws.ToString(r.Redirect.HostName),
		aws.ToString(r.Redirect.ReplaceKeyPrefixWith), status)
}

// lifecycleRule is s3thumb's lifecycle rule, for cfg.ExpireDays > 0.
func lifecycleRule(cfg Config) types.LifecycleRule {
	return types.LifecycleRule{
		ID:     aws.String(LifecycleRuleID),
		Status: types.ExpirationStatusEnabled,
		Filter: &types.LifecycleRuleFilter{
			Tag: &types.Tag{Key: aws.String(cfg.ThumbnailTag.Key), Value: aws.String(cfg.ThumbnailTag.Value)},
		},
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(int32(min(cfg.ExpireDays, 1<<30)))},
	}
}

func (p *Plan) planLifecycle(cfg Config, cur *types.BucketLifecycleConfiguration) error {
	var want []types.LifecycleRule
	var old *types.LifecycleRule
	if cur != nil {
		for _, r := range cur.Rules {
			if aws.ToString(r.ID) != LifecycleRuleID {
				want = append(want, r)
				continue
			}
			if old == nil {
				old = &r
				if cfg.ExpireDays > 0 {
					want = append(want, lifecycleRule(cfg))
				}
			}
		}
	}
	if old == nil && cfg.ExpireDays > 0 {
		want = append(want, lifecycleRule(cfg))
	}
	if len(want) > 0 {
		p.Lifecycle = &types.BucketLifecycleConfiguration{Rules: want}
	}
	what := fmt.Sprintf("objects tagged %s=%s expire %d days after they were written",
		cfg.ThumbnailTag.Key, cfg.ThumbnailTag.Value, cfg.ExpireDays)
	switch {
	case old == nil && cfg.ExpireDays > 0:
		p.change("lifecycle", "add rule %s: %s", LifecycleRuleID, what)
	case old != nil && cfg.ExpireDays == 0:
		p.change("lifecycle", "remove rule %s: thumbnails no longer expire", LifecycleRuleID)
	case old != nil:
		rule := lifecycleRule(cfg)
		same, err := sameDocument(old, &rule)
		if err != nil {
			return err
		}
		if !same {
			p.change("lifecycle", "update rule %s: %s", LifecycleRuleID, what)
		}
	}
	return nil
}

func (p *Plan) planLogging(cfg Config, partition string, cur *types.LoggingEnabled, curLogPolicy *Policy) error {
	prefix := cfg.logPrefix()
	want := &types.LoggingEnabled{TargetBucket: aws.String(cfg.LogBucket), TargetPrefix: aws.String(prefix)}
	if cur != nil && aws.ToString(cur.TargetBucket) == cfg.LogBucket && aws.ToString(cur.TargetPrefix) == prefix {
		// Same place: keep the key format and grants chosen there.
		want.TargetObjectKeyFormat, want.TargetGrants = cur.TargetObjectKeyFormat, cur.TargetGrants
	}
	p.Logging = &types.BucketLoggingStatus{LoggingEnabled: want}
	p.LogBucket = cfg.LogBucket
	pol, err := mergeStatements(curLogPolicy, []Statement{loggingStatement(partition, cfg.LogBucket, prefix, cfg.Bucket)})
	if err != nil {
		return err
	}
	p.LogBucketPolicy = pol
	if err := p.diffStatements("log bucket policy", curLogPolicy, pol); err != nil {
		return err
	}
	switch {
	case cur == nil:
		p.change("logging", "send access logs to s3://%s/%s", cfg.LogBucket, prefix)
	case aws.ToString(cur.TargetBucket) != cfg.LogBucket || aws.ToString(cur.TargetPrefix) != prefix:
		p.change("logging", "send access logs to s3://%s/%s instead of s3://%s/%s",
			cfg.LogBucket, prefix, aws.ToString(cur.TargetBucket), aws.ToString(cur.TargetPrefix))
	}
	return nil
}

// queueAttributes are the attributes setup manages on the job queue, given
// its dead-letter queue's ARN.
func queueAttributes(cfg Config, dlqARN string) map[string]string {
	redrive, _ := json.Marshal(redrivePolicy{DeadLetterTargetArn: dlqARN, MaxReceiveCount: cfg.MaxReceives})
	return map[string]string{
		"VisibilityTimeout":             strconv.Itoa(int(cfg.VisibilityTimeout.Seconds())),
		"ReceiveMessageWaitTimeSeconds": longPollSeconds,
		"RedrivePolicy":                 string(redrive),
	}
}

// deadLetterAttributes are the attributes setup manages on the dead-letter
// queue.
func deadLetterAttributes() map[string]string {
	return map[string]string{"MessageRetentionPeriod": deadLetterRetention}
}

type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

// parseRedrive reads a redrive policy; SQS has written maxReceiveCount both
// as a number and as a string.
func parseRedrive(s string) (redrivePolicy, bool) {
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if json.Unmarshal([]byte(s), &raw) != nil {
		return redrivePolicy{}, false
	}
	n, err := strconv.Atoi(strings.Trim(string(raw.MaxReceiveCount), `"`))
	if err != nil {
		return redrivePolicy{}, false
	}
	return redrivePolicy{DeadLetterTargetArn: raw.DeadLetterTargetArn, MaxReceiveCount: n}, true
}

// changedAttributes returns the attributes of want whose value cur does
// not already have.
func changedAttributes(cur, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, w := range want {
		c, ok := cur[k]
		if ok && k == "RedrivePolicy" {
			cp, ok1 := parseRedrive(c)
			wp, ok2 := parseRedrive(w)
			if ok1 && ok2 && cp == wp {
				continue
			}
		} else if ok && c == w {
			continue
		}
		out[k] = w
	}
	return out
}

// deadLetterARN is the dead-letter queue's ARN: known when it exists,
// derived from the job queue's ARN when only that exists, else a template
// with the account left to fill in (setup learns it when it creates the
// queue).
func deadLetterARN(cfg Config, partition string, dlq, queue *QueueState) string {
	if arn := dlq.arn(); arn != "" {
		return arn
	}
	name := cfg.Queue + DLQSuffix
	if arn := queue.arn(); arn != "" {
		if i := strings.LastIndexByte(arn, ':'); i >= 0 {
			return arn[:i+1] + name
		}
	}
	region := cfg.Region
	if region == "" {
		region = "REGION"
	}
	return "arn:" + partition + ":sqs:" + region + ":ACCOUNT-ID:" + name
}

// queueARN is the job queue's ARN: known when it exists, else a template
// with the account left to fill in (setup learns it when it creates the
// queue).
func queueARN(cfg Config, partition string, queue *QueueState) string {
	if arn := queue.arn(); arn != "" {
		return arn
	}
	region := cfg.Region
	if region == "" {
		region = "REGION"
	}
	return "arn:" + partition + ":sqs:" + region + ":ACCOUNT-ID:" + cfg.Queue
}

func (p *Plan) planQueues(cfg Config, partition string, dlq, queue *QueueState) {
	dlqName := cfg.Queue + DLQSuffix
	dlqAttrs := deadLetterAttributes()
	attrs := queueAttributes(cfg, deadLetterARN(cfg, partition, dlq, queue))
	p.Queues = []QueuePlan{{Name: dlqName, Attributes: dlqAttrs}, {Name: cfg.Queue, Attributes: attrs}}
	p.planQueue(dlqName, dlq, dlqAttrs)
	p.planQueue(cfg.Queue, queue, attrs)
}

func (p *Plan) planQueue(name string, cur *QueueState, want map[string]string) {
	if cur == nil {
		p.change("queue", "create %s (%s)", name, describeAttributes(want))
		return
	}
	if diff := changedAttributes(cur.Attributes, want); len(diff) > 0 {
		p.change("queue", "set on %s: %s", name, describeAttributes(diff))
	}
}

// describeAttributes lists queue attributes in a stable order.
func describeAttributes(attrs map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		if rp, ok := parseRedrive(v); k == "RedrivePolicy" && ok {
			v = fmt.Sprintf("to %s after %d receives", rp.DeadLetterTargetArn, rp.MaxReceiveCount)
		}
		parts = append(parts, k+" "+v)
	}
	return strings.Join(parts, ", ")
}
