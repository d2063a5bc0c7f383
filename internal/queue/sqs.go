package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"
)

// SQSQueue is an Amazon SQS queue, or one on an SQS-compatible server.
type SQSQueue struct {
	client *sqs.Client
	url    string
	dlqURL string // where DeadLetter sends; "" for nowhere
	opts   Options
}

var _ Queue = (*SQSQueue)(nil)

const (
	// sendAttempts is how many times Send tries an entry that SQS refused
	// for a reason of its own (not the sender's fault).
	sendAttempts = 4
	// sendBackoff is the pause before the first retry; it doubles.
	sendBackoff = 100 * time.Millisecond
	// sendConcurrency is how many SendMessageBatch calls one Send makes at
	// once.
	sendConcurrency = 4
	// reasonAttribute is the message attribute that carries DeadLetter's
	// reason to the dead-letter queue.
	reasonAttribute = "s3thumb-dead-reason"
	// maxReasonAttribute is the longest reason kept in that attribute.
	maxReasonAttribute = 1024
)

// NewSQS uses client for the queue at queueURL. When opts.DeadLetterURL is
// empty it reads the queue's redrive policy to find its dead-letter queue;
// it fails if the queue does not exist.
func NewSQS(ctx context.Context, client *sqs.Client, queueURL string, opts Options) (*SQSQueue, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", queueURL, err)
	}
	q := &SQSQueue{client: client, url: queueURL, dlqURL: opts.DeadLetterURL, opts: opts.withDefaults()}
	if q.dlqURL != "" {
		return q, nil
	}
	dlq, err := q.redriveTarget(ctx)
	var missing *types.QueueDoesNotExist
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("open queue %s: %w", queueURL, err)
	case err != nil:
		// A role that may only send cannot read attributes; that is no
		// reason to refuse to send.
		q.opts.Logger.Warn("cannot read the queue's redrive policy; DeadLetter will only delete",
			slog.String("queue", queueURL), slog.Any("error", err))
	}
	q.dlqURL = dlq
	return q, nil
}

// redriveTarget is the URL of the dead-letter queue in the queue's redrive
// policy, or "" when it has none.
func (q *SQSQueue) redriveTarget(ctx context.Context) (string, error) {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return "", fmt.Errorf("read redrive policy: %w", err)
	}
	policy := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if policy == "" {
		return "", nil
	}
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if err := json.Unmarshal([]byte(policy), &rp); err != nil {
		return "", fmt.Errorf("read redrive policy %q: %w", policy, err)
	}
	// arn:PARTITION:sqs:REGION:ACCOUNT:NAME
	parts := strings.Split(rp.DeadLetterTargetArn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", fmt.Errorf("redrive policy names %q, not an SQS queue ARN", rp.DeadLetterTargetArn)
	}
	in := &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])}
	if parts[4] != "" {
		in.QueueOwnerAWSAccountId = aws.String(parts[4])
	}
	u, err := q.client.GetQueueUrl(ctx, in)
	if err != nil {
		return "", fmt.Errorf("find dead-letter queue %s: %w", rp.DeadLetterTargetArn, err)
	}
	return aws.ToString(u.QueueUrl), nil
}

// String is the queue URL.
func (q *SQSQueue) String() string { return q.url }

// Send queues the bodies in batches of up to MaxBatch entries (and at most
// MaxBodyBytes per batch), several batches at once. Entries SQS refuses for
// reasons that are not the sender's fault are retried with backoff.
func (q *SQSQueue) Send(ctx context.Context, bodies [][]byte) error {
	var (
		mu       sync.Mutex
		failed   []int
		firstErr error
	)
	fail := func(idx []int, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, idx...)
		if firstErr == nil {
			firstErr = err
		}
	}
	var batches [][]int
	var batch []int
	size := 0
	for i, body := range bodies {
		if err := checkBody(body); err != nil {
			fail([]int{i}, err)
			continue
		}
		if len(batch) == MaxBatch || size+len(body) > MaxBodyBytes {
			batches = append(batches, batch)
			batch, size = nil, 0
		}
		batch = append(batch, i)
		size += len(body)
	}
	if len(batch) > 0 {
		batches = append(batches, batch)
	}
	var g errgroup.Group
	g.SetLimit(sendConcurrency)
	for _, b := range batches {
		g.Go(func() error {
			if idx, err := q.sendBatch(ctx, bodies, b); err != nil {
				fail(idx, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(failed) > 0 {
		slices.Sort(failed)
		return &SendError{Total: len(bodies), Failed: failed, Err: firstErr}
	}
	return nil
}

// sendBatch sends bodies[i] for each i in idx in one SendMessageBatch,
// retrying the entries SQS refused for reasons of its own; it returns the
// indexes that were not sent.
func (q *SQSQueue) sendBatch(ctx context.Context, bodies [][]byte, idx []int) ([]int, error) {
	var failed []int // for good
	var lastErr error
	pending := idx
	backoff := sendBackoff
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return append(failed, pending...), fmt.Errorf("send to %s: %w", q.url, ctx.Err())
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(pending))
		for n, i := range pending {
			entries[n] = types.SendMessageBatchRequestEntry{
				Id:          aws.String(strconv.Itoa(i)),
				MessageBody: aws.String(string(bodies[i])),
			}
		}
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			// The SDK has retried the call itself already.
			return append(failed, pending...), fmt.Errorf("send to %s: %w", q.url, err)
		}
		var retry []int
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil || !slices.Contains(pending, i) {
				continue // not an ID we sent
			}
			lastErr = fmt.Errorf("send to %s: %s: %s", q.url, aws.ToString(f.Code), aws.ToString(f.Message))
			if f.SenderFault || attempt == sendAttempts {
				failed = append(failed, i)
			} else {
				retry = append(retry, i)
			}
		}
		pending = retry
	}
	return failed, lastErr
}

// Receive long-polls for up to limit messages, in calls of at most
// MaxWaitPerCall, until one arrives or wait passes.
func (q *SQSQueue) Receive(ctx context.Context, limit int, wait time.Duration) ([]Message, error) {
	deadline := time.Now().Add(wait)
	for {
		secs := min(ceilSeconds(time.Until(deadline)), int32(MaxWaitPerCall/time.Second))
		in := &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(q.url),
			MaxNumberOfMessages: int32(clampBatch(limit)),
			WaitTimeSeconds:     secs,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount,
				types.MessageSystemAttributeNameSentTimestamp,
			},
		}
		if q.opts.VisibilityTimeout > 0 {
			in.VisibilityTimeout = ceilSeconds(q.opts.VisibilityTimeout)
		}
		out, err := q.client.ReceiveMessage(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.url, err)
		}
		if len(out.Messages) > 0 || time.Until(deadline) <= 0 {
			msgs := make([]Message, len(out.Messages))
			for i, m := range out.Messages {
				msgs[i] = fromSQS(m)
			}
			return msgs, nil
		}
	}
}

// fromSQS converts a received SQS message.
func fromSQS(m types.Message) Message {
	msg := Message{ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body)), handle: aws.ToString(m.ReceiptHandle)}
	attrs := m.Attributes
	if n, err := strconv.Atoi(attrs[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		msg.ReceiveCount = n
	}
	if ms, err := strconv.ParseInt(attrs[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		msg.SentAt = time.UnixMilli(ms)
	}
	return msg
}

// Delete deletes a received message.
func (q *SQSQueue) Delete(ctx context.Context, m Message) error {
	if m.handle == "" {
		return fmt.Errorf("delete %s from %s: not received: %w", m.ID, q.url, ErrStaleHandle)
	}
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(m.handle)})
	if err != nil {
		return fmt.Errorf("delete %s from %s: %w", m.ID, q.url, staleOr(err))
	}
	return nil
}

// ChangeVisibility hides a received message for d from now (rounded up to
// whole seconds), or makes it visible at once when d is 0.
func (q *SQSQueue) ChangeVisibility(ctx context.Context, m Message, d time.Duration) error {
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("change visibility of %s: %v: want 0 to %v", m.ID, d, MaxVisibility)
	}
	if m.handle == "" {
		return fmt.Errorf("change visibility of %s in %s: not received: %w", m.ID, q.url, ErrStaleHandle)
	}
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.url),
		ReceiptHandle:     aws.String(m.handle),
		VisibilityTimeout: ceilSeconds(d),
	})
	if err != nil {
		return fmt.Errorf("change visibility of %s in %s: %w", m.ID, q.url, staleOr(err))
	}
	return nil
}

// DeadLetter sends the message to the dead-letter queue, if there is one,
// with the reason in the s3thumb-dead-reason attribute, then deletes it.
func (q *SQSQueue) DeadLetter(ctx context.Context, m Message, reason string) error {
	if m.handle == "" {
		return fmt.Errorf("dead-letter %s from %s: not received: %w", m.ID, q.url, ErrStaleHandle)
	}
	log := q.opts.Logger.With(slog.String("queue", q.url), slog.String("message", m.ID), slog.String("reason", reason))
	if q.dlqURL == "" {
		log.Warn("message dropped: no dead-letter queue", slog.String("body", truncate(m.Body, 512)))
		return q.Delete(ctx, m)
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(q.dlqURL), MessageBody: aws.String(string(m.Body))}
	if r := attributeText(reason); r != "" {
		in.MessageAttributes = map[string]types.MessageAttributeValue{
			reasonAttribute: {DataType: aws.String("String"), StringValue: aws.String(r)},
		}
	}
	if _, err := q.client.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("dead-letter %s to %s: %w", m.ID, q.dlqURL, err)
	}
	log.Warn("message dead-lettered", slog.String("dead_letter_queue", q.dlqURL))
	return q.Delete(ctx, m)
}

// Depth is the queue's ApproximateNumberOfMessages.
func (q *SQSQueue) Depth(ctx context.Context) (int, error) {
	name := types.QueueAttributeNameApproximateNumberOfMessages
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.url),
		AttributeNames: []types.QueueAttributeName{name},
	})
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %w", q.url, err)
	}
	n, err := strconv.Atoi(out.Attributes[string(name)])
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %s %q: %w", q.url, name, out.Attributes[string(name)], err)
	}
	return n, nil
}

// staleOr maps SQS's answers for a receipt handle that is no longer valid
// to ErrStaleHandle, keeping the SQS error in the chain.
func staleOr(err error) error {
	var invalid *types.ReceiptHandleIsInvalid
	var notInflight *types.MessageNotInflight
	if errors.As(err, &invalid) || errors.As(err, &notInflight) {
		return fmt.Errorf("%w: %w", ErrStaleHandle, err)
	}
	return err
}

// ceilSeconds rounds d up to whole seconds, 0 for d <= 0.
func ceilSeconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32((d + time.Second - 1) / time.Second)
}

// attributeText makes s fit a message attribute: characters SQS allows
// only, at most maxReasonAttribute bytes.
func attributeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if !allowedRune(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	for len(s) > maxReasonAttribute {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// queueName is what SQS allows as a queue name.
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$|^[A-Za-z0-9_-]{1,75}\.fifo$`)

// openSQSByName opens sqs://NAME.
func openSQSByName(ctx context.Context, rawURL, name string, opts Options) (*SQSQueue, error) {
	if !queueName.MatchString(name) {
		return nil, fmt.Errorf("%w: %q: %q is not a queue name (letters, digits, - and _, at most 80)", ErrInvalidURL, rawURL, name)
	}
	client, err := newSQSClient(ctx, opts.Region, opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", rawURL, err)
	}
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", rawURL, err)
	}
	return NewSQS(ctx, client, aws.ToString(out.QueueUrl), opts)
}

// openSQSByURL opens an SQS queue URL. The region defaults to the one in an
// AWS host name; the endpoint of a non-AWS host defaults to its origin.
func openSQSByURL(ctx context.Context, rawURL string, opts Options) (*SQSQueue, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || u.Path == "" || u.Path == "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q: want SCHEME://HOST/ACCOUNT/NAME", ErrInvalidURL, rawURL)
	}
	region, endpoint := opts.Region, opts.Endpoint
	host := strings.ToLower(u.Hostname())
	if awsRegion, ok := regionOfHost(host); ok {
		if region == "" {
			region = awsRegion
		}
	} else if endpoint == "" {
		endpoint = u.Scheme + "://" + u.Host
	}
	client, err := newSQSClient(ctx, region, endpoint)
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", rawURL, err)
	}
	return NewSQS(ctx, client, rawURL, opts)
}

// regionOfHost reads the region from an AWS SQS host name:
// sqs.REGION.amazonaws.com[.cn] or the legacy REGION.queue.amazonaws.com.
func regionOfHost(host string) (string, bool) {
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		rest, ok := strings.CutSuffix(host, suffix)
		if !ok {
			continue
		}
		if r, ok := strings.CutPrefix(rest, "sqs."); ok && r != "" && !strings.Contains(r, ".") {
			return r, true
		}
		if r, ok := strings.CutSuffix(rest, ".queue"); ok && r != "" && !strings.Contains(r, ".") {
			return r, true
		}
	}
	return "", false
}

// newSQSClient makes a client from the standard AWS configuration chain.
func newSQSClient(ctx context.Context, region, endpoint string) (*sqs.Client, error) {
	var load []func(*config.LoadOptions) error
	if region != "" {
		load = append(load, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set --region or AWS_REGION")
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
