package state

import (
	"testing"
	"time"
)

// TestCompactKeepsNoPhantomOriginal: an original named like a thumbnail
// (RoleOriginal) must not leave, through link, an original of the stem it
// would be a thumbnail of, which every daily compaction would find stale,
// delete, and see made again: each compaction would renumber and force a
// whole base though it dropped nothing.
func TestCompactKeepsNoPhantomOriginal(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s := NewState()
	s.Last = now.Unix()
	th := s.Thumb("p/banner_1200x630.jpg")
	th.Exists, th.Reads, th.LastRead = Stored, 1, now.Unix()
	s.SetRole(th, "p/banner_1200x630.jpg", RoleOriginal)
	s.Original("p/banner_1200x630").Direct = 5
	for day := range 3 {
		s.full = false
		at := now.Add(time.Duration(day+1) * 25 * time.Hour)
		n, err := s.Compact(at, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// The first may drop the original made for the stem when the key
		// was first seen as a thumbnail's; none after it drops anything.
		if s.full && day > 0 {
			t.Errorf("compaction %d dropped %d thumbnails and forces a whole base; originals now %v", day+1, n, keys(s.Originals))
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
