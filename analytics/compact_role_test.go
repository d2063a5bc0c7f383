package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// A key learned to be an original from its upload stays known as one
// through compaction, and s3thumb's own later write of it (the person
// deleted it, banner.jpg appeared) makes it a thumbnail again.
func TestCompactKeepsLoggedOriginal(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var log testLog
	add := func(at time.Time, op, key string, status int, agent string) {
		log.add(accesslog.Record{Time: at, Operation: op, Key: key, HTTPStatus: status, UserAgent: agent, ObjectSize: 100})
	}
	const key = "social/banner_1200x630.jpg"
	add(now.Add(-time.Hour), accesslog.OpRESTPutObject, key, 200, "aws-cli/2.22.0")
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-30*time.Minute), "C"), log.data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stateStore := fileStore(t, "")
	a := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: stateStore, Now: func() time.Time { return now }})
	if _, err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if th, err := loadState(t, stateStore).ThumbState(key); err != nil || th.Role != state.RoleOriginal {
		t.Errorf("%s right after its upload was counted: %v (role %d); want RoleOriginal kept", key, err, th.Role)
	}

	// The person deletes it; banner.jpg is uploaded; s3thumb makes the thumbnail.
	now = now.Add(time.Hour)
	log.data = nil
	add(now.Add(-50*time.Minute), accesslog.OpRESTDeleteObject, key, 204, "aws-cli/2.22.0")
	add(now.Add(-49*time.Minute), accesslog.OpRESTPutObject, "social/banner.jpg", 200, "aws-cli/2.22.0")
	add(now.Add(-48*time.Minute), accesslog.OpWebsiteGetObject, key, 404, "")
	add(now.Add(-48*time.Minute), accesslog.OpRESTPutObject, key, 200, "aws-sdk-go-v2/1.41.0 app/s3thumb")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-10*time.Minute), "D"), log.data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	s := loadState(t, stateStore)
	if th, err := s.ThumbState(key); err != nil || th.Role != state.RoleThumbnail {
		t.Errorf("%s after s3thumb wrote it: %v (role %d); want RoleThumbnail", key, err, th.Role)
	}
	if o := s.Originals["social/banner_1200x630"]; o != nil && o.Uploaded >= now.Add(-time.Hour).Unix() {
		t.Errorf("s3thumb's thumbnail write counted as an upload of original %s (uploaded %d): its thumbnails are queued as a new upload's", key, o.Uploaded)
	}
}
