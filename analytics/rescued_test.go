package analytics

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/queue"
)

// A read after the lifecycle due date counts as a miss the refresh avoided
// only once the refresh's write has shown in the logs (S3 expires
// asynchronously, so an object is often still read after its due date).
func TestRescuedWithoutRefreshWrite(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ExpireDays = 1
	s := state.NewState()
	agg := NewAggregator(s)
	const key = "p/a_200x200.jpg"
	w := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	agg.Add(&accesslog.Record{Time: w, RequestID: "w", Operation: accesslog.OpRESTPutObject, Key: key, HTTPStatus: 200,
		UserAgent: "x app/s3thumb", ObjectSize: 9})
	now := w.Add(20 * time.Hour)
	markQueued(s, cfg, []report.Job{{Job: queue.Job{Key: key, Refresh: true}, Why: report.WhyRefresh}}, now)
	// No write by the refresh is ever logged; the object is still read
	// after the rule's due date, before S3 gets round to expiring it.
	later := time.Unix(s.Thumbs.Get(key).RescueDue, 0).Add(time.Hour)
	agg.Add(&accesslog.Record{Time: later, RequestID: "r", Operation: accesslog.OpWebsiteGetObject, Key: key, HTTPStatus: 200, ObjectSize: 9})
	if got := s.Day(state.DayOf(later.Unix())).Rescued; got != 0 {
		t.Errorf("Rescued = %d for a refresh whose write never happened", got)
	}
}
