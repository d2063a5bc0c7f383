package analytics

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/s3thumb/s3thumb/analytics/accesslog"
)

// Seen remembers the identities of recent records (a 64-bit hash of request
// ID, operation and key), grouped by the hour of the record's time, so that
// a record delivered twice is counted once. Hours older than the duplicate
// window are forgotten: memory grows with the records of the window, not
// with all records.
type Seen struct {
	hours    map[int64]map[uint64]struct{}
	lastHour int64
	last     map[uint64]struct{}
	sizeHint int
}

// NewSeen returns an empty set.
func NewSeen() *Seen {
	return &Seen{hours: make(map[int64]map[uint64]struct{})}
}

// Add records the identity id of a record made at unix time t and reports
// whether it is new.
func (s *Seen) Add(t int64, id uint64) bool {
	h := t / 3600
	if s.last == nil || h != s.lastHour {
		m := s.hours[h]
		if m == nil {
			m = make(map[uint64]struct{}, s.sizeHint)
			s.hours[h] = m
		}
		s.last, s.lastHour = m, h
	}
	if _, ok := s.last[id]; ok {
		return false
	}
	s.last[id] = struct{}{}
	if len(s.last) > s.sizeHint {
		s.sizeHint = len(s.last)
	}
	return true
}

// Len is the number of identities held.
func (s *Seen) Len() int {
	n := 0
	for _, m := range s.hours {
		n += len(m)
	}
	return n
}

// Prune forgets the hours that end before unix time t.
func (s *Seen) Prune(t int64) {
	for h := range s.hours {
		if (h+1)*3600 <= t {
			delete(s.hours, h)
		}
	}
	s.last = nil
}

// MarshalJSON writes each hour's identities as sorted little-endian bytes
// (base64 in JSON): compact, and the same for the same set.
func (s *Seen) MarshalJSON() ([]byte, error) {
	out := make(map[int64][]byte, len(s.hours))
	for h, m := range s.hours {
		ids := make([]uint64, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		slices.Sort(ids)
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
	s.hours = make(map[int64]map[uint64]struct{}, len(in))
	s.last = nil
	for h, raw := range in {
		if len(raw)%8 != 0 {
			return fmt.Errorf("record identities of hour %d: %d bytes, not a multiple of 8", h, len(raw))
		}
		m := make(map[uint64]struct{}, len(raw)/8)
		for i := 0; i < len(raw); i += 8 {
			m[binary.LittleEndian.Uint64(raw[i:])] = struct{}{}
		}
		s.hours[h] = m
	}
	return nil
}

// recordID is a record's identity: the hash of its request ID (as the
// parser gives it, accesslog.FieldRequestID) continued with its operation
// and key. It allocates nothing.
func recordID(idHash uint64, op, key string) uint64 {
	return accesslog.HashEnd(accesslog.HashPart(accesslog.HashPart(idHash, op), key))
}
