package accesslog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every record of src and returns the request IDs in order.
func readAll(t *testing.T, r *Reader) []string {
	t.Helper()
	var ids []string
	var rec Record
	for {
		err := r.Read(&rec)
		if errors.Is(err, io.EOF) {
			return ids
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		ids = append(ids, rec.RequestID)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newReader(t *testing.T, src io.Reader, cfg Config) *Reader {
	t.Helper()
	r, err := NewReader(src, cfg)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return r
}

func TestReaderS3(t *testing.T) {
	log := strings.Join([]string{
		era18,
		"",
		era24,
		"garbage line",
		era25 + "\r",
		strings.Replace(era26, "06/Feb/2019", "06/Foo/2019", 1),
		era26,
		strings.Repeat("x", 300), // over the 256-byte limit below
		era27,                    // last line without a newline
	}, "\n")
	wantIDs := []string{"DD6CC733AEXAMPLE", "3E57427F3EXAMPLE", "891CE47D2EXAMPLE", "A1206F460EXAMPLE", "7B4A0FABBEXAMPLE"}
	wantStats := func(t *testing.T, r *Reader) {
		t.Helper()
		st := r.Stats()
		if st.Lines != 9 || st.Records != 5 || st.Malformed != 3 {
			t.Errorf("stats = %d lines, %d records, %d malformed; want 9, 5, 3", st.Lines, st.Records, st.Malformed)
		}
		if len(st.Samples) != 2 {
			t.Fatalf("kept %d samples, want MaxSamples 2", len(st.Samples))
		}
		if s := st.Samples[0]; s.Line != 4 || !strings.Contains(s.Reason, "fields") || s.Text != "garbage line" {
			t.Errorf("first sample = %+v, want line 4, too few fields, the line's text", s)
		}
		if s := st.Samples[1]; s.Line != 6 || !strings.Contains(s.Reason, "time") {
			t.Errorf("second sample = %+v, want line 6, a bad time", s)
		}
		want(t, "Format", r.Format(), FormatS3)
	}
	// The records are up to about 600 bytes long; the 2000 x's are too long.
	cfg := Config{MaxLineBytes: 1024, MaxSamples: 2}
	long := strings.Replace(log, strings.Repeat("x", 300), strings.Repeat("x", 2000), 1)

	t.Run("plain", func(t *testing.T) {
		r := newReader(t, strings.NewReader(long), cfg)
		if got := readAll(t, r); strings.Join(got, " ") != strings.Join(wantIDs, " ") {
			t.Errorf("request IDs = %v, want %v", got, wantIDs)
		}
		wantStats(t, r)
	})
	t.Run("gzip", func(t *testing.T) {
		r := newReader(t, bytes.NewReader(gzipped(t, long)), cfg)
		if got := readAll(t, r); strings.Join(got, " ") != strings.Join(wantIDs, " ") {
			t.Errorf("request IDs = %v, want %v", got, wantIDs)
		}
		wantStats(t, r)
	})
	t.Run("one byte at a time", func(t *testing.T) {
		r := newReader(t, iotest.OneByteReader(strings.NewReader(long)), cfg)
		if got := readAll(t, r); len(got) != len(wantIDs) {
			t.Errorf("read %d records, want %d", len(got), len(wantIDs))
		}
		wantStats(t, r)
	})
	t.Run("reset", func(t *testing.T) {
		r := newReader(t, bytes.NewReader(gzipped(t, long)), cfg)
		readAll(t, r)
		r.Reset(strings.NewReader(era18 + "\n"))
		if got := readAll(t, r); len(got) != 1 || got[0] != "DD6CC733AEXAMPLE" {
			t.Errorf("after Reset read %v, want the one record", got)
		}
		if st := r.Stats(); st.Lines != 1 || st.Records != 1 || st.Malformed != 0 || len(st.Samples) != 0 {
			t.Errorf("stats after Reset = %+v, want one line and one record", st)
		}
	})
}

func TestReaderOverLongLastLine(t *testing.T) {
	r := newReader(t, strings.NewReader(era18+"\n"+strings.Repeat("y", 5000)), Config{MaxLineBytes: 1024})
	if got := readAll(t, r); len(got) != 1 {
		t.Errorf("read %d records, want 1", len(got))
	}
	if st := r.Stats(); st.Malformed != 1 || !strings.Contains(st.Samples[0].Reason, "longer than 1024") {
		t.Errorf("stats = %+v, want the long line counted as malformed", st)
	}
}

func TestReaderCloudFront(t *testing.T) {
	log := CloudFrontHeader + cfHit + "\n" + "not\ta\trecord\n" + cfError + "\n"
	for name, src := range map[string][]byte{"plain": []byte(log), "gzip": gzipped(t, log)} {
		t.Run(name, func(t *testing.T) {
			r := newReader(t, bytes.NewReader(src), Config{})
			got := readAll(t, r)
			if len(got) != 2 || !strings.HasPrefix(got[0], "SOX4") || !strings.HasPrefix(got[1], "1pkp") {
				t.Errorf("request IDs = %v, want the two records", got)
			}
			want(t, "Format", r.Format(), FormatCloudFront)
			if st := r.Stats(); st.Lines != 5 || st.Records != 2 || st.Malformed != 1 {
				t.Errorf("stats = %+v, want 5 lines, 2 records, 1 malformed", st)
			}
		})
	}
}

func TestReaderCloudFrontWithoutFields(t *testing.T) {
	r := newReader(t, strings.NewReader("#Version: 1.0\n"+cfHit+"\n#Fields: date time\n"+cfHit+"\n"), Config{})
	if got := readAll(t, r); len(got) != 0 {
		t.Errorf("read %v, want no records without a usable #Fields header", got)
	}
	if st := r.Stats(); st.Malformed != 3 {
		t.Errorf("stats = %+v, want 3 malformed (two records, one header)", st)
	}
}

func TestReaderReadErrors(t *testing.T) {
	broken := errors.New("connection reset")
	t.Run("plain", func(t *testing.T) {
		src := io.MultiReader(strings.NewReader(era18+"\n"+era24[:50]), iotest.ErrReader(broken))
		r := newReader(t, src, Config{})
		var rec Record
		if err := r.Read(&rec); err != nil {
			t.Fatalf("first Read: %v", err)
		}
		if err := r.Read(&rec); !errors.Is(err, broken) {
			t.Errorf("second Read = %v, want the read error", err)
		}
		if err := r.Read(&rec); !errors.Is(err, broken) {
			t.Errorf("Read after the error = %v, want it again", err)
		}
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		z := gzipped(t, strings.Repeat(era18+"\n", 100))
		z[len(z)/2] ^= 0xff
		r := newReader(t, bytes.NewReader(z), Config{})
		var rec Record
		var err error
		for err == nil {
			err = r.Read(&rec)
		}
		if errors.Is(err, io.EOF) {
			t.Errorf("reading a corrupt gzip stream ended with EOF, want an error")
		}
	})
	t.Run("truncated gzip header", func(t *testing.T) {
		r := newReader(t, bytes.NewReader([]byte{0x1f, 0x8b, 8}), Config{})
		var rec Record
		if err := r.Read(&rec); err == nil || errors.Is(err, io.EOF) {
			t.Errorf("Read = %v, want a gzip error", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		r := newReader(t, strings.NewReader(""), Config{})
		var rec Record
		if err := r.Read(&rec); !errors.Is(err, io.EOF) {
			t.Errorf("Read = %v, want EOF", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if _, err := NewReader(strings.NewReader(""), Config{MaxLineBytes: 10}); err == nil {
		t.Error("NewReader accepted a 10-byte line limit")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

// TestReaderResetBytes: ResetBytes gives the same records, counts and
// samples as Reset of a bytes.Reader over the same text, for logs of every
// kind of line: records, blank lines, garbage, lines a byte or two either
// side of MaxLineBytes with and without a newline at the end, CloudFront
// logs and gzip.
func TestReaderResetBytes(t *testing.T) {
	const max = 1024
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{era18, era24, era25 + "\r", era26, era27, "", "garbage", "  "}
	for n := max - 3; n <= max+2; n++ {
		pieces = append(pieces, strings.Repeat("y", n))
	}
	var logs [][]byte
	for range 300 {
		var lines []string
		for range rng.IntN(12) {
			lines = append(lines, pieces[rng.IntN(len(pieces))])
		}
		log := strings.Join(lines, "\n")
		if rng.IntN(2) == 0 {
			log += "\n"
		}
		logs = append(logs, []byte(log))
	}
	logs = append(logs, []byte(cfFields+"\n"+cfHit+"\n"), gzipped(t, era18+"\n"+era27+"\n"), nil)
	read := func(r *Reader) ([]Record, Stats) {
		var recs []Record
		for {
			var rec Record
			err := r.Read(&rec)
			if errors.Is(err, io.EOF) {
				return recs, r.Stats()
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			recs = append(recs, rec)
		}
	}
	stream := newReader(t, nil, Config{MaxLineBytes: max})
	mem := newReader(t, nil, Config{MaxLineBytes: max})
	for i, log := range logs {
		stream.Reset(bytes.NewReader(log))
		mem.ResetBytes(log)
		wantRecs, wantStats := read(stream)
		recs, stats := read(mem)
		if !reflect.DeepEqual(recs, wantRecs) || !reflect.DeepEqual(stats, wantStats) {
			t.Fatalf("log %d %q:\nResetBytes: %d records, %+v\nReset:      %d records, %+v",
				i, log, len(recs), stats, len(wantRecs), wantStats)
		}
	}
}
