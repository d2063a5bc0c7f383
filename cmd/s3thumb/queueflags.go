package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/s3thumb/s3thumb/internal/queue"
)

// jobQueueFlags choose the pre-generation job queue.
func jobQueueFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "queue", Usage: "pre-generation job queue: file://DIR, sqs://NAME or an SQS queue URL (default: file://DIR/.queue for a file://DIR store)"},
		&cli.StringFlag{Name: "sqs-endpoint", Usage: "SQS endpoint URL for SQS-compatible servers (default: AWS, from the region)"},
	}
}

// consumerFlags say how the workers handle the queue's messages.
func consumerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "visibility-timeout", Value: queue.DefaultVisibilityTimeout, Usage: "how long a received job stays hidden from other workers; running jobs extend it every third of it"},
		&cli.IntFlag{Name: "max-receives", Value: queue.DefaultMaxReceives, Usage: "file queue: deliveries of a job before it moves to the queue's dead/ folder (SQS: the queue's redrive policy decides)"},
		&cli.StringFlag{Name: "dead-letter-queue", Usage: "SQS queue URL malformed jobs are moved to (default: the queue's redrive policy's dead-letter queue; none: they are deleted)"},
	}
}

// openJobQueue opens --queue, or the default queue of a file:// store. A
// consumer's options (visibility timeout, receives, dead-letter queue) are
// read from consumerFlags.
func openJobQueue(ctx context.Context, c *cli.Context, log *slog.Logger, consumer bool) (queue.Queue, error) {
	raw := c.String("queue")
	if raw == "" {
		local, err := defaultsFor(c)
		if err != nil {
			return nil, err
		}
		if !local.local {
			return nil, usagef("--queue is required with an s3:// store")
		}
		raw = local.queue
	}
	opts := queue.Options{Endpoint: c.String("sqs-endpoint"), Region: c.String("region"), Logger: log}
	if consumer {
		opts.VisibilityTimeout = c.Duration("visibility-timeout")
		opts.MaxReceives = c.Int("max-receives")
		opts.DeadLetterURL = c.String("dead-letter-queue")
		if opts.MaxReceives < 1 {
			return nil, usagef("--max-receives %d: must be at least 1", opts.MaxReceives)
		}
		if err := opts.Validate(); err != nil {
			return nil, usagef("--visibility-timeout: %w", err)
		}
	}
	q, err := queue.Open(ctx, raw, opts)
	if errors.Is(err, queue.ErrInvalidURL) {
		return nil, usagef("--queue: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return q, nil
}
