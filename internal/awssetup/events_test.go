package awssetup

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestMergeNotification: s3thumb's queue configuration is added once, by
// its Id; the README's old one, or an unfiltered one to the job queue, is
// taken for it; every other configuration and the EventBridge setting are
// kept as they are.
func TestMergeNotification(t *testing.T) {
	const jobs, audit = "arn:aws:sqs:us-east-1:123456789012:jobs", "arn:aws:sqs:us-east-1:123456789012:audit"
	ours := types.QueueConfiguration{Id: aws.String(NotificationID), QueueArn: aws.String(jobs), Events: notificationEvents}
	theirs := types.QueueConfiguration{Id: aws.String("audit"), QueueArn: aws.String(audit), Events: []types.Event{"s3:ObjectRemoved:*"}}
	topic := types.TopicConfiguration{Id: aws.String("t"), TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:t"), Events: []types.Event{"s3:ObjectCreated:*"}}
	legacy := types.QueueConfiguration{Id: aws.String("s3thumb-uploads"), QueueArn: aws.String(jobs), Events: notificationEvents}
	unnamed := types.QueueConfiguration{Id: aws.String("x"), QueueArn: aws.String(jobs), Events: []types.Event{"s3:ObjectCreated:*"}}
	for _, tc := range []struct {
		name        string
		cur         *types.NotificationConfiguration
		wantQueues  []string // Ids
		wantChanged bool
	}{
		{"none", nil, []string{NotificationID}, true},
		{"others", &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{theirs}, TopicConfigurations: []types.TopicConfiguration{topic},
			EventBridgeConfiguration: &types.EventBridgeConfiguration{}}, []string{"audit", NotificationID}, true},
		{"ours already", &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{theirs, ours}, TopicConfigurations: []types.TopicConfiguration{topic},
			EventBridgeConfiguration: &types.EventBridgeConfiguration{}}, []string{"audit", NotificationID}, false},
		{"the README's", &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{legacy, theirs}}, []string{NotificationID, "audit"}, true},
		{"another Id to the job queue", &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{unnamed}}, []string{NotificationID}, true},
		{"ours twice", &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{ours, legacy}}, []string{NotificationID}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := mergeNotification(tc.cur, jobs)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, q := range out.QueueConfigurations {
				ids = append(ids, aws.ToString(q.Id))
				if aws.ToString(q.Id) == NotificationID && (aws.ToString(q.QueueArn) != jobs || len(q.Events) != 2 || q.Filter != nil) {
					t.Errorf("ours: %+v", q)
				}
			}
			if len(ids) != len(tc.wantQueues) || changed != tc.wantChanged {
				t.Fatalf("queues %q, changed %v; want %q, %v", ids, changed, tc.wantQueues, tc.wantChanged)
			}
			for i := range ids {
				if ids[i] != tc.wantQueues[i] {
					t.Errorf("queues %q, want %q", ids, tc.wantQueues)
				}
			}
			if tc.cur != nil && (len(out.TopicConfigurations) != len(tc.cur.TopicConfigurations) || (out.EventBridgeConfiguration == nil) != (tc.cur.EventBridgeConfiguration == nil)) {
				t.Errorf("topics %+v, EventBridge %+v: want them kept", out.TopicConfigurations, out.EventBridgeConfiguration)
			}
		})
	}
}
