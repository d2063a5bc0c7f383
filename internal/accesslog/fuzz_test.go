package accesslog

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// checkS3RoundTrip writes rec back with AppendS3, parses the line again and
// compares what the analyzer relies on.
func checkS3RoundTrip(t *testing.T, rec *Record) {
	t.Helper()
	line := AppendS3(nil, rec, rec.Fields)
	if bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("AppendS3 wrote %q: want exactly one line", line)
	}
	var again Record
	var p Parser
	if err := p.ParseS3(line, &again); err != nil {
		t.Fatalf("parse of AppendS3(%+v) = %v\nline %q", rec, err, line)
	}
	bare := func(s string) string { return string(appendBare(nil, undashString(s))) }
	switch {
	case again.Key != rec.Key:
		t.Errorf("key %q became %q\nline %q", rec.Key, again.Key, line)
	case again.HTTPStatus != rec.HTTPStatus:
		t.Errorf("status %d became %d", rec.HTTPStatus, again.HTTPStatus)
	case !again.Time.Equal(rec.Time):
		t.Errorf("time %v became %v", rec.Time, again.Time)
	case bare(again.Operation) != bare(rec.Operation):
		t.Errorf("operation %q became %q", rec.Operation, again.Operation)
	case bare(again.Bucket) != bare(rec.Bucket):
		t.Errorf("bucket %q became %q", rec.Bucket, again.Bucket)
	case again.BytesSent != rec.BytesSent || again.ObjectSize != rec.ObjectSize || again.TotalTime != rec.TotalTime:
		t.Errorf("sizes and times %d %d %v became %d %d %v", rec.BytesSent, rec.ObjectSize, rec.TotalTime,
			again.BytesSent, again.ObjectSize, again.TotalTime)
	case again.Fields != min(rec.Fields, S3FieldsLatest):
		t.Errorf("%d fields became %d", rec.Fields, again.Fields)
	}
}

// undashString maps the log's "-" to "", as parsing the written value does.
func undashString(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// checkSane checks what every parsed record must satisfy.
func checkSane(t *testing.T, rec *Record) {
	t.Helper()
	if rec.HTTPStatus != 0 && (rec.HTTPStatus < 100 || rec.HTTPStatus > 599) {
		t.Errorf("status %d out of range", rec.HTTPStatus)
	}
	if y := rec.Time.Year(); y < minYear || y > maxYear || rec.Time.Location().String() != "UTC" {
		t.Errorf("time %v out of range or not UTC", rec.Time)
	}
	if rec.BytesSent < 0 || rec.ObjectSize < 0 || rec.TotalTime < 0 || rec.TurnAround < 0 {
		t.Errorf("negative count in %+v", rec)
	}
	if rec.Operation == "" {
		t.Errorf("no operation in %+v", rec)
	}
}

// checkLean parses line with a Parser that skips every field it can, as
// the analyzer's does, and checks that it agrees with full, the record
// (and error) of a Parser that keeps them all, on every field it keeps.
func checkLean(t *testing.T, line []byte, full *Record, fullErr error) {
	t.Helper()
	lean := Parser{Skip: FieldBucketOwner | FieldRemoteIP | FieldRequester | FieldReferer | FieldUserAgent |
		FieldHostHeader | FieldTLS | FieldAccessPoint | FieldRequestID}
	var rec Record
	err := lean.ParseS3(line, &rec)
	if (err == nil) != (fullErr == nil) {
		t.Fatalf("lean parser: %v; full parser: %v", err, fullErr)
	}
	if err != nil {
		return
	}
	want := Record{Format: full.Format, Fields: full.Fields, Bucket: full.Bucket, Time: full.Time,
		Operation: full.Operation, Key: full.Key, HTTPStatus: full.HTTPStatus, ErrorCode: full.ErrorCode,
		BytesSent: full.BytesSent, ObjectSize: full.ObjectSize, TotalTime: full.TotalTime,
		TurnAround: full.TurnAround, VersionID: full.VersionID}
	if full.RequestID != "" {
		want.RequestIDHash = HashPart(HashStart, full.RequestID)
	}
	want.ClientHash, want.Crawler = ClientOf(full.RemoteIP, full.UserAgent)
	if !rec.Time.Equal(want.Time) {
		t.Fatalf("lean parser: time %v, full parser %v", rec.Time, want.Time)
	}
	rec.Time = want.Time
	if rec != want {
		t.Fatalf("lean parser:\n%+v\nwant\n%+v", rec, want)
	}
}

func FuzzParseS3Line(f *testing.F) {
	for _, s := range []string{era18, era24, era25, era26, era27, era27 + ` new "quoted field"`,
		`o b [06/Feb/2019:00:00:38 +0000] - - ID REST.GET.OBJECT %2522 "GET /" HTTP/1.1" 403 AccessDenied 243 - 8 - "r" "u"" - h - - - host -`,
		`o b [06/Feb/2019:00:00:38 -0130] - - ID S3.EXPIRE.OBJECT a%25b "-" 204 - - - - - - - -`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p := Parser{Full: true}
		var rec Record
		err := p.ParseS3(line, &rec)
		checkLean(t, line, &rec, err)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseS3 error %v (%T) is not a ParseError", err, err)
			}
			return
		}
		if rec.Fields < S3FieldsMin {
			t.Fatalf("parsed a record of %d fields", rec.Fields)
		}
		checkSane(t, &rec)
		checkS3RoundTrip(t, &rec)
	})
}

func FuzzCloudFront(f *testing.F) {
	f.Add([]byte(CloudFrontHeader + cfHit + "\n" + cfError + "\n"))
	f.Add([]byte("#Fields: sc-status cs-uri-stem time date cs-method\n304\t/a%2520b\t01:02:03\t2024-02-29\tHEAD\n"))
	f.Add([]byte("#Version: 1.0\n#Fields: date time cs-uri-stem sc-status\n2024-02-29\t01:02:03\t/x\t000\t\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), Config{MaxLineBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		schema, err := ParseCloudFrontFields([]byte(cfFields))
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		for {
			err := r.Read(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // a gzip stream that does not decode is a read error, not a panic
			}
			checkSane(t, &rec)
			if rec.Format == FormatS3 {
				checkS3RoundTrip(t, &rec)
				continue
			}
			line := AppendCloudFront(nil, &rec)
			var again Record
			var p Parser
			if err := p.ParseCloudFront(schema, line, &again); err != nil {
				t.Fatalf("parse of AppendCloudFront(%+v) = %v\nline %q", rec, err, line)
			}
			if again.Key != rec.Key || again.HTTPStatus != rec.HTTPStatus || !again.Time.Equal(rec.Time) ||
				again.Operation != rec.Operation {
				t.Errorf("round trip changed key, status, time or operation:\n got %+v\nwant %+v\nline %q", again, rec, line)
			}
		}
		st := r.Stats()
		if st.Records+st.Malformed > st.Lines {
			t.Errorf("stats %+v: more records and malformed lines than lines", st)
		}
	})
}
