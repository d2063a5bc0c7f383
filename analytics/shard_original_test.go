package analytics

import (
	"fmt"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// An original named like a thumbnail (uploaded by a person): the shard
// that owns its SplitThumb stem learns its role from the upload and takes
// its reads back from the class; another shard counts them for the class
// forever, so shards did not rank classes alike (found by review).
func TestMisnamedOriginalAcrossShards(t *testing.T) {
	key := "social/banner_1200x630.jpg"

	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	counts := map[int]int64{}
	for idx := range 2 {
		s := state.NewState()
		a := NewAggregator(s)
		a.Shard = Shard{Index: idx, Count: 2}
		n := 0
		add := func(at time.Time, op string, agent string) {
			n++
			a.Add(&accesslog.Record{Time: at, RequestID: fmt.Sprint(n), Operation: op, Key: key, HTTPStatus: 200, ObjectSize: 10, RemoteIP: fmt.Sprintf("10.0.0.%d", n), UserAgent: agent})
		}
		add(now.Add(-2*time.Hour), accesslog.OpRESTPutObject, "aws-cli/2.0")
		for i := range 20 {
			add(now.Add(-time.Hour+time.Duration(i)*time.Second), accesslog.OpWebsiteGetObject, "Mozilla/5.0")
		}
		var c int64
		if cl := s.Classes["_1200x630.jpg"]; cl != nil {
			c = cl.Since(state.DayOf(now.Unix()) - 30)
		}
		counts[idx] = c
	}
	if counts[0] != counts[1] {
		t.Errorf("shards rank class _1200x630.jpg differently: %v", counts)
	}
}
