package analytics_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestFeedbackLearnsTheSite closes the loop through logs and runs: a run
// queues jobs with their expected reads; the site then reads each with the
// chance 1 - exp(-0.25·expected) (its pages show sizes less than the
// estimate says); a run a week later measures those outcomes, learns K near
// 0.25 from them, and holds its own jobs to the waste budget.
func TestFeedbackLearnsTheSite(t *testing.T) {
	const trueK = 0.25
	ctx := context.Background()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	bucket := fileStore(t, "")
	logs := fileStore(t, "")
	st := fileStore(t, "")
	q, err := queue.OpenFile(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putLog := func(at time.Time, name string, l *testLog) {
		t.Helper()
		if err := logs.Put(ctx, accesslog.SimpleLogKey("", at, name), l.data, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A week of reads: half the originals shown at 200x200, half at
	// 400x400, each original from 1 to 40 times.
	var week testLog
	for i := range 400 {
		orig := "p/o" + strconv.Itoa(i)
		if err := bucket.Put(ctx, orig+".jpg", []byte("x"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		class := "_200x200.jpg"
		if i%2 == 1 {
			class = "_400x400.jpg"
		}
		n := 1 + (i*7)%40
		for r := range n {
			at := t0.Add(-time.Duration(1+r*160/n) * time.Hour)
			week.add(accesslog.Record{Time: at, Operation: accesslog.OpWebsiteGetObject, Key: orig + class, HTTPStatus: 200, ObjectSize: 10})
		}
	}
	putLog(t0.Add(-30*time.Minute), "WEEK", &week)
	run := func(at time.Time, maxUnread float64) *report.Report {
		t.Helper()
		cfg := analytics.DefaultConfig()
		cfg.AsOf, cfg.MaxUnread, cfg.MaxJobs = at, maxUnread, 100_000
		a, err := analytics.New(cfg, analytics.Deps{Logs: logs, State: st, Bucket: bucket, Queue: q})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := a.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	first := run(t0, 1) // no budget: every candidate, to learn from
	if first.JobsQueued < 300 {
		t.Fatalf("first run queued %d jobs, want each original's other size", first.JobsQueued)
	}
	// The next week: each queued thumbnail (the state remembers them all,
	// the report the first hundred) is made (s3thumb's write) and read with
	// the site's chance.
	rng := rand.New(rand.NewPCG(1, 2))
	var next testLog
	queued := 0
	for key, th := range loadState(t, st).Thumbs.All() {
		if th.JobAt < t0.Unix() || th.JobAt > t0.Add(time.Minute).Unix() {
			continue
		}
		queued++
		next.add(accesslog.Record{Time: t0.Add(time.Minute), Operation: accesslog.OpRESTPutObject, Key: key, HTTPStatus: 200,
			ObjectSize: 10, UserAgent: "aws-sdk-go-v2/1.41.0 app/s3thumb"})
		if rng.Float64() < -math.Expm1(-trueK*float64(th.JobExp)) {
			next.add(accesslog.Record{Time: t0.Add(time.Duration(1+rng.IntN(140)) * time.Hour), Operation: accesslog.OpWebsiteGetObject,
				Key: key, HTTPStatus: 200, ObjectSize: 10})
		}
	}
	// The pages go on as before, and start showing a third size, 100x100,
	// for a quarter of the originals: a class popular now, whose
	// thumbnails the others lack.
	for i := range 400 {
		class := "_200x200.jpg"
		if i%2 == 1 {
			class = "_400x400.jpg"
		}
		n := 1 + (i*7)%40
		for r := range n {
			next.add(accesslog.Record{Time: t0.Add(time.Duration(30+r*130/n) * time.Hour), Operation: accesslog.OpWebsiteGetObject,
				Key: "p/o" + strconv.Itoa(i) + class, HTTPStatus: 200, ObjectSize: 10})
		}
	}
	for i := 0; i < 400; i += 4 {
		n := 1 + (i*7)%40
		for r := range n {
			next.add(accesslog.Record{Time: t0.Add(time.Duration(30+r*130/n) * time.Hour), Operation: accesslog.OpWebsiteGetObject,
				Key: "p/o" + strconv.Itoa(i) + "_100x100.jpg", HTTPStatus: 200, ObjectSize: 10})
		}
	}
	if queued != first.JobsQueued {
		t.Fatalf("the state remembers %d jobs, the report says %d were queued", queued, first.JobsQueued)
	}
	putLog(t0.Add(7*24*time.Hour), "NEXT", &next)
	second := run(t0.Add(8*24*time.Hour), 0.25)
	var hot report.Outcome
	for _, o := range second.Outcomes {
		if o.Why == report.WhyHot {
			hot = o
		}
	}
	if hot.Matured != first.JobsQueued || math.Abs(hot.K-trueK) > 0.25*trueK {
		t.Errorf("outcomes %+v; want %d matured hot jobs and K near %v", second.Outcomes, first.JobsQueued, trueK)
	}
	if second.JobsQueued == 0 || second.OverBudget == 0 || second.PlannedUnread > 0.25 {
		t.Errorf("second run: %d jobs, %d left out, %.1f%% expected unread; want some of each, within the 25%% budget",
			second.JobsQueued, second.OverBudget, 100*second.PlannedUnread)
	}
	t.Logf("first run: %d jobs; measured %d of %d unread (%.1f%%), K %.3f; second run: %d jobs, %.1f%% expected unread, %d left out",
		first.JobsQueued, hot.Unread, hot.Matured, 100*hot.UnreadShare, hot.K, second.JobsQueued, 100*second.PlannedUnread, second.OverBudget)
}
