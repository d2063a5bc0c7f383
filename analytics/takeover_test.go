package analytics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/store"
)

// takeoverSetup is three days of generated logs delivered as the clock
// goes, from start, an empty state, and a config with a short lock.
func takeoverSetup(t *testing.T) (logs analytics.LogSource, st *store.FileStore, clock *time.Time, start time.Time, cfg analytics.Config) {
	logDir, _ := generated(t, 3, nil)
	start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	clock = new(time.Time)
	*clock = start.Add(40 * time.Hour)
	cfg = analytics.DefaultConfig()
	cfg.LockTTL = time.Minute
	cfg.DecideEvery = 0
	return delivered{LogSource: fileStore(t, logDir), now: clock}, fileStore(t, ""), clock, start, cfg
}

// TestTakeoverKeepsDeltas: a run slower than --lock-ttl (not dead) has
// its lock taken over, as a dead run's is. Runs B and C write deltas 1 and
// 2 meanwhile; the slow run A, which read the state before them, must not
// write its delta 1 over B's (the state would then hold B's and C's work
// stitched onto A's, and count records twice): its save is refused with
// state.ErrStateChanged, and once the logs are read to the end every record
// is counted once, as one run over the same logs counts it.
func TestTakeoverKeepsDeltas(t *testing.T) {
	ctx := context.Background()
	logs, st, clockp, start, cfg := takeoverSetup(t)
	now := func() time.Time { return *clockp }
	try := func(deps analytics.Deps) error {
		deps.Logs, deps.State, deps.Now = logs, st, now
		_, err := newAnalyzer(t, cfg, deps).Run(ctx)
		return err
	}
	run := func(deps analytics.Deps) {
		t.Helper()
		if err := try(deps); err != nil {
			t.Fatal(err)
		}
	}
	run(analytics.Deps{}) // the base
	*clockp = start.Add(44 * time.Hour)
	err := try(analytics.Deps{BeforeSave: func() error { // A, slow: its lock expires
		*clockp = start.Add(46 * time.Hour)
		run(analytics.Deps{}) // B takes the lock over: delta 1
		*clockp = start.Add(48 * time.Hour)
		run(analytics.Deps{}) // C: delta 2
		return nil
	}})
	if !errors.Is(err, state.ErrStateChanged) {
		t.Fatalf("the slow run's save: %v, want state.ErrStateChanged", err)
	}
	var keys []string
	st.List(ctx, "analyzer-state.delta.", "", func(a store.Attrs) error { keys = append(keys, a.Key); return nil })
	t.Logf("deltas %v", keys)
	*clockp = start.Add(5 * 24 * time.Hour)
	run(analytics.Deps{}) // reads the rest
	clean := fileStore(t, "")
	if _, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: clean, Now: now}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, want := loadState(t, st), loadState(t, clean)
	if got.Totals.Records != want.Totals.Records || counters(t, got) != counters(t, want) {
		t.Errorf("after a lock taken over from a slow run: %d records counted, %d requests on the days; one run over the same logs: %d, %d",
			got.Totals.Records, sumRequests(got.Days), want.Totals.Records, sumRequests(want.Days))
	}
}

func sumRequests(days map[int32]*state.Day) int64 {
	var n int64
	for _, d := range days {
		n += d.Requests
	}
	return n
}

// TestTakeoverScheduleInTurn: the same runs one after another count as one
// run does: the difference above is the overlap's.
func TestTakeoverScheduleInTurn(t *testing.T) {
	ctx := context.Background()
	logs, st, clockp, start, cfg := takeoverSetup(t)
	now := func() time.Time { return *clockp }
	for _, h := range []int{40, 44, 46, 48, 120} {
		*clockp = start.Add(time.Duration(h) * time.Hour)
		if _, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: st, Now: now}).Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clean := fileStore(t, "")
	if _, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: clean, Now: now}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, want := loadState(t, st), loadState(t, clean)
	if got.Totals.Records != want.Totals.Records || counters(t, got) != counters(t, want) {
		t.Errorf("%d records, one run %d", got.Totals.Records, want.Totals.Records)
	}
}
