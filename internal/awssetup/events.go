package awssetup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// NotificationID is the Id of s3thumb's queue configuration in the
// bucket's notification configuration; configurations with other Ids are
// kept as they are.
const NotificationID = "s3thumb-events"

// legacyNotificationIDs are the Ids the README's manual commands gave
// s3thumb's queue configuration before setup wrote it: found, they are
// replaced by NotificationID's (S3 refuses two configurations of the same
// events without filters).
var legacyNotificationIDs = []string{"s3thumb-uploads"}

// notificationEvents are the events workers answer: an original uploaded
// (again) or removed.
var notificationEvents = []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}

// SidS3Events is the Sid of the queue policy statement that lets S3 send
// the bucket's events to the job queue.
const SidS3Events = "S3thumbS3Events"

// s3Service is the principal that sends event notifications.
const s3Service = "s3.amazonaws.com"

// notificationAPI reads and writes the bucket's event notifications.
type notificationAPI interface {
	GetBucketNotificationConfiguration(context.Context, *s3.GetBucketNotificationConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error)
	PutBucketNotificationConfiguration(context.Context, *s3.PutBucketNotificationConfigurationInput, ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error)
}

// eventsStatement lets S3 send the bucket's events to the queue queueARN,
// and only that bucket's.
func eventsStatement(partition, bucket, queueARN string) Statement {
	return Statement{
		Sid:       SidS3Events,
		Effect:    "Allow",
		Principal: map[string]string{"Service": s3Service},
		Action:    "sqs:SendMessage",
		Resource:  queueARN,
		Condition: map[string]any{"ArnLike": map[string]string{"aws:SourceArn": bucketARN(partition, bucket)}},
	}
}

// isOurNotification reports whether a queue configuration is s3thumb's:
// by Id, or one without a filter that already sends to the job queue.
func isOurNotification(q types.QueueConfiguration, queueARN string) bool {
	id := aws.ToString(q.Id)
	return id == NotificationID || slices.Contains(legacyNotificationIDs, id) ||
		(aws.ToString(q.QueueArn) == queueARN && q.Filter == nil)
}

// mergeNotification returns cur with s3thumb's queue configuration set to
// send notificationEvents to queueARN, where the first of ours stood (or
// appended); every other queue, topic and Lambda configuration and the
// EventBridge setting are kept. changed is false when cur already has it.
func mergeNotification(cur *types.NotificationConfiguration, queueARN string) (out *types.NotificationConfiguration, changed bool, err error) {
	ours := types.QueueConfiguration{Id: aws.String(NotificationID), QueueArn: aws.String(queueARN), Events: slices.Clone(notificationEvents)}
	out = &types.NotificationConfiguration{}
	var found []types.QueueConfiguration
	if cur != nil {
		out.TopicConfigurations = cur.TopicConfigurations
		out.LambdaFunctionConfigurations = cur.LambdaFunctionConfigurations
		out.EventBridgeConfiguration = cur.EventBridgeConfiguration
		for _, q := range cur.QueueConfigurations {
			if !isOurNotification(q, queueARN) {
				out.QueueConfigurations = append(out.QueueConfigurations, q)
				continue
			}
			if len(found) == 0 {
				out.QueueConfigurations = append(out.QueueConfigurations, ours)
			}
			found = append(found, q)
		}
	}
	if len(found) == 0 {
		out.QueueConfigurations = append(out.QueueConfigurations, ours)
		return out, true, nil
	}
	if len(found) > 1 {
		return out, true, nil
	}
	same, err := sameDocument(found[0], ours)
	if err != nil {
		return nil, false, fmt.Errorf("compare notification configurations: %w", err)
	}
	return out, !same, nil
}

// planEvents plans the queue policy statement and the bucket's
// notification configuration that send the bucket's events to the job
// queue, whose ARN is queueARN (a template before it exists).
func (p *Plan) planEvents(cfg Config, partition, queueARN string, curPolicy *Policy, curNotification *types.NotificationConfiguration) error {
	policy, err := mergeStatements(curPolicy, []Statement{eventsStatement(partition, cfg.Bucket, queueARN)})
	if err != nil {
		return err
	}
	p.QueuePolicy = policy
	if err := p.diffStatements("queue policy", curPolicy, policy); err != nil {
		return err
	}
	notification, changed, err := mergeNotification(curNotification, queueARN)
	if err != nil {
		return err
	}
	p.Notification = notification
	if changed {
		p.change("events", "send %s of s3://%s to %s (configuration %s)", joinEvents(notificationEvents), cfg.Bucket, queueARN, NotificationID)
	}
	return nil
}

func joinEvents(events []types.Event) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, " and ")
}

// readEvents reads the bucket's notification configuration.
func (s Setup) readEvents(ctx context.Context, cfg Config, st *State) error {
	out, err := s.S3.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil {
		return classify("events", "s3:GetBucketNotification", bucketARN(Partition(cfg.Region), cfg.Bucket), err)
	}
	st.Notification = &types.NotificationConfiguration{
		QueueConfigurations:          out.QueueConfigurations,
		TopicConfigurations:          out.TopicConfigurations,
		LambdaFunctionConfigurations: out.LambdaFunctionConfigurations,
		EventBridgeConfiguration:     out.EventBridgeConfiguration,
	}
	return nil
}

// queuePolicy is the queue's access policy, nil when it has none.
func queuePolicy(q *QueueState) (*Policy, error) {
	if q == nil || q.Attributes["Policy"] == "" {
		return nil, nil
	}
	p, err := ParsePolicy(q.Attributes["Policy"])
	if err != nil {
		return nil, fmt.Errorf("queue policy: %w", err)
	}
	return p, nil
}

// applyEvents lets S3 send to the job queue (its policy), then has the
// bucket send its events there: in that order, since S3 checks that it
// may send when the configuration is written. The documents are made
// again with the queue's ARN, which a plan made before the queue existed
// did not know.
func (s Setup) applyEvents(ctx context.Context, cfg Config, plan Plan, queueARN string) error {
	partition := Partition(cfg.Region)
	q, err := s.readQueue(ctx, cfg.Queue)
	if err != nil {
		return err
	}
	if q == nil {
		return fmt.Errorf("events: queue %s does not exist", cfg.Queue)
	}
	curPolicy, err := queuePolicy(q)
	if err != nil {
		return err
	}
	var again Plan
	if err := again.planEvents(cfg, partition, queueARN, curPolicy, plan.currentNotification); err != nil {
		return err
	}
	if slices.ContainsFunc(again.Changes, func(c Change) bool { return c.Part == "queue policy" }) {
		_, err := s.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(q.URL),
			Attributes: map[string]string{"Policy": again.QueuePolicy.String()}})
		if err != nil {
			return classify("queue policy", "sqs:SetQueueAttributes", q.URL, err)
		}
	}
	if slices.ContainsFunc(again.Changes, func(c Change) bool { return c.Part == "events" }) {
		_, err := s.S3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
			Bucket: aws.String(cfg.Bucket), NotificationConfiguration: again.Notification})
		if err != nil {
			return classify("events", "s3:PutBucketNotification", bucketARN(partition, cfg.Bucket), err)
		}
	}
	return nil
}
