package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

// withChecksum makes body, after magic (binaryMagic or deltaMagic), a
// file the checksum passes, so that fuzzing reaches the decoder behind it:
// what a buggy build might have written.
func withChecksum(magic string, body []byte) []byte {
	b := append([]byte(magic), body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// FuzzDecodeBinary: whatever a file that passes the checksum holds, the
// decoder refuses it with ErrBadState or returns a state that encodes and
// decodes again, never panics or allocates beyond what the input holds.
func FuzzDecodeBinary(f *testing.F) {
	s := NewState()
	s.Last = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	s.Done["2026-03-01-00-00-00-A"] = s.Last
	s.Thumb("p/a_200x200.jpg").Reads = 3
	s.Original("p/b").AddClient(42<<32, 20513)
	s.Seen.Add(s.Last, 7)
	s.Asked.Add(s.Last, 0)
	good := encodeBinary(nil, s)
	f.Add(good[len(binaryMagic) : len(good)-4])
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				panic(fmt.Sprintf("decoding %x takes more than 3s", body))
			}
		}()
		got, err := decodeBinary(withChecksum(binaryMagic, body))
		if err != nil {
			if !errors.Is(err, ErrBadState) || got != nil {
				t.Fatalf("got %v, %v; want nil and ErrBadState", got, err)
			}
			return
		}
		again, err := decodeBinary(encodeBinary(nil, got))
		if err != nil {
			t.Fatalf("decode what was encoded: %v", err)
		}
		if again.Thumbs.Len() != got.Thumbs.Len() || len(again.Originals) != len(got.Originals) {
			t.Fatalf("round trip lost parts")
		}
	})
}

// TestBinaryOlderVersions: states of versions 3 and 2 (thumbnails without
// their original's and class's numbers; 2 also without foreign originals)
// are read as they were written, numbered as version 4 numbers them.
func TestBinaryOlderVersions(t *testing.T) {
	s := NewState()
	s.Last = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, key := range []string{"p/z_200x200.jpg", "p/a_200x200.jpg", "p/a_100x.webp", "q/m_200x200.jpg", "p/banner_1200x630.jpg"} {
		s.Thumb(key).Reads = int64(len(key))
	}
	s.SetRole(s.Thumbs.Get("p/banner_1200x630.jpg"), "p/banner_1200x630.jpg", RoleOriginal)
	want := describe(t, mustDecode(t, encodeBinary(nil, s)), true)
	v3 := encodeVersion(nil, s, 3)
	if got := describe(t, mustDecode(t, v3), true); got != want {
		t.Errorf("version 3 reads as\n%s\nwant\n%s", got, want)
	}
	// Version 2: no foreign originals; their count, 0, ends the body.
	v2 := bytes.Clone(v3[:len(v3)-5])
	v2[len(binaryMagic)] = 2
	v2 = binary.LittleEndian.AppendUint32(v2, crc32.Checksum(v2, castagnoli))
	if got := describe(t, mustDecode(t, v2), true); got != want {
		t.Errorf("version 2 reads as\n%s\nwant\n%s", got, want)
	}
}

func mustDecode(t *testing.T, b []byte) *State {
	t.Helper()
	s, err := decodeBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// describe lists each thumbnail with its reads, role, and the stem and
// suffix of the original and class it counts for, and the numbers of both
// when numbers is set (without, states numbered apart compare equal).
func describe(t *testing.T, s *State, numbers bool) string {
	t.Helper()
	var b strings.Builder
	for r := range int32(s.Thumbs.Len()) {
		th := s.Thumbs.Row(r)
		suffix := ""
		for k, c := range s.Classes {
			if c == s.ClassOf(th) {
				suffix = k
			}
		}
		fmt.Fprintf(&b, "%s reads %d role %d: original %s, class %s", s.Thumbs.Key(r), th.Reads, th.Role, s.OriginalOf(th).Stem(), suffix)
		if numbers {
			fmt.Fprintf(&b, " (%d, %d)", th.orig, th.class)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
