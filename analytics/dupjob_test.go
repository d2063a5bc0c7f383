package analytics

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// Pages show _200x200 in each original's own format, and _200x200.webp of
// every original. For a WebP original both popular classes name the same
// key: it is queued once (found by review).
func TestNoDuplicateJobs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := state.NewState()
	add := feeder(s)
	origs := []string{"w.webp"}
	for i := range 20 {
		origs = append(origs, fmt.Sprintf("j%d.jpg", i))
	}
	for _, o := range origs {
		key := "p/" + o
		stem := key[:len(key)-len(".jpg")]
		if o == "w.webp" {
			stem = "p/w"
		}
		add(now.Add(-48*time.Hour), accesslog.OpRESTPutObject, key, 200, "203.0.113.1", "uploader/1.0")
		for c := range 5 {
			ip := fmt.Sprintf("198.51.100.%d", c)
			at := now.Add(-time.Duration(c+1) * time.Hour)
			if o != "w.webp" { // own format of the JPEGs, stored
				add(at, accesslog.OpWebsiteGetObject, stem+"_200x200.jpg", 200, ip, "Mozilla/5.0")
			}
			add(at, accesslog.OpWebsiteGetObject, stem+"_200x200.webp", 404, ip, "Mozilla/5.0") // not stored
		}
	}
	p, err := plan(context.Background(), s, DefaultConfig(), now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, j := range p.Jobs {
		seen[j.Key]++
	}
	for k, c := range seen {
		if c > 1 {
			t.Errorf("%s queued %d times in one run (classes %+v)", k, c, p.Classes)
		}
	}
}
