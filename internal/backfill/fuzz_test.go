package backfill

import (
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// FuzzParseSizes: any input is read or refused without panicking; every
// size read prints back to itself and makes thumbnail keys that the key
// grammar reads back exactly.
func FuzzParseSizes(f *testing.F) {
	for _, s := range []string{"200x200", "400x_fit,x300_fill@2x", "1x1@3x", "200", "x", "_fit", "200x200@2x_fit", "99999x99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sizes, err := ParseSizes(s)
		if err != nil {
			return
		}
		for _, size := range sizes {
			back, err := ParseSizes(size.String())
			if err != nil || len(back) != 1 || back[0] != size {
				t.Fatalf("%q: size %+v prints as %q, which reads back as %+v, %v", s, size, size.String(), back, err)
			}
			k := size.Key("photos/", "earth", "webp")
			parsed, err := thumbkey.Parse(k.String())
			if err != nil || parsed != k {
				t.Fatalf("%q: key %q reads back as %+v, %v; want %+v", s, k.String(), parsed, err, k)
			}
		}
	})
}

// FuzzParseSince: any input is read or refused without panicking, and a
// time read prints (RFC 3339) as a time that reads back as the same instant.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"2026-01-02", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.5+02:00", "yesterday", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSince(s)
		if err != nil {
			return
		}
		back, err := ParseSince(got.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(got) {
			t.Fatalf("%q reads as %v, which prints as %q and reads back as %v, %v", s, got, got.Format(time.RFC3339Nano), back, err)
		}
	})
}
