package testserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS is a running SQS server.
type SQS struct {
	Endpoint string // http://127.0.0.1:PORT
	Region   string
}

// Client returns an SQS client for the server, with dummy static
// credentials (fauxqs accepts any).
func (q *SQS) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       q.Region,
		BaseEndpoint: aws.String(q.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("s3thumb-test", "s3thumb-test", ""),
	})
}

// Fauxqs starts the fauxqs SQS emulator on 127.0.0.1 through the loopback
// launcher that scripts/install-test-tools.sh installs next to it. It is
// stopped when the test ends.
func Fauxqs(t testing.TB) *SQS {
	t.Helper()
	launcher := tool(t, "node", "fauxqs-loopback.mjs")
	tool(t, "node", "node_modules", "fauxqs", "package.json")
	node := program(t, "node")
	ports := start(t, command{
		name: "fauxqs",
		args: func([]int) []string { return []string{node, launcher} },
		env:  func(ports []int) []string { return []string{"PORT=" + strconv.Itoa(ports[0])} },
		urls: func(ports []int) []string { return []string{loopbackURL(ports[0]) + "/health"} },
		okay: func(resp *http.Response) bool { return resp.StatusCode == http.StatusOK },
	})
	return &SQS{Endpoint: loopbackURL(ports[0]), Region: Region}
}

// CreateQueue creates the queue name with the given visibility timeout
// (whole seconds, at least 1) and, when maxReceives > 0, a dead-letter queue
// name-dead with a redrive policy moving messages there after maxReceives
// receives. It returns both URLs (dlqURL is "" without one).
func (q *SQS) CreateQueue(t testing.TB, name string, visibility time.Duration, maxReceives int) (queueURL, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	client := q.Client()
	seconds := max(int((visibility+time.Second-1)/time.Second), 1)
	attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(seconds)}
	if maxReceives > 0 {
		dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dead")})
		if err != nil {
			t.Fatalf("create dead-letter queue %s-dead: %v", name, err)
		}
		dlqURL = aws.ToString(dlq.QueueUrl)
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatalf("dead-letter queue ARN: %v", err)
		}
		policy, err := json.Marshal(map[string]string{
			"deadLetterTargetArn": out.Attributes[string(types.QueueAttributeNameQueueArn)],
			"maxReceiveCount":     strconv.Itoa(maxReceives),
		})
		if err != nil {
			t.Fatal(err)
		}
		attrs["RedrivePolicy"] = string(policy)
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl), dlqURL
}

// Counts returns how many messages of a queue are visible and how many are
// in flight (received, not yet deleted).
func (q *SQS) Counts(t testing.TB, queueURL string) (visible, inFlight int) {
	t.Helper()
	attrs := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}
	out, err := q.Client().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: attrs,
	})
	if err != nil {
		t.Fatal(err)
	}
	var n [2]int
	for i, name := range attrs {
		if n[i], err = strconv.Atoi(out.Attributes[string(name)]); err != nil {
			t.Fatalf("queue %s: %s: %v", queueURL, name, err)
		}
	}
	return n[0], n[1]
}

// Len is the number of messages in a queue, visible or in flight.
func (q *SQS) Len(t testing.TB, queueURL string) int {
	t.Helper()
	visible, inFlight := q.Counts(t, queueURL)
	return visible + inFlight
}
