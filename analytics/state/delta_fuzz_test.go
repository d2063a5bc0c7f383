package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func fuzzBase(t testing.TB) []byte {
	s := NewState()
	s.Last = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	s.Done["2026-03-01-00-00-00-A"] = s.Last
	s.Thumb("p/a_200x200.jpg").Reads = 3
	s.Original("p/b").AddClient(42<<32, 20513)
	s.Seen.Add(s.Last, 7)
	s.Asked.Add(s.Last, 0)
	s.gen = 5
	return encodeBinary(nil, s)
}

// FuzzApplyDelta: whatever a delta that passes the checksum holds,
// applyDelta refuses it with ErrBadState or leaves a state whose own base
// is read back (as LoadState's next save would write it), and what a load
// and a run do after it (renumber, saved, a delta's and a base's encode,
// Prune, Compact) never panics or takes long.
func FuzzApplyDelta(f *testing.F) {
	base := fuzzBase(f)
	for _, change := range []func(s *State){
		func(s *State) {
			s.Thumbs.Get("p/a_200x200.jpg").Reads++
			s.Thumb("q/c_100x100.webp").Misses = 1
			s.Original("p/b").Direct = 4
			s.Seen.Add(s.Last+3600, 9)
			s.MarkRead("2026-03-01-01-00-00-B", s.Last)
		},
		func(s *State) {
			s.Thumbs.Get("p/a_200x200.jpg").Reads++
			th := s.Thumb("p/x_1200x630.jpg")
			th.Reads = 2
			s.SetRole(th, "p/x_1200x630.jpg", RoleOriginal)
			s.Class("_9x9.jpg").Add(s.Last, DayOf(s.Last), false)
			s.Seen.Add(s.Last+3600, 9)
			s.Seen.Prune(s.Last + 3600)
			s.ForeignOriginals["z/q_1x1.jpg"] = s.Last
			s.Day(DayOf(s.Last)).Hits = 3
			s.MarkRead("2026-03-01-01-00-00-B", s.Last)
		},
	} {
		s, err := decodeBinary(base)
		if err != nil {
			f.Fatal(err)
		}
		s.saved()
		change(s)
		good := encodeDelta(s, 1)
		f.Add(good[len(deltaMagic) : len(good)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic(fmt.Sprintf("applying %x takes more than 5s", body))
			}
		}()
		s, err := decodeBinary(base)
		if err != nil {
			t.Fatal(err)
		}
		if err := applyDelta(s, withChecksum(deltaMagic, body), 1); err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("got %v; want ErrBadState", err)
			}
			return
		}
		s.renumber()
		if _, err := decodeBinary(encodeBinary(nil, s)); err != nil {
			t.Fatalf("a delta accepted, and the base written from it refused: %v", err)
		}
		s.saved()
		_ = encodeDelta(s, 2)
		s.Prune(7, 48*time.Hour)
		s.Compact(time.Unix(s.Last, 0).Add(30*24*time.Hour), 7*24*time.Hour)
	})
}
