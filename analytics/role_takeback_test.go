package analytics

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// TestSetRoleTakesBackItsShare: a key found to be an original has its
// requests taken back from its class, but only the share of them that fell
// on the days the class still counts (spread evenly over the key's life, as
// the state keeps no per-day counts per key): requests pruned long ago are
// not taken from other thumbnails' recent days.
func TestSetRoleTakesBackItsShare(t *testing.T) {
	cfg := DefaultConfig()
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	s := state.NewState()
	agg := NewAggregator(s)
	id := 0
	read := func(at time.Time, key string) {
		id++
		agg.Add(&accesslog.Record{Time: at, RequestID: "r" + string(rune('A'+id%26)) + time.Duration(id).String(),
			Operation: accesslog.OpWebsiteGetObject, Key: key, HTTPStatus: 200, ObjectSize: 10})
	}
	// A person's banner, read for weeks before this version learned roles.
	for i := 0; i < 100; i++ {
		read(now.Add(-20*24*time.Hour+time.Duration(i)*time.Second), "social/banner_1200x630.jpg")
	}
	read(now.Add(-time.Hour), "social/banner_1200x630.jpg")
	// Real thumbnails of the class, read today.
	for i := 0; i < 40; i++ {
		read(now.Add(-30*time.Minute+time.Duration(i)*time.Second), "photos/a_1200x630.jpg")
	}
	s.Prune(cfg.keepDays(), cfg.DedupeWindow)
	first := state.DayOf(now.Unix()) - cfg.windowDays() + 1
	c := s.Classes["_1200x630.jpg"]
	if got := c.Since(first); got != 41 {
		t.Fatalf("class in the window before: %d, want 41", got)
	}
	s.SetRole(s.Thumbs.Get("social/banner_1200x630.jpg"), "social/banner_1200x630.jpg", state.RoleOriginal)
	// 101 requests over 21 days, one of them on a day still counted: 5.
	if got := c.Since(first); got != 36 {
		t.Errorf("class _1200x630.jpg in the window after the banner became an original: %d requests, want 41 less 5", got)
	}
}
