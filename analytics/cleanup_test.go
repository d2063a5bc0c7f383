package analytics_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestCleanup deletes only thumbnails that carry the thumbnail=yes tag and
// had no read for the stale period; an untagged object named like a
// thumbnail and an original are kept.
func TestCleanup(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-40 * 24 * time.Hour)
	recent := now.Add(-2 * 24 * time.Hour)
	bucket := fileStore(t, "")
	tagged := store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}}
	objects := []struct {
		key  string
		opts store.PutOptions
	}{
		{"photos/a_200x200.jpg", tagged},             // stale, tagged: deleted
		{"photos/b_200x200.jpg", tagged},             // read recently: kept
		{"photos/c_200x200.jpg", store.PutOptions{}}, // stale, not tagged: kept
		{"photos/a.jpg", tagged},                     // an original, read long ago: never touched
	}
	for _, o := range objects {
		if err := bucket.Put(ctx, o.key, []byte("x"), o.opts); err != nil {
			t.Fatal(err)
		}
	}
	var log []byte
	add := func(at time.Time, id, key string) {
		log = accesslog.AppendS3(log, &accesslog.Record{
			Bucket: "b", Time: at, RequestID: id, Operation: accesslog.OpWebsiteGetObject,
			Key: key, HTTPStatus: 200, ObjectSize: 1, BytesSent: 1,
		}, accesslog.S3FieldsLatest)
	}
	add(old, "1", "photos/a_200x200.jpg")
	add(old, "2", "photos/b_200x200.jpg")
	add(old, "3", "photos/c_200x200.jpg")
	add(old, "4", "photos/a.jpg")
	add(recent, "5", "photos/b_200x200.jpg")
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", recent.Add(time.Hour), "A1"), log, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stateStore := fileStore(t, "")
	clock := func() time.Time { return now }

	// Without --delete-stale: listed, nothing deleted.
	cfg := analytics.DefaultConfig()
	rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: stateStore, Bucket: bucket, Now: clock}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	for _, s := range rep.Stale {
		outcomes[s.Key] = s.Outcome
	}
	want := map[string]string{"photos/a_200x200.jpg": "listed", "photos/c_200x200.jpg": "kept: not tagged thumbnail=yes"}
	if len(outcomes) != len(want) || outcomes["photos/a_200x200.jpg"] != want["photos/a_200x200.jpg"] || outcomes["photos/c_200x200.jpg"] != want["photos/c_200x200.jpg"] {
		t.Fatalf("stale: %v, want %v", outcomes, want)
	}
	for _, o := range objects {
		if _, err := bucket.Head(ctx, o.key); err != nil {
			t.Fatalf("%s gone without --delete-stale: %v", o.key, err)
		}
	}

	cfg.DeleteStale = true
	rep, err = newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: stateStore, Bucket: bucket, Now: clock}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Deleted != 1 || rep.BytesFreed != 1 {
		t.Errorf("deleted %d, freed %d bytes; want 1 and 1", rep.Deleted, rep.BytesFreed)
	}
	for _, o := range objects {
		_, err := bucket.Head(ctx, o.key)
		if gone := errors.Is(err, store.ErrNotFound); gone != (o.key == "photos/a_200x200.jpg") {
			t.Errorf("%s: head %v after cleanup", o.key, err)
		}
	}
	// The state knows it is gone: the next run does not list it again.
	rep, err = newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: stateStore, Bucket: bucket, Now: clock}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Stale {
		if s.Key == "photos/a_200x200.jpg" {
			t.Errorf("deleted thumbnail listed stale again: %+v", s)
		}
	}
}

// TestNothingStaleOnShortHistory: with less than the stale period of logs
// read, no read seen is no proof, so nothing is stale.
func TestNothingStaleOnShortHistory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	logs := fileStore(t, "")
	rec := accesslog.Record{Time: now.Add(-10 * 24 * time.Hour), RequestID: "1", Operation: accesslog.OpWebsiteGetObject,
		Key: "photos/a_200x200.jpg", HTTPStatus: 200}
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now, "A"), accesslog.AppendS3(nil, &rec, 27), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := analytics.DefaultConfig()
	cfg.StaleAfter = 5 * 24 * time.Hour
	rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: fileStore(t, ""), Now: func() time.Time { return now }}).Run(ctx)
	if err != nil || len(rep.Stale) != 1 {
		t.Fatalf("10 days of history, stale after 5: %d stale (%v), want 1", len(rep.Stale), err)
	}
	cfg.StaleAfter = 20 * 24 * time.Hour
	rep, err = newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: fileStore(t, ""), Now: func() time.Time { return now }}).Run(ctx)
	if err != nil || len(rep.Stale) != 0 {
		t.Fatalf("10 days of history, stale after 20: %d stale (%v), want 0", len(rep.Stale), err)
	}
}

// uploadAfterTags is a real store where a person uploads a new version of
// key (untagged) just after cleanup has read its tags.
type uploadAfterTags struct {
	*store.FileStore
	key string
}

func (u uploadAfterTags) Tags(ctx context.Context, key string) (map[string]string, error) {
	tags, err := u.FileStore.Tags(ctx, key)
	if err == nil && key == u.key {
		if err := u.FileStore.Put(ctx, key, []byte("an upload"), store.PutOptions{}); err != nil {
			return nil, err
		}
	}
	return tags, err
}

// TestCleanupKeepsUploadRace: a stale thumbnail that an upload replaces
// between cleanup's tag check and its delete is kept: the delete is
// conditional on the version whose tag was read.
func TestCleanupKeepsUploadRace(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	files := fileStore(t, "")
	bucket := uploadAfterTags{FileStore: files, key: "photos/a_200x200.jpg"}
	if err := files.Put(ctx, "photos/a_200x200.jpg", []byte("thumbnail"), store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}}); err != nil {
		t.Fatal(err)
	}
	log := accesslog.AppendS3(nil, &accesslog.Record{Bucket: "b", Time: now.Add(-40 * 24 * time.Hour), RequestID: "1",
		Operation: accesslog.OpWebsiteGetObject, Key: "photos/a_200x200.jpg", HTTPStatus: 200}, accesslog.S3FieldsLatest)
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", now.Add(-time.Hour), "A1"), log, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := analytics.DefaultConfig()
	cfg.DeleteStale = true
	rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: fileStore(t, ""), Bucket: bucket, Now: func() time.Time { return now }}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stale) != 1 || rep.Stale[0].Outcome != "kept: replaced while checked" || rep.Deleted != 0 {
		t.Errorf("stale %+v, %d deleted; want the thumbnail kept, replaced while checked", rep.Stale, rep.Deleted)
	}
	obj, err := files.Get(ctx, "photos/a_200x200.jpg")
	if err != nil {
		t.Fatalf("the upload is gone: %v", err)
	}
	defer obj.Body.Close()
	if b, _ := io.ReadAll(obj.Body); string(b) != "an upload" {
		t.Errorf("stored %q, want the upload", b)
	}
}
