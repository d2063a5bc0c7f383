package state_test

import (
	"encoding/json"
	"testing"

	"github.com/s3thumb/s3thumb/analytics/state"
)

// TestSeen: an identity is new once per hour it is seen in, identity 0
// included; the set grows past its first table; pruning forgets whole
// hours, and hours reuse forgotten tables without remembering their
// identities; the JSON form round-trips.
func TestSeen(t *testing.T) {
	const hour = 3600
	s := state.NewSeen()
	for _, tc := range []struct {
		t    int64
		id   uint64
		want bool
	}{
		{10, 1, true},
		{20, 1, false},
		{30, 0, true},
		{40, 0, false},
		{hour + 5, 1, true}, // another hour
		{50, 1, false},      // back in the first hour
	} {
		if got := s.Add(tc.t, tc.id); got != tc.want {
			t.Errorf("Add(%d, %d) = %v, want %v", tc.t, tc.id, got, tc.want)
		}
	}
	// Many identities in one hour: the table grows; all stay known.
	const many = 10_000
	for i := uint64(0); i < many; i++ {
		if !s.Add(2*hour, i*0x100000001+7) {
			t.Fatalf("identity %d reported seen before", i)
		}
	}
	for i := uint64(0); i < many; i++ {
		if s.Add(2*hour+1, i*0x100000001+7) {
			t.Fatalf("identity %d reported new twice", i)
		}
	}
	if got, want := s.Len(), 3+many; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}

	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back := state.NewSeen()
	if err := json.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(back); string(b2) != string(b) || back.Len() != s.Len() {
		t.Errorf("round trip: %d identities, %d bytes; want %d, %d", back.Len(), len(b2), s.Len(), len(b))
	}
	if back.Add(2*hour, 7) || back.Add(30, 0) || !back.Add(30, 2) {
		t.Error("decoded set does not answer as the original")
	}

	s.Prune(2 * hour) // forgets hours 0 and 1
	if got := s.Len(); got != many {
		t.Errorf("after pruning, Len = %d, want %d", got, many)
	}
	// New hours take the forgotten tables, empty.
	for _, at := range []int64{3 * hour, 4 * hour} {
		if !s.Add(at, 1) || !s.Add(at, 0) || s.Add(at, 1) {
			t.Errorf("hour %d after pruning: identities 1 and 0 not new exactly once", at/hour)
		}
	}
}
