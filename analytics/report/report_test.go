package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestNumbersForPeople(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{bytesString(0), "0 B"},
		{bytesString(1023), "1023 B"},
		{bytesString(1024), "1.0 KiB"},
		{bytesString(5 << 30), "5.0 GiB"},
		{shortNumber(7), "7"},
		{shortNumber(2.5), "2.5"},
		{shortNumber(12_345), "12k"},
		{shortNumber(3_400_000), "3.4M"},
		{shortNumber(2e9), "2.0G"},
		{pct(0.2514), "25.1%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestEmptyReport: a report of a run that read nothing renders as text and
// as HTML without a chart's data.
func TestEmptyReport(t *testing.T) {
	var r Report
	r.Window = "7d"
	var text, page bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "thumbnail requests (7d)") ||
		!strings.Contains(text.String(), "no new log objects") {
		t.Errorf("WriteText: %v\n%s", err, text.String())
	}
	if err := r.WriteHTML(&page); err != nil || !strings.Contains(page.String(), "<svg") {
		t.Errorf("WriteHTML: %v", err)
	}
}

// TestOneDayHitRatio: the hit ratio of a report with one day of data is
// drawn (a dot), not a line of one point that draws nothing.
func TestOneDayHitRatio(t *testing.T) {
	r := Report{Window: "7d", Days: []DayReport{{Date: "2026-03-01", HitRatio: 0.5}}}
	r.Days[0].Requests, r.Days[0].Hits = 10, 5
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `class="ratio-dot"><title>2026-03-01: 50.0%</title>`) {
		t.Errorf("no dot for the one day's hit ratio")
	}
}
