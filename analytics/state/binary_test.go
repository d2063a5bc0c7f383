package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"
)

// withChecksum makes body a file the checksum passes, so that fuzzing
// reaches the decoder behind it: what a buggy build might have written.
func withChecksum(body []byte) []byte {
	b := append([]byte(binaryMagic), body...)
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
		got, err := decodeBinary(withChecksum(body))
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
