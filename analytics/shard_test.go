package analytics_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/queue/queuetest"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestShardsMakeTheUnion: four shards over the same logs, each with its
// own state and queue in one state store, queue exactly the jobs one
// analyzer queues, list the same stale thumbnails, hold exactly its
// thumbnails between them, and rank the size classes alike; each report
// says which share it covers.
func TestShardsMakeTheUnion(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 3, nil)
	logs := fileStore(t, logDir)
	cfg := analytics.DefaultConfig()
	// What is decided over every original at once (the waste budget, the
	// cap on jobs, the mean rate of new uploads) is each shard's own: held
	// off here (see the README).
	cfg.MaxUnread, cfg.MaxJobs, cfg.NewWithin = 1, 1_000_000, 0
	cfg.StaleAfter = 24 * time.Hour
	type outcome struct {
		jobs, stale []string
		thumbs      map[string]string // as JSON: what the state says of each, not its row numbers
		classes     map[string]string
	}
	run := func(sh analytics.Shard, st store.Store) outcome {
		t.Helper()
		c := cfg
		c.Shard = sh
		q, err := queue.OpenFile(t.TempDir(), queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		dry := c
		dry.DryRun = true
		plan, err := newAnalyzer(t, dry, analytics.Deps{Logs: logs, State: st, Now: g.Now}).Run(ctx)
		if err != nil {
			t.Fatalf("shard %v, dry run: %v", sh, err)
		}
		rep, err := newAnalyzer(t, c, analytics.Deps{Logs: logs, State: st, Queue: q, Now: g.Now}).Run(ctx)
		if err != nil {
			t.Fatalf("shard %v: %v", sh, err)
		}
		if rep.Shard != sh.String() {
			t.Errorf("shard %v: the report says %q", sh, rep.Shard)
		}
		o := outcome{jobs: queuetest.Keys(queuetest.Drain(t, q)), thumbs: map[string]string{}, classes: map[string]string{}}
		for _, s := range plan.Stale { // a dry run lists them all
			o.stale = append(o.stale, s.Key)
		}
		sub := st
		if sh.Count > 1 {
			sub = store.Sub(st, "shard-"+itoa(sh.Index)+"-of-"+itoa(sh.Count)+"/")
		}
		s := loadState(t, sub)
		for k, th := range s.Thumbs.All() {
			th.JobAt, th.Pregen = 0, 0 // when it ran, not what it decided
			b, _ := json.Marshal(th)
			o.thumbs[k] = string(b)
		}
		for suffix, c := range s.Classes {
			if c.Reads+c.Misses > 0 { // a class known only from thumbnails never read holds nothing to rank
				b, _ := json.Marshal(struct{ Reads, Misses int64 }{c.Reads, c.Misses})
				o.classes[suffix] = string(b)
			}
		}
		return o
	}
	one := run(analytics.Shard{}, fileStore(t, ""))
	if len(one.jobs) == 0 || len(one.stale) == 0 {
		t.Fatalf("one analyzer: %d jobs, %d stale; want some of each to compare", len(one.jobs), len(one.stale))
	}
	shared := fileStore(t, "") // one state store for the four
	var jobs, stale []string
	thumbs := map[string]string{}
	for i := range 4 {
		o := run(analytics.Shard{Index: i, Count: 4}, shared)
		if len(o.jobs) == 0 || len(o.jobs) == len(one.jobs) {
			t.Errorf("shard %d queued %d of %d jobs: want a share", i, len(o.jobs), len(one.jobs))
		}
		jobs, stale = append(jobs, o.jobs...), append(stale, o.stale...)
		for k, th := range o.thumbs {
			if _, dup := thumbs[k]; dup {
				t.Errorf("thumbnail %s in two shards", k)
			}
			thumbs[k] = th
		}
		if !maps.Equal(o.classes, one.classes) {
			for k, v := range one.classes {
				if o.classes[k] != v {
					t.Errorf("shard %d counts size class %s as %s, one analyzer as %s", i, k, o.classes[k], v)
					break
				}
			}
		}
	}
	slices.Sort(jobs)
	slices.Sort(stale)
	slices.Sort(one.jobs)
	slices.Sort(one.stale)
	if !slices.Equal(jobs, one.jobs) {
		t.Errorf("the shards queued %d jobs, one analyzer %d; not the same", len(jobs), len(one.jobs))
	}
	if !slices.Equal(stale, one.stale) {
		t.Errorf("the shards listed %d stale, one analyzer %d; not the same", len(stale), len(one.stale))
	}
	if !maps.Equal(thumbs, one.thumbs) {
		t.Errorf("the shards hold %d thumbnails, one analyzer %d; not the same counts", len(thumbs), len(one.thumbs))
		for k, th := range one.thumbs {
			if thumbs[k] != th {
				t.Errorf("%s: shards %s\none analyzer %s", k, thumbs[k], th)
				break
			}
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }
