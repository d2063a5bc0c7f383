package analytics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestAsOf: a run as of a past time counts and decides as if it were then
// (the report's time, the window that holds the records), and a run as of
// a time before the state's last run is refused, changing nothing.
func TestAsOf(t *testing.T) {
	ctx := context.Background()
	then := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var log testLog
	for i := range 20 {
		log.add(accesslog.Record{Time: then.Add(-time.Duration(i+1) * time.Hour), Operation: accesslog.OpWebsiteGetObject,
			Key: "p/a_200x200.jpg", HTTPStatus: 200, ObjectSize: 10})
	}
	logs := fileStore(t, "")
	if err := logs.Put(ctx, accesslog.SimpleLogKey("", then.Add(-time.Hour), "A"), log.data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st := fileStore(t, "")
	run := func(asOf time.Time) (*analytics.Analyzer, error) {
		cfg := analytics.DefaultConfig()
		cfg.AsOf = asOf
		return analytics.New(cfg, analytics.Deps{Logs: logs, State: st}) // the real clock: now is 2026 or later
	}
	a, err := run(then)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Generated.Sub(then); d < 0 || d > time.Minute {
		t.Errorf("report generated at %v, want as of %v", rep.Generated, then)
	}
	if rep.Requests != 20 {
		t.Errorf("%d requests in the window as of %v, want 20 (the real clock's window holds none)", rep.Requests, then)
	}
	before := counters(t, loadState(t, st))
	a, err = run(then.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(ctx); !errors.Is(err, analytics.ErrAsOf) {
		t.Errorf("a run as of before the last run: %v, want ErrAsOf", err)
	}
	if after := counters(t, loadState(t, st)); after != before {
		t.Errorf("the refused run changed the state")
	}
}
