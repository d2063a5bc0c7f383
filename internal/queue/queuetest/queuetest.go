// Package queuetest helps tests read what was queued.
package queuetest

import (
	"context"
	"slices"
	"testing"

	"github.com/s3thumb/s3thumb/internal/queue"
)

// Drain receives and deletes every message visible in q and returns their
// jobs, failing the test on a malformed one.
func Drain(t testing.TB, q queue.Queue) []queue.Job {
	t.Helper()
	ctx := context.Background()
	var jobs []queue.Job
	for {
		msgs, err := q.Receive(ctx, queue.MaxBatch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return jobs
		}
		for _, m := range msgs {
			j, err := queue.Decode(m.Body)
			if err != nil {
				t.Fatalf("queued a malformed job %q: %v", m.Body, err)
			}
			jobs = append(jobs, j)
			if err := q.Delete(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Keys are the jobs' keys, sorted.
func Keys(jobs []queue.Job) []string {
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.Key
	}
	slices.Sort(keys)
	return keys
}
