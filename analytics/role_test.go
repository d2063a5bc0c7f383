package analytics_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// TestWriterTellsRole: a key named like a thumbnail that somebody uploads
// is an original: its reads, before and after the upload, count for no
// size class and no original of its stem, and survive a save and a load.
// One written by s3thumb's user agent is a thumbnail; a write whose agent
// the log does not show says nothing.
func TestWriterTellsRole(t *testing.T) {
	s := state.NewState()
	agg := analytics.NewAggregator(s)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	add := func(op, key string, status int, agent string) {
		n++
		agg.Add(&accesslog.Record{Time: at.Add(time.Duration(n) * time.Minute), RequestID: string(rune('A' + n)),
			Operation: op, Key: key, HTTPStatus: status, UserAgent: agent, ObjectSize: 100})
	}
	const cli = "aws-cli/2.22.0 md/Botocore#1.35.0"
	add(accesslog.OpWebsiteGetObject, "social/banner_1200x630.jpg", 200, "")
	add(accesslog.OpWebsiteGetObject, "social/banner_1200x630.jpg", 200, "")
	add(accesslog.OpRESTPutObject, "social/banner_1200x630.jpg", 200, cli) // an upload: an original
	add(accesslog.OpWebsiteGetObject, "social/banner_1200x630.jpg", 200, "")
	add(accesslog.OpWebsiteGetObject, "photos/a_1200x630.jpg", 404, "")
	add(accesslog.OpRESTPutObject, "photos/a_1200x630.jpg", 200, "aws-sdk-go-v2/1.41.0 os/linux app/s3thumb")
	add(accesslog.OpRESTPutObject, "photos/b_1200x630.jpg", 200, "")

	var buf bytes.Buffer
	if err := state.EncodeState(&buf, s); err != nil {
		t.Fatal(err)
	}
	loaded, err := state.DecodeState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*state.State{"as counted": s, "loaded": loaded} {
		t.Run(name, func(t *testing.T) {
			for key, want := range map[string]state.Role{
				"social/banner_1200x630.jpg": state.RoleOriginal,
				"photos/a_1200x630.jpg":      state.RoleThumbnail,
				"photos/b_1200x630.jpg":      state.RoleUnknown,
			} {
				if th, err := s.ThumbState(key); err != nil || th.Role != want {
					t.Errorf("%s: %+v, %v; want role %d", key, th, err, want)
				}
			}
			if c := s.Classes["_1200x630.jpg"]; c == nil || c.Reads != 0 || c.Misses != 1 || len(c.Recent) != 1 || c.Recent[0].N != 1 {
				t.Errorf("class _1200x630.jpg = %+v; want only photos/a's miss", c)
			}
			if o := s.Originals["social/banner"]; o != nil && (o.Reads != 0 || len(o.Recent) != 0) {
				t.Errorf("the stem social/banner has requests: %+v", o)
			}
			o := s.Originals["social/banner_1200x630"]
			if o == nil || o.Key != "social/banner_1200x630.jpg" || o.Direct != 1 || o.Uploaded == 0 {
				t.Errorf("the original social/banner_1200x630.jpg = %+v; want its upload and the read after it", o)
			}
		})
	}
}
