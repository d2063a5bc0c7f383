package state_test

import (
	"testing"

	"github.com/s3thumb/s3thumb/analytics/state"
)

// A key named like a thumbnail that turns out to be an original takes
// back only its own requests, and never other clients (found by review:
// it dropped every client seen before the key's first day). Here the class and the original had 5
// clients over days 100..104; the misnamed key was first seen on day 104.
func TestSetRoleKeepsOtherClients(t *testing.T) {
	s := state.NewState()
	other := s.Thumb("p/a_200x200.jpg") // a real thumbnail of p/a
	for d := int32(100); d <= 104; d++ {
		tm := int64(d)*86400 + 3600
		other.Add(tm, false)
		s.ClassOf(other).Add(tm, d, false)
		s.ClassOf(other).AddClient(uint64(d)<<40, d)
		s.OriginalOf(other).Add(tm, d, false)
		s.OriginalOf(other).AddClient(uint64(d)<<40, d)
	}
	m := s.Thumb("q/b_200x200.jpg") // same class "_200x200.jpg"
	tm := int64(104)*86400 + 7200
	m.FirstSeen = tm
	m.Add(tm, false)
	s.ClassOf(m).Add(tm, 104, false)
	s.ClassOf(m).AddClient(uint64(999)<<40, 104)
	before := s.ClassOf(other).ClientsSince(100)
	s.SetRole(m, "q/b_200x200.jpg", state.RoleOriginal)
	after := s.ClassOf(other).ClientsSince(100)
	// Which clients were the key's alone is not kept (the set holds a few
	// clients, not who asked what), so its client may stay; the others
	// must.
	if after < before-1 {
		t.Errorf("class clients since day 100: %d before, %d after taking back one key's one client", before, after)
	}
}
