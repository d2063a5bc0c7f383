package analytics_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// sampleState is a small state with every part filled in.
func sampleState(t testing.TB) []byte {
	t.Helper()
	s := state.NewState()
	agg := analytics.NewAggregator(s)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, r := range []accesslog.Record{
		{Operation: accesslog.OpWebsiteGetObject, Key: "photos/a_200x200.jpg", HTTPStatus: 404},
		{Operation: accesslog.OpRESTPutObject, Key: "photos/a_200x200.jpg", HTTPStatus: 200, ObjectSize: 900},
		{Operation: accesslog.OpWebsiteGetObject, Key: "photos/a_200x200.jpg", HTTPStatus: 200, ObjectSize: 900},
		{Operation: accesslog.OpRESTPutObject, Key: "photos/b.jpg", HTTPStatus: 200},
		{Operation: accesslog.OpWebsiteGetObject, Key: "photos/b_400x.webp", HTTPStatus: 404},
	} {
		r.Time = at.Add(time.Duration(i) * 25 * time.Hour)
		r.RequestID = string(rune('A' + i))
		agg.Add(&r)
	}
	s.Done["2026-03-01-11-00-00-ABC"] = at.Unix()
	var buf bytes.Buffer
	if err := state.EncodeState(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeStateRejectsCorruption(t *testing.T) {
	good := sampleState(t)
	if _, err := state.DecodeState(bytes.NewReader(good)); err != nil {
		t.Fatalf("a state as written: %v", err)
	}
	tests := map[string]string{
		"empty":           "",
		"not JSON":        "hello",
		"truncated":       string(good[:len(good)/2]),
		"unknown version": `{"version":2,"done":{},"thumbs":{},"originals":{},"classes":{},"days":{},"seen":{}}`,
		"a part missing":  `{"version":1,"done":{},"thumbs":{},"originals":{},"classes":{},"days":{}}`,
		"null thumbnail":  `{"version":1,"done":{},"thumbs":{"photos/a_200x200.jpg":null},"originals":{},"classes":{},"days":{},"seen":{}}`,
		"null original":   `{"version":1,"done":{},"thumbs":{},"originals":{"photos/a":null},"classes":{},"days":{},"seen":{}}`,
		"null class":      `{"version":1,"done":{},"thumbs":{},"originals":{},"classes":{"_200x200.jpg":null},"days":{},"seen":{}}`,
		"null day":        `{"version":1,"done":{},"thumbs":{},"originals":{},"classes":{},"days":{"5":null},"seen":{}}`,
		"not a thumbnail": `{"version":1,"done":{},"thumbs":{"photos/a.jpg":{}},"originals":{},"classes":{},"days":{},"seen":{}}`,
		"days out of order": `{"version":1,"done":{},"thumbs":{"photos/a_200x200.jpg":{"recent":[{"d":5,"n":1},{"d":4,"n":1}]}},` +
			`"originals":{},"classes":{},"days":{},"seen":{}}`,
		"negative count": `{"version":1,"done":{},"thumbs":{},"originals":{"photos/a":{"reads":-1}},"classes":{},"days":{},"seen":{}}`,
		"bad identities": `{"version":1,"done":{},"thumbs":{},"originals":{},"classes":{},"days":{},"seen":{"1":"AAAA"}}`,
		"trailing data":  string(good) + `{"version":1}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := state.DecodeState(bytes.NewReader([]byte(in)))
			if !errors.Is(err, state.ErrBadState) || s != nil {
				t.Fatalf("got %v, %v; want ErrBadState", s, err)
			}
		})
	}
}

// TestLoadStateCorrupt: a state object whose gzip is damaged stops the
// run with ErrBadState instead of starting again from nothing.
func TestLoadStateCorrupt(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(sampleState(t))
	zw.Close()
	gz := buf.Bytes()
	damaged := bytes.Clone(gz)
	damaged[len(damaged)-6] ^= 0xff // the checksum
	for name, body := range map[string][]byte{"not gzip": []byte("{}"), "bad checksum": damaged, "truncated": gz[:len(gz)-20]} {
		t.Run(name, func(t *testing.T) {
			st := fileStore(t, "")
			if err := st.Put(ctx, "analyzer-state.json.gz", body, store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := state.LoadState(ctx, st); !errors.Is(err, state.ErrBadState) {
				t.Fatalf("load: %v, want ErrBadState", err)
			}
			_, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, ""), State: st}).Run(ctx)
			if !errors.Is(err, state.ErrBadState) {
				t.Fatalf("run: %v, want ErrBadState", err)
			}
		})
	}
}

// FuzzDecodeState: whatever the bytes, DecodeState returns a usable state
// or ErrBadState, never panics; a state it accepts encodes, decodes again
// and takes new records.
func FuzzDecodeState(f *testing.F) {
	good := sampleState(f)
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte(`{"version":1,"done":{},"thumbs":{},"originals":{},"classes":{},"days":{},"seen":{}}`))
	f.Add([]byte(`{"version":1,"done":{},"thumbs":{"photos/a_200x200.jpg":null},"originals":{},"classes":{},"days":{},"seen":{}}`))
	f.Add([]byte(`{"version":1,"done":{},"thumbs":{"photos/a_200x200.jpg":{"recent":[{"d":9,"n":1}]}},"originals":{},"classes":{},"days":{"9":{}},"seen":{"100":"AAAAAAAAAAA="}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := state.DecodeState(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, state.ErrBadState) || s != nil {
				t.Fatalf("got %v, %v; want nil and ErrBadState", s, err)
			}
			return
		}
		agg := analytics.NewAggregator(s)
		for i, key := range []string{"photos/a_200x200.jpg", "photos/a.jpg", "photos/z_100x100.png"} {
			agg.Add(&accesslog.Record{Time: time.Unix(1_780_000_000+int64(i)*90_000, 0), RequestID: "fuzz",
				Operation: accesslog.OpWebsiteGetObject, Key: key, HTTPStatus: 200})
		}
		var buf bytes.Buffer
		if err := state.EncodeState(&buf, s); err != nil {
			t.Fatalf("encode an accepted state: %v", err)
		}
		if _, err := state.DecodeState(&buf); err != nil {
			t.Fatalf("decode what was encoded: %v", err)
		}
	})
}
