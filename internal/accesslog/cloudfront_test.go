package accesslog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// cfFields is the #Fields line of CloudFront's standard (legacy) log, as in
// AWS's documented example.
var cfFields = strings.Split(CloudFrontHeader, "\n")[1]

// cfRow joins the 33 values of a standard log record.
func cfRow(vals ...string) string { return strings.Join(vals, "\t") }

// Records modelled on the example log in CloudFront's "Standard log file
// fields" documentation.
var (
	cfHit = cfRow("2019-12-04", "21:02:31", "LAX1", "392", "192.0.2.100", "GET", "d111111abcdef8.cloudfront.net",
		"/photos/img00042_200x200.jpg", "200", "-",
		"Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36",
		"-", "-", "Hit", "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==", "d111111abcdef8.cloudfront.net",
		"https", "23", "0.001", "-", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Hit", "HTTP/2.0", "-", "-", "11040",
		"0.001", "Hit", "image/jpeg", "7800", "-", "-")
	cfError = cfRow("2019-12-13", "22:36:27", "SEA19-C1", "900", "192.0.2.200", "GET", "d111111abcdef8.cloudfront.net",
		"/photos/my%2520cat_400x.webp", "502", "http://www.example.com/", "curl/7.55.1", "w=1", "-", "Error",
		"1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==", "www.example.com", "http", "675", "0.102", "-",
		"-", "-", "Error", "HTTP/1.1", "-", "-", "25260", "0.102", "OriginDnsError", "text/html", "507", "-", "-")
)

func TestParseCloudFront(t *testing.T) {
	schema, err := ParseCloudFrontFields([]byte(cfFields + "\n"))
	if err != nil {
		t.Fatalf("ParseCloudFrontFields: %v", err)
	}
	if schema.Columns() != 33 {
		t.Fatalf("standard header has %d columns, want 33", schema.Columns())
	}
	tests := []struct {
		name string
		line string
		want Record
	}{
		{"hit", cfHit, Record{
			Format: FormatCloudFront, Fields: 33, Bucket: "d111111abcdef8.cloudfront.net",
			Time: time.Date(2019, 12, 4, 21, 2, 31, 0, time.UTC), RemoteIP: "192.0.2.100",
			RequestID: "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==", Operation: OpCloudFrontGet,
			Key: "photos/img00042_200x200.jpg", RequestURI: "GET /photos/img00042_200x200.jpg HTTP/2.0",
			HTTPStatus: 200, BytesSent: 392, ObjectSize: 7800, TotalTime: time.Millisecond,
			UserAgent:   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36",
			CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", HostHeader: "d111111abcdef8.cloudfront.net", TLSVersion: "TLSv1.2",
			EdgeResult: "Hit",
		}},
		{"origin error with a double-encoded space", cfError, Record{
			Format: FormatCloudFront, Fields: 33, Bucket: "d111111abcdef8.cloudfront.net",
			Time: time.Date(2019, 12, 13, 22, 36, 27, 0, time.UTC), RemoteIP: "192.0.2.200",
			RequestID: "1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==", Operation: OpCloudFrontGet,
			Key: "photos/my cat_400x.webp", RequestURI: "GET /photos/my%2520cat_400x.webp?w=1 HTTP/1.1",
			HTTPStatus: 502, ErrorCode: "OriginDnsError", BytesSent: 900, ObjectSize: 507, TotalTime: 102 * time.Millisecond,
			Referer: "http://www.example.com/", UserAgent: "curl/7.55.1", HostHeader: "www.example.com", EdgeResult: "Error",
		}},
		{"a trailing tab", cfHit + "\t", Record{}},
		{"the viewer left: status 000", strings.Replace(cfHit, "\t200\t", "\t000\t", 1), Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Full: true}
			var got Record
			if err := p.ParseCloudFront(schema, []byte(tt.line+"\n"), &got); err != nil {
				t.Fatalf("ParseCloudFront: %v", err)
			}
			if tt.want.Format != FormatUnknown && got != tt.want {
				t.Errorf("ParseCloudFront:\n got %+v\nwant %+v", got, tt.want)
			}
			want(t, "Kind", got.Kind(), KindRead)
		})
	}
}

func TestParseCloudFrontByHeader(t *testing.T) {
	// Columns in another order, some missing and some unknown: read by name.
	schema, err := ParseCloudFrontFields([]byte("#Fields: sc-status x-new-field cs-uri-stem time date cs-method c-ip"))
	if err != nil {
		t.Fatalf("ParseCloudFrontFields: %v", err)
	}
	var p Parser
	var r Record
	if err := p.ParseCloudFront(schema, []byte("304\tzzz\t/a/b%2520c.png\t01:02:03\t2024-02-29\tHEAD\t2001:db8::7"), &r); err != nil {
		t.Fatalf("ParseCloudFront: %v", err)
	}
	want(t, "HTTPStatus", r.HTTPStatus, 304)
	want(t, "Key", r.Key, "a/b c.png")
	want(t, "Time", r.Time, time.Date(2024, 2, 29, 1, 2, 3, 0, time.UTC))
	want(t, "Operation", r.Operation, OpCloudFrontHead)
	want(t, "RemoteIP", r.RemoteIP, "2001:db8::7")
	want(t, "Kind", r.Kind(), KindHead)

	// No cs-method column: the record is taken to be a GET.
	schema, err = ParseCloudFrontFields([]byte("#Fields: date time cs-uri-stem sc-status"))
	if err != nil {
		t.Fatalf("ParseCloudFrontFields: %v", err)
	}
	if err := p.ParseCloudFront(schema, []byte("2024-02-29\t01:02:03\t/x.jpg\t200"), &r); err != nil {
		t.Fatalf("ParseCloudFront: %v", err)
	}
	want(t, "Operation", r.Operation, OpCloudFrontGet)
}

func TestParseCloudFrontFieldsErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"#Version: 1.0",
		"date time cs-uri-stem sc-status",
		"#Fields: time cs-uri-stem sc-status",
		"#Fields: date time sc-status",
		"#Fields: date time cs-uri-stem",
		"#Fields: date time cs-uri-stem sc-status date",
	} {
		if _, err := ParseCloudFrontFields([]byte(line)); !errors.Is(err, ErrNoFields) {
			t.Errorf("ParseCloudFrontFields(%q) = %v, want ErrNoFields", line, err)
		}
	}
}

func TestParseCloudFrontMalformed(t *testing.T) {
	schema, err := ParseCloudFrontFields([]byte(cfFields))
	if err != nil {
		t.Fatal(err)
	}
	col := func(i int, v string) string {
		vals := strings.Split(cfHit, "\t")
		vals[i] = v
		return strings.Join(vals, "\t")
	}
	tests := []struct{ name, line, field string }{
		{"empty", "", "line"},
		{"too few columns", strings.Join(strings.Split(cfHit, "\t")[:20], "\t"), "fields"},
		{"bad date", col(0, "2019-13-04"), "date-time"},
		{"bad time", col(1, "21:02"), "date-time"},
		{"bad status", col(8, "20"), "sc-status"},
		{"status 600", col(8, "600"), "sc-status"},
		{"bad byte count", col(3, "3.5"), "sc-bytes"},
		{"bad time taken", col(18, "0,001"), "time-taken"},
		{"bad method", col(5, "get"), "cs-method"},
		{"bad escape in the path", col(7, "/a%2"), "cs-uri-stem"},
		{"bad escape after the first decoding", col(7, "/100%25.jpg"), "cs-uri-stem"},
		{"binary garbage", "\x00\xff\t\x1f\x8b", "fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			var r Record
			err := p.ParseCloudFront(schema, []byte(tt.line), &r)
			var pe *ParseError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &pe) || pe.Field != tt.field {
				t.Errorf("ParseCloudFront(%q) = %v, want a ParseError about %q", tt.line, err, tt.field)
			}
		})
	}
}

func TestAppendCloudFrontRoundTrip(t *testing.T) {
	schema, err := ParseCloudFrontFields([]byte(cfFields))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"photos/img00042_200x200.jpg", "photos/summer holiday_400x.webp",
		"photos/100%_x300.jpg", "photos/café~1_800x600_fit@2x.jpg", `a"b<c>#{|}^[]'_200x.png`, ""} {
		rec := Record{
			Format: FormatCloudFront, Fields: 33, Bucket: "d111111abcdef8.cloudfront.net",
			Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), RemoteIP: "192.0.2.1", RequestID: "abc==",
			Operation: OpCloudFrontGet, Key: key, HTTPStatus: 200, BytesSent: 1234, ObjectSize: 1000,
			TotalTime: 1234 * time.Millisecond, Referer: "https://example.com/a b", UserAgent: "Mozilla/5.0 (X11)",
			HostHeader: "img.example.com", TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", EdgeResult: "Miss",
		}
		line := AppendCloudFront(nil, &rec)
		var p Parser
		var got Record
		if err := p.ParseCloudFront(schema, line, &got); err != nil {
			t.Fatalf("ParseCloudFront(AppendCloudFront(%q)) = %v\nline %q", key, err, line)
		}
		if got != rec {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v\nline %q", key, got, rec, line)
		}
	}
}
