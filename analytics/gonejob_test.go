package analytics

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

type emptyBucket struct{ heads []string }

func (b *emptyBucket) Head(_ context.Context, key string) (store.Attrs, error) {
	b.heads = append(b.heads, key)
	return store.Attrs{}, store.ErrNotFound
}
func (b *emptyBucket) Tags(context.Context, string) (map[string]string, error) {
	return nil, store.ErrNotFound
}

// A thumbnail read all week whose original was deleted (and 404s since),
// written before the logs began. Its refresh candidate's HEAD finds it gone
// and would be made again from its original, which does not exist:
// nothing is queued (found by review).
func TestGoneJobNeedsItsOriginal(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := state.NewState()
	add := feeder(s)
	for i := range 20 {
		add(now.Add(-time.Duration(i+2)*6*time.Hour), accesslog.OpWebsiteGetObject, "p/x_200x200.jpg", 200,
			fmt.Sprintf("198.51.100.%d", i), "Mozilla/5.0")
	}
	add(now.Add(-3*time.Hour), accesslog.OpRESTDeleteObject, "p/x.jpg", 204, "203.0.113.1", "uploader/1.0")
	cfg := DefaultConfig()
	cfg.ExpireDays = 30
	b := &emptyBucket{}
	p, err := plan(context.Background(), s, cfg, now, nil, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range p.Jobs {
		t.Errorf("job %q (%s, refresh %v) queued for an original the logs show deleted", j.Key, j.Reason, j.Refresh)
	}
}
