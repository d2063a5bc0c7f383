package analytics_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestCompact: one-off sizes that left the window and were never stored
// are forgotten, with their size class and their never-seen original; a
// stored thumbnail and what it refers to are kept however old its reads.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var log []byte
	for i, r := range []struct {
		ago    time.Duration
		key    string
		status int
	}{
		{20 * 24 * time.Hour, "bots/guess_123x45.jpg", 404}, // a one-off: never made
		{20 * 24 * time.Hour, "photos/old_77x77.jpg", 200},  // stored, read long ago
		{20 * 24 * time.Hour, "photos/gone_88x88.jpg", 200},
		{19 * 24 * time.Hour, "photos/gone_88x88.jpg", 404}, // stored once, gone since
		{24 * time.Hour, "photos/new_200x200.jpg", 200},
	} {
		log = accesslog.AppendS3(log, &accesslog.Record{Bucket: "b", Time: now.Add(-r.ago), RequestID: strconv.Itoa(i),
			Operation: accesslog.OpWebsiteGetObject, Key: r.key, HTTPStatus: r.status}, accesslog.S3FieldsLatest)
	}
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-time.Hour), "C"), log, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stateStore := fileStore(t, "")
	a := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: logs, State: stateStore, Now: func() time.Time { return now }})
	if _, err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	s := loadState(t, stateStore)
	for key, kept := range map[string]bool{
		"bots/guess_123x45.jpg":  false,
		"photos/gone_88x88.jpg":  false,
		"photos/old_77x77.jpg":   true,
		"photos/new_200x200.jpg": true,
	} {
		if _, err := s.ThumbState(key); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", key, err == nil, kept)
		}
	}
	for class, kept := range map[string]bool{"_123x45.jpg": false, "_88x88.jpg": false, "_77x77.jpg": true, "_200x200.jpg": true} {
		if _, ok := s.Classes[class]; ok != kept {
			t.Errorf("class %s: kept %v, want %v", class, ok, kept)
		}
	}
	for stem, kept := range map[string]bool{"bots/guess": false, "photos/gone": false, "photos/old": true, "photos/new": true} {
		if _, ok := s.Originals[stem]; ok != kept {
			t.Errorf("original %s: kept %v, want %v", stem, ok, kept)
		}
	}
	if s.Compacted != now.Unix() {
		t.Errorf("compacted at %d, want %d", s.Compacted, now.Unix())
	}
	// The state still reads and counts: the stored thumbnail read again.
	now = now.Add(time.Hour)
	log = accesslog.AppendS3(nil, &accesslog.Record{Bucket: "b", Time: now.Add(-30 * time.Minute), RequestID: "again",
		Operation: accesslog.OpWebsiteGetObject, Key: "photos/old_77x77.jpg", HTTPStatus: 200}, accesslog.S3FieldsLatest)
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-10*time.Minute), "D"), log, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if th, err := loadState(t, stateStore).ThumbState("photos/old_77x77.jpg"); err != nil || th.Reads != 2 {
		t.Errorf("photos/old_77x77.jpg after compaction and another read: %+v, %v; want 2 reads", th, err)
	}
}
