package analytics_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// TestThumbsTable: many thumbnails, added through the aggregator as a run
// does (so that the table grows many times), are each found by their own
// key, as bytes (the parser's path) and as a string; keys not added are not
// found; the state round-trips through JSON with every one.
func TestThumbsTable(t *testing.T) {
	const n = 30_000
	s := state.NewState()
	agg := analytics.NewAggregator(s)
	key := func(i int) string { return fmt.Sprintf("p/img%d_%dx.webp", i/7, 100+i%7) }
	for i := range n {
		agg.Add(&accesslog.Record{Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), RequestIDHash: uint64(i + 1),
			Operation: accesslog.OpWebsiteGetObject, Key: key(i), HTTPStatus: 200, ObjectSize: int64(i + 1)})
	}
	if s.Thumbs.Len() != n {
		t.Fatalf("table holds %d thumbnails, want %d", s.Thumbs.Len(), n)
	}
	check := func(s *state.State, agg *analytics.Aggregator) {
		t.Helper()
		for i := range n {
			k := key(i)
			th, err := s.ThumbState(k)
			if err != nil || th.Size != int64(i+1) || th.Reads != 1 {
				t.Fatalf("%s: %+v, %v; want size %d, 1 read", k, th, err, i+1)
			}
			if got := agg.Key([]byte(k), agg.Hash([]byte(k))); got != k {
				t.Fatalf("Key(%q) = %q", k, got)
			}
		}
		for _, k := range []string{key(n), "p/img1_100x.webp.", "p/img1_100x.web", ""} {
			if _, err := s.ThumbState(k); err == nil {
				t.Errorf("%q found, never added", k)
			}
		}
	}
	check(s, agg)
	var buf bytes.Buffer
	if err := state.EncodeState(&buf, s); err != nil {
		t.Fatal(err)
	}
	back, err := state.DecodeState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	check(back, analytics.NewAggregator(back))
	seen := 0
	for k, th := range back.Thumbs.All() {
		if !strings.HasPrefix(k, "p/img") || th.Reads != 1 {
			t.Fatalf("All yields %q %+v", k, th)
		}
		seen++
	}
	if seen != n {
		t.Errorf("All yields %d thumbnails, want %d", seen, n)
	}
}

// TestDecodeStateBeforeTable: a state written before thumbnails lost their
// per-day counts decodes, keeps every other count, and is written without
// them.
func TestDecodeStateBeforeTable(t *testing.T) {
	old := `{"version":1,"done":{"2026-03-01-11-00-00-ABC":1772362800},"first":1772359200,"last":1772449200,` +
		`"last_run":"2026-03-02T12:00:00Z","thumbs":{"photos/a_200x200.jpg":{"reads":3,"misses":1,"last":1772449200,` +
		`"recent":[{"d":20513,"n":1},{"d":20514,"n":3}],"exists":1,"size":900,"write":1772362800,"exists_at":14178839609,"seen":1772359200}},` +
		`"originals":{"photos/a":{"reads":3,"misses":1,"last":1772449200,"recent":[{"d":20513,"n":1},{"d":20514,"n":3}],"key":"photos/a.jpg"}},` +
		`"classes":{"_200x200.jpg":{"reads":3,"misses":1,"last":1772449200,"recent":[{"d":20513,"n":1},{"d":20514,"n":3}]}},` +
		`"days":{"20513":{"requests":1,"misses":1}},"totals":{"runs":1,"log_objects":1,"lines":5,"records":5,"malformed":0,` +
		`"duplicates":0,"jobs_queued":0,"deleted":0,"bytes_freed":0},"seen":{}}`
	s, err := state.DecodeState(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	th, err := s.ThumbState("photos/a_200x200.jpg")
	want := state.Thumb{Reads: 3, Misses: 1, LastRead: 1772449200, Exists: state.Stored, Size: 900,
		LastWrite: 1772362800, ExistsAt: 14178839609, FirstSeen: 1772359200}
	if err != nil || th != want {
		t.Fatalf("thumbnail %+v, %v; want %+v", th, err, want)
	}
	if o := s.Originals["photos/a"]; o == nil || len(o.Recent) != 2 || o.Key != "photos/a.jpg" {
		t.Fatalf("original %+v", o)
	}
	var buf bytes.Buffer
	if err := state.EncodeState(&buf, s); err != nil {
		t.Fatal(err)
	}
	// Written again, in the binary format, it reads back the same: the old
	// format's state carries over.
	again, err := state.DecodeState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if th, err := again.ThumbState("photos/a_200x200.jpg"); err != nil || th != want {
		t.Errorf("after a round trip: thumbnail %+v, %v; want %+v", th, err, want)
	}
	if o := again.Originals["photos/a"]; o == nil || len(o.Recent) != 2 || o.Key != "photos/a.jpg" || !again.LastRun.Equal(s.LastRun) {
		t.Errorf("after a round trip: original %+v, last run %v", o, again.LastRun)
	}
}
