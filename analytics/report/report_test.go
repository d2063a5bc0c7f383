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
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "thumbnail requests (7d)") {
		t.Errorf("WriteText: %v\n%s", err, text.String())
	}
	if err := r.WriteHTML(&page); err != nil || !strings.Contains(page.String(), "<svg") {
		t.Errorf("WriteHTML: %v", err)
	}
}
