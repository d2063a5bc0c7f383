package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"

	"github.com/s3thumb/s3thumb/internal/accesslog"
)

// Seen remembers the identities of recent records (a 64-bit hash of request
// ID, operation and key), grouped by the hour of the record's time, so that
// a record delivered twice is counted once. Hours older than the duplicate
// window are forgotten: memory grows with the records of the window, not
// with all records. Each hour is a flat table of numbers, reused once its
// hour is forgotten, so adding costs no allocation in the steady state and
// the garbage collector nothing.
type Seen struct {
	hours    map[int64]*idSet
	lastHour int64
	last     *idSet
	sizeHint int
	free     []*idSet // tables of forgotten hours, for new hours

	// With journal set (see State.saved), the changes since the state was
	// last loaded or saved: the identities added, by hour, since the hour
	// was last forgotten, and the hours forgotten.
	journal   bool
	added     map[int64][]uint64
	forgotten map[int64]bool
}

// maxFreeSets bounds the forgotten tables kept for reuse.
const maxFreeSets = 4

// NewSeen returns an empty set.
func NewSeen() *Seen {
	return &Seen{hours: make(map[int64]*idSet)}
}

// Add records the identity id of a record made at unix time t and reports
// whether it is new.
func (s *Seen) Add(t int64, id uint64) bool {
	h := t / 3600
	if s.last == nil || h != s.lastHour {
		m := s.hours[h]
		if m == nil {
			m = s.newSet(s.sizeHint)
			s.hours[h] = m
		}
		s.last, s.lastHour = m, h
	}
	if !s.last.add(id) {
		return false
	}
	s.sizeHint = max(s.sizeHint, s.last.len())
	if s.journal {
		s.added[h] = append(s.added[h], id)
	}
	return true
}

// startJournal starts recording changes anew (see Seen.journal).
func (s *Seen) startJournal() {
	s.journal, s.added, s.forgotten = true, make(map[int64][]uint64), make(map[int64]bool)
}

// newSet returns an empty table for about n identities, reusing a
// forgotten one when there is one.
func (s *Seen) newSet(n int) *idSet {
	if k := len(s.free); k > 0 {
		m := s.free[k-1]
		s.free = s.free[:k-1]
		return m
	}
	return newIDSet(n)
}

// Len is the number of identities held.
func (s *Seen) Len() int {
	n := 0
	for _, m := range s.hours {
		n += m.len()
	}
	return n
}

// Prune forgets the hours that end before unix time t.
func (s *Seen) Prune(t int64) {
	for h, m := range s.hours {
		if (h+1)*3600 <= t {
			delete(s.hours, h)
			if s.journal {
				delete(s.added, h)
				s.forgotten[h] = true
			}
			if len(s.free) < maxFreeSets {
				m.reset()
				s.free = append(s.free, m)
			}
		}
	}
	s.last = nil
}

// idSet is a set of identities: open addressing with linear probing in a
// table whose size is a power of two, at most 3/4 full. 0 marks an empty
// slot; identity 0 is held apart.
type idSet struct {
	slots []uint64
	n     int // identities in slots
	zero  bool
}

// newIDSet returns a set with room for n identities before it grows.
func newIDSet(n int) *idSet {
	size := 16
	for 3*size < 4*n {
		size *= 2
	}
	return &idSet{slots: make([]uint64, size)}
}

func (m *idSet) len() int {
	if m.zero {
		return m.n + 1
	}
	return m.n
}

// slot is where the search for id starts: its top bits, mixed (identities
// are hashes, but those in a state file are whatever the file says).
func (m *idSet) slot(id uint64) int {
	return int((id * 0x9E3779B97F4A7C15) >> (64 - bits.TrailingZeros(uint(len(m.slots)))))
}

// add adds id and reports whether it is new.
func (m *idSet) add(id uint64) bool {
	if id == 0 {
		added := !m.zero
		m.zero = true
		return added
	}
	if 4*(m.n+1) > 3*len(m.slots) {
		m.grow()
	}
	mask := len(m.slots) - 1
	for i := m.slot(id); ; i = (i + 1) & mask {
		switch m.slots[i] {
		case id:
			return false
		case 0:
			m.slots[i] = id
			m.n++
			return true
		}
	}
}

// grow doubles the table.
func (m *idSet) grow() {
	old := m.slots
	m.slots, m.n = make([]uint64, 2*len(old)), 0
	for _, id := range old {
		if id != 0 {
			m.add(id)
		}
	}
}

// reset empties the set, keeping its table.
func (m *idSet) reset() {
	clear(m.slots)
	m.n, m.zero = 0, false
}

// sorted returns the identities in order.
func (m *idSet) sorted() []uint64 {
	ids := make([]uint64, 0, m.len())
	if m.zero {
		ids = append(ids, 0)
	}
	for _, id := range m.slots {
		if id != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// MarshalJSON writes each hour's identities as sorted little-endian bytes
// (base64 in JSON): compact, and the same for the same set.
func (s *Seen) MarshalJSON() ([]byte, error) {
	out := make(map[int64][]byte, len(s.hours))
	for h, m := range s.hours {
		ids := m.sorted()
		b := make([]byte, 8*len(ids))
		for i, id := range ids {
			binary.LittleEndian.PutUint64(b[8*i:], id)
		}
		out[h] = b
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Seen) UnmarshalJSON(b []byte) error {
	var in map[int64][]byte
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	s.hours = make(map[int64]*idSet, len(in))
	s.last = nil
	for h, raw := range in {
		if len(raw)%8 != 0 {
			return fmt.Errorf("record identities of hour %d: %d bytes, not a multiple of 8", h, len(raw))
		}
		m := newIDSet(len(raw) / 8)
		for i := 0; i < len(raw); i += 8 {
			m.add(binary.LittleEndian.Uint64(raw[i:]))
		}
		s.hours[h] = m
		s.sizeHint = max(s.sizeHint, m.len())
	}
	return nil
}

// RecordID is a record's identity: the hash of its request ID (as the
// parser gives it, accesslog.FieldRequestID) continued with its operation
// and key. It allocates nothing.
func RecordID(idHash uint64, op, key string) uint64 {
	return accesslog.HashEnd(accesslog.HashPart(accesslog.HashPart(idHash, op), key))
}
