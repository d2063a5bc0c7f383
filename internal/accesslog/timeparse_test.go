package accesslog

import "testing"

// TestUnixBounds: the bounds civilTime checks are the first instants of
// minYear and of the year after maxYear.
func TestUnixBounds(t *testing.T) {
	if got := daysFromCivil(minYear, 1, 1) * 86400; got != minUnix {
		t.Errorf("minUnix = %d, want %d", minUnix, got)
	}
	if got := daysFromCivil(maxYear+1, 1, 1) * 86400; got != maxUnix {
		t.Errorf("maxUnix = %d, want %d", maxUnix, got)
	}
}
