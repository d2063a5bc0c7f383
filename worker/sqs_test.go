package worker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
	"github.com/s3thumb/s3thumb/internal/testserver"
	"github.com/s3thumb/s3thumb/worker"
)

// drain receives every message of a queue, deleting none.
func drain(t *testing.T, client *sqs.Client, queueURL string) []types.Message {
	t.Helper()
	var all []types.Message
	for {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		all = append(all, out.Messages...)
	}
}

// TestSQS runs the worker on fauxqs and versitygw: poison messages are
// dead-lettered on their first delivery, a job that keeps failing for a
// passing reason reaches the dead-letter queue through the redrive policy
// after maxReceiveCount deliveries (never retried forever), and a job
// queued twice writes its thumbnail once.
func TestSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s3srv := testserver.VersityGW(t)
	sqsSrv := testserver.Fauxqs(t)
	s3srv.CreateBucket(t, "images")
	client := sqsSrv.Client()

	const maxReceives = 3
	queueURL, dlqURL := sqsSrv.CreateQueue(t, "jobs", 5*time.Second, maxReceives)
	q, err := queue.NewSQS(ctx, client, queueURL, queue.Options{VisibilityTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := newCountingStore(store.NewS3(s3srv.Client(), "images", "photos/"))
	for _, name := range []string{"a.jpg", "b.jpg"} {
		if err := st.Store.Put(ctx, name, tinyJPEG(t, 64, 48), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
			t.Fatal(err)
		}
	}
	// b's thumbnails can never be stored: a fault that could pass, as far
	// as the worker can tell.
	st.failOn = func(key string) error {
		if strings.HasPrefix(key, "b_") {
			return errors.New("injected: 500 InternalError")
		}
		return nil
	}
	poison := []string{"not json", `{"v":3,"key":"a_200x200.jpg"}`, `{"v":1,"key":"a.jpg"}`}
	for _, p := range poison {
		sendRaw(t, q, []byte(p))
	}
	sendJobs(t, q, "a_200x200.jpg", "a_200x200.jpg", "b_200x200.jpg")

	cfg := fastConfig()
	cfg.Concurrency = 2
	cfg.Visibility = 5 * time.Second
	cfg.RetryBackoff = time.Second
	cfg.MaxRetryBackoff = time.Second
	r := startWorker(t, cfg, q, newMaker(t, st, nil))
	// 3 poison + 2 duplicates + b's deliveries until the redrive.
	testkit.WaitFor(t, 60*time.Second, "the redrive of the failing job", func() bool {
		visible, inFlight := sqsSrv.Counts(t, queueURL)
		dead, _ := sqsSrv.Counts(t, dlqURL)
		return totalJobs(t, r.reg) >= 5+maxReceives && visible == 0 && inFlight == 0 && dead == 4
	})
	r.stop(t)

	if got := jobs(t, r.reg, worker.Failed, worker.ReasonMalformed); got != len(poison) {
		t.Errorf("malformed = %d, want %d: each poison message handled once, then dead-lettered", got, len(poison))
	}
	if got := jobs(t, r.reg, worker.Retried, worker.ReasonStoreBack); got != maxReceives {
		t.Errorf("store-back retries = %d, want %d (maxReceiveCount)", got, maxReceives)
	}
	done := jobs(t, r.reg, worker.Done, worker.ReasonMade)
	skipped := jobs(t, r.reg, worker.Skipped, worker.ReasonExists) + jobs(t, r.reg, worker.Skipped, worker.ReasonStoredByAnother)
	if done != 1 || skipped != 1 {
		t.Errorf("a_200x200.jpg queued twice: done %d, skipped %d; want 1 and 1", done, skipped)
	}
	if got := st.writes(); len(got) != 1 || got["a_200x200.jpg"] != 1 {
		t.Errorf("writes = %v, want a_200x200.jpg once", got)
	}
	tags, err := st.Store.(store.Store).Tags(ctx, "a_200x200.jpg")
	if err != nil || tags["thumbnail"] != "yes" {
		t.Errorf("tags = %v, %v; want thumbnail=yes", tags, err)
	}

	// The dead-letter queue holds the poison, each with the reason, and
	// the job that kept failing.
	var bodies []string
	for _, m := range drain(t, client, dlqURL) {
		bodies = append(bodies, aws.ToString(m.Body))
		reason := m.MessageAttributes["s3thumb-dead-reason"]
		if strings.Contains(aws.ToString(m.Body), "b_200x200") {
			continue // moved by the redrive policy, which gives no reason
		}
		if !strings.Contains(aws.ToString(reason.StringValue), "malformed job") {
			t.Errorf("dead-lettered %q with reason %q, want one saying malformed job", aws.ToString(m.Body), aws.ToString(reason.StringValue))
		}
	}
	slices.Sort(bodies)
	if len(bodies) != 4 || !slices.Contains(bodies, "not json") || !strings.Contains(strings.Join(bodies, "\n"), `"key":"b_200x200.jpg"`) {
		t.Errorf("dead-letter queue holds %q, want the 3 poison messages and the b_200x200.jpg job", bodies)
	}
}
