package analytics_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/store"
)

// everything is every part of a state, as JSON, to compare two states.
func everything(t *testing.T, s *state.State) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Thumbs, Originals, Classes, Days, Done, Totals, Seen, Asked, ForeignOriginals any
		Watermark, First, Last, Compacted                                             int64
		LastRun                                                                       time.Time
	}{s.Thumbs, s.Originals, s.Classes, s.Days, s.Done, s.Totals, s.Seen, s.Asked, s.ForeignOriginals, s.Watermark, s.First, s.Last, s.Compacted, s.LastRun})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBinaryStateRoundTrip: a state of two days of generated logs, and a
// run's queueing and checks, reads back whole from its binary form.
func TestBinaryStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 2, nil)
	st := fileStore(t, "")
	if _, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, logDir), State: st, Now: g.Now}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	s := loadState(t, st)
	if s.Thumbs.Len() == 0 || s.Seen.Len() == 0 || s.Asked.Len() == 0 || len(s.Originals) == 0 {
		t.Fatalf("a state of %d thumbnails, %d originals, %d record identities, %d asked: want some of each",
			s.Thumbs.Len(), len(s.Originals), s.Seen.Len(), s.Asked.Len())
	}
	s.ForeignOriginals["social/banner_1200x630.jpg"] = s.Last - 3600
	var buf bytes.Buffer
	if err := state.EncodeState(&buf, s); err != nil {
		t.Fatal(err)
	}
	if !state.IsBinary(buf.Bytes()) {
		t.Fatal("EncodeState did not write the binary format")
	}
	again, err := state.DecodeState(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := everything(t, s), everything(t, again); a != b {
		t.Errorf("the state read back differs from the one written (%d vs %d bytes of JSON)", len(a), len(b))
	}
}

// TestBinaryStateRefused: a binary state cut short, changed anywhere, of
// another version, or with a count its bytes cannot hold is refused with
// ErrBadState, and so is what is not a state at all.
func TestBinaryStateRefused(t *testing.T) {
	good := sampleState(t)
	if !state.IsBinary(good) {
		t.Fatal("the sample is not in the binary format")
	}
	resum := func(b []byte) []byte {
		body := b[:len(b)-4]
		return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	}
	magic := len("s3thumb analyzer state\n")
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	version := bytes.Clone(good)
	version[magic] = 9
	huge := append(bytes.Clone(good[:magic+1]), 0xff, 0xff, 0xff, 0xff, 0x0f) // base, then a count no input holds
	huge = append(huge, make([]byte, 8)...)
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"cut short":         {good[:len(good)-9], "checksum"},
		"a byte changed":    {flipped, "checksum"},
		"another version":   {resum(version), "version 9"},
		"a count too large": {resum(huge), ""},
		"magic only":        {[]byte("s3thumb analyzer state\n"), "cut short"},
		"a PNG":             {[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ""},
		"trailing bytes":    {resum(append(bytes.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0)), "after the state"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := state.DecodeState(bytes.NewReader(tc.in))
			if !errors.Is(err, state.ErrBadState) || s != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want ErrBadState saying %q", s, err, tc.want)
			}
		})
	}
}

// TestStateMigrates: a state in the old format (gzip JSON, under the old
// key) is read, and the first save writes the binary one and removes the
// old, so no later run reads the old one again.
func TestStateMigrates(t *testing.T) {
	ctx := context.Background()
	st := fileStore(t, "")
	old := `{"version":1,"done":{},"first":1772359200,"last":1772449200,"last_run":"2026-03-02T12:00:00Z",` +
		`"thumbs":{"photos/a_200x200.jpg":{"reads":3,"last":1772449200,"exists":1}},"originals":{},"classes":{},"days":{},"seen":{}}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(old))
	zw.Close()
	if err := st.Put(ctx, layout.AnalyzerStateV1, gz.Bytes(), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s := loadState(t, st)
	if th, err := s.ThumbState("photos/a_200x200.jpg"); err != nil || th.Reads != 3 {
		t.Fatalf("the old state read as %+v, %v", th, err)
	}
	if err := state.SaveState(ctx, st, s); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Head(ctx, layout.AnalyzerStateV1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old state is still there after a save (%v)", err)
	}
	if th, err := loadState(t, st).ThumbState("photos/a_200x200.jpg"); err != nil || th.Reads != 3 {
		t.Errorf("the migrated state reads %+v, %v", th, err)
	}
}
