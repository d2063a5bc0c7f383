package analytics_test

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// The client cap holds across runs, whatever order records come in, for
// the dedupe window (48h): a record of day D 23:30 delivered 26h late is
// capped as it would have been on time (found by review: the identities
// were filed under D 00:00 and pruned too soon).
func TestClientCapAcrossRuns(t *testing.T) {
	d := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := func(id string, at time.Time, ip, key string) *accesslog.Record {
		return &accesslog.Record{Time: at, RequestID: id, Operation: accesslog.OpWebsiteGetObject, Key: key,
			HTTPStatus: 200, ObjectSize: 10, RemoteIP: ip, UserAgent: "Mozilla/5.0"}
	}
	r1 := rec("r1", d.Add(10*time.Minute), "198.51.100.7", "p/a_200x200.jpg")
	r2 := rec("r2", d.Add(49*time.Hour+30*time.Minute), "198.51.100.8", "p/b_200x200.jpg")
	r3 := rec("r3", d.Add(23*time.Hour+30*time.Minute), "198.51.100.7", "p/a_200x200.jpg")
	count := func(runs ...[]*accesslog.Record) int64 {
		s := state.NewState()
		for _, run := range runs {
			a := analytics.NewAggregator(s)
			a.ClientCap = 1
			for _, r := range run {
				a.Add(r)
			}
			s.Prune(9, analytics.DefaultDedupeWindow) // as Run does
		}
		o := s.Originals["p/a"]
		return o.Reads + o.Misses
	}
	one := count([]*accesslog.Record{r1, r3, r2})
	two := count([]*accesslog.Record{r1, r2}, []*accesslog.Record{r3})
	if one != two {
		t.Errorf("p/a's requests counted as demand: %d in one run, %d when r3 comes in the next run (26h late, within the 48h dedupe window)", one, two)
	}
}

// Which class a capped client's requests count for does not depend on
// the order records are delivered in.
func TestClientCapClassOrder(t *testing.T) {
	d := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id, key string, m time.Duration) *accesslog.Record {
		return &accesslog.Record{Time: d.Add(m), RequestID: id, Operation: accesslog.OpWebsiteGetObject, Key: key,
			HTTPStatus: 200, ObjectSize: 10, RemoteIP: "198.51.100.7", UserAgent: "Mozilla/5.0"}
	}
	a1, a2 := mk("1", "p/a_200x200.jpg", time.Hour), mk("2", "p/a_400x400.jpg", 2*time.Hour)
	share := func(rs ...*accesslog.Record) int64 {
		s := state.NewState()
		ag := analytics.NewAggregator(s)
		ag.ClientCap = 1
		for _, r := range rs {
			ag.Add(r)
		}
		return s.Classes["_200x200.jpg"].Reads
	}
	if x, y := share(a1, a2), share(a2, a1); x != y {
		t.Errorf("class _200x200.jpg reads: %d in time order, %d when the later record is delivered first", x, y)
	}
}
