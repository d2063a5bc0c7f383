package backfill

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// BenchmarkEnqueueSQS measures how many jobs per second a backfill queues
// into the fauxqs SQS emulator, in batches of 10 with the default send
// concurrency (target: 5,000 messages/s).
//
//	go test -run '^$' -bench BenchmarkEnqueueSQS -benchtime 20000x ./internal/backfill/
func BenchmarkEnqueueSQS(b *testing.B) {
	srv := testserver.Fauxqs(b)
	client := srv.Client()
	ctx := context.Background()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	q, err := queue.NewSQS(ctx, client, aws.ToString(out.QueueUrl), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = fmt.Sprintf("photos/img%07d_200x200.jpg", i)
	}
	bf, err := New(DefaultConfig(), nil, q, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	res, err := bf.FromKeys(ctx, seqOf(keys))
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Queued != int64(b.N) {
		b.Fatalf("queued %d of %d", res.Queued, b.N)
	}
	if n, err := q.Depth(ctx); err != nil || n != b.N {
		b.Fatalf("queue depth %d, %v; want %d", n, err, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
