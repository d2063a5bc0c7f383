package analytics

import (
	"testing"
	"time"
)

// TestLifecycleDue: S3 adds the rule's days to the write time and rounds
// up to the next midnight UTC.
func TestLifecycleDue(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	tests := []struct {
		written string
		days    int
		want    string
	}{
		{"2014-01-15T10:30:00Z", 3, "2014-01-19T00:00:00Z"}, // AWS's own example
		{"2026-03-01T23:59:59Z", 10, "2026-03-12T00:00:00Z"},
		{"2026-03-01T00:00:01Z", 10, "2026-03-12T00:00:00Z"},
		{"2026-03-01T00:00:00Z", 10, "2026-03-11T00:00:00Z"}, // on midnight: stays (errs early)
		{"2026-02-28T12:00:00Z", 1, "2026-03-02T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := lifecycleDue(at(tt.written), tt.days); got != at(tt.want) {
			t.Errorf("lifecycleDue(%s, %d) = %s, want %s", tt.written, tt.days, time.Unix(got, 0).UTC().Format(time.RFC3339), tt.want)
		}
	}
}
