package accesslog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Records modelled on the examples in AWS's "Amazon S3 server access log
// format" page, one per era of the format, plus the quirks seen in the wild.
const (
	owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
	// era18 is a 2014-era record: it ends with the version ID.
	era18 = owner + ` examplebucket [06/Feb/2014:00:01:57 +0000] 192.0.2.3 ` + owner +
		` DD6CC733AEXAMPLE REST.PUT.OBJECT s3-dg.pdf "PUT /examplebucket/s3-dg.pdf HTTP/1.1" 200 - - 4406583 41754 28 "-" "S3Console/0.4" -`
	hostID = "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
	// era24 adds host ID, signature version, cipher suite, authentication
	// type, host header and TLS version.
	era24 = owner + ` examplebucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ` + owner +
		` 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /examplebucket?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - ` +
		hostID + ` SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader examplebucket.s3.us-west-1.amazonaws.com TLSV1.1`
	// era25 adds the access point ARN.
	era25 = owner + ` examplebucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ` + owner +
		` 891CE47D2EXAMPLE REST.GET.LOGGING_STATUS - "GET /examplebucket?logging HTTP/1.1" 200 - 242 - 11 - "-" "S3Console/0.4" - ` +
		hostID + ` SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader examplebucket.s3.us-west-1.amazonaws.com TLSV1.2 -`
	// era26 adds aclRequired.
	era26 = owner + ` examplebucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ` + owner +
		` A1206F460EXAMPLE REST.GET.BUCKETPOLICY - "GET /examplebucket?policy HTTP/1.1" 404 NoSuchBucketPolicy 297 - 38 - "-" "S3Console/0.4" - ` +
		hostID + ` SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader examplebucket.s3.us-west-1.amazonaws.com TLSV1.2 ` +
		`arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes`
	// era27 adds the source region.
	era27 = owner + ` examplebucket [06/Feb/2019:00:01:00 +0000] 192.0.2.3 ` + owner +
		` 7B4A0FABBEXAMPLE REST.GET.OBJECT photos/2019/08/puppy.jpg "GET /examplebucket/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1" 200 - 2662992 3462992 70 10 "http://www.example.com/webservices" "curl/7.15.1" 3HL4kqtJvjVBH40Nrjfkd ` +
		hostID + ` SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader examplebucket.s3.us-west-1.amazonaws.com TLSv1.2 - Yes us-east-1`
)

func TestParseS3Eras(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Record
	}{
		{"18 fields", era18, Record{
			Format: FormatS3, Fields: 18, BucketOwner: owner, Bucket: "examplebucket",
			Time: time.Date(2014, 2, 6, 0, 1, 57, 0, time.UTC), RemoteIP: "192.0.2.3", Requester: owner,
			RequestID: "DD6CC733AEXAMPLE", Operation: OpRESTPutObject, Key: "s3-dg.pdf",
			RequestURI: "PUT /examplebucket/s3-dg.pdf HTTP/1.1", HTTPStatus: 200, ObjectSize: 4406583,
			TotalTime: 41754 * time.Millisecond, TurnAround: 28 * time.Millisecond, UserAgent: "S3Console/0.4",
		}},
		{"24 fields", era24, Record{
			Format: FormatS3, Fields: 24, BucketOwner: owner, Bucket: "examplebucket",
			Time: time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC), RemoteIP: "192.0.2.3", Requester: owner,
			RequestID: "3E57427F3EXAMPLE", Operation: "REST.GET.VERSIONING",
			RequestURI: "GET /examplebucket?versioning HTTP/1.1", HTTPStatus: 200, BytesSent: 113,
			TotalTime: 7 * time.Millisecond, UserAgent: "S3Console/0.4", HostID: hostID, SignatureVersion: "SigV2",
			CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", AuthType: "AuthHeader",
			HostHeader: "examplebucket.s3.us-west-1.amazonaws.com", TLSVersion: "TLSV1.1",
		}},
		{"25 fields", era25, Record{
			Format: FormatS3, Fields: 25, BucketOwner: owner, Bucket: "examplebucket",
			Time: time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC), RemoteIP: "192.0.2.3", Requester: owner,
			RequestID: "891CE47D2EXAMPLE", Operation: "REST.GET.LOGGING_STATUS",
			RequestURI: "GET /examplebucket?logging HTTP/1.1", HTTPStatus: 200, BytesSent: 242,
			TotalTime: 11 * time.Millisecond, UserAgent: "S3Console/0.4", HostID: hostID, SignatureVersion: "SigV4",
			CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", AuthType: "AuthHeader",
			HostHeader: "examplebucket.s3.us-west-1.amazonaws.com", TLSVersion: "TLSV1.2",
		}},
		{"26 fields", era26, Record{
			Format: FormatS3, Fields: 26, BucketOwner: owner, Bucket: "examplebucket",
			Time: time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC), RemoteIP: "192.0.2.3", Requester: owner,
			RequestID: "A1206F460EXAMPLE", Operation: "REST.GET.BUCKETPOLICY",
			RequestURI: "GET /examplebucket?policy HTTP/1.1", HTTPStatus: 404, ErrorCode: "NoSuchBucketPolicy",
			BytesSent: 297, TotalTime: 38 * time.Millisecond, UserAgent: "S3Console/0.4", HostID: hostID,
			SignatureVersion: "SigV4", CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", AuthType: "AuthHeader",
			HostHeader: "examplebucket.s3.us-west-1.amazonaws.com", TLSVersion: "TLSV1.2",
			AccessPointARN: "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP", ACLRequired: "Yes",
		}},
		{"27 fields", era27, Record{
			Format: FormatS3, Fields: 27, BucketOwner: owner, Bucket: "examplebucket",
			Time: time.Date(2019, 2, 6, 0, 1, 0, 0, time.UTC), RemoteIP: "192.0.2.3", Requester: owner,
			RequestID: "7B4A0FABBEXAMPLE", Operation: OpRESTGetObject, Key: "photos/2019/08/puppy.jpg",
			RequestURI: "GET /examplebucket/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1", HTTPStatus: 200,
			BytesSent: 2662992, ObjectSize: 3462992, TotalTime: 70 * time.Millisecond, TurnAround: 10 * time.Millisecond,
			Referer: "http://www.example.com/webservices", UserAgent: "curl/7.15.1", VersionID: "3HL4kqtJvjVBH40Nrjfkd",
			HostID: hostID, SignatureVersion: "SigV4", CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256", AuthType: "AuthHeader",
			HostHeader: "examplebucket.s3.us-west-1.amazonaws.com", TLSVersion: "TLSv1.2", ACLRequired: "Yes",
			SourceRegion: "us-east-1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Full: true}
			var got Record
			if err := p.ParseS3([]byte(tt.line+"\n"), &got); err != nil {
				t.Fatalf("ParseS3: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseS3:\n got %+v\nwant %+v", got, tt.want)
			}
			// Without Full, the unique fields are left out and nothing else changes.
			var lean Record
			if err := ParseS3Line([]byte(tt.line), &lean); err != nil {
				t.Fatalf("ParseS3Line: %v", err)
			}
			want := tt.want
			want.RequestURI, want.HostID = "", ""
			if lean != want {
				t.Errorf("ParseS3Line without Full:\n got %+v\nwant %+v", lean, want)
			}
		})
	}
}

func TestParseS3Quirks(t *testing.T) {
	const head = owner + ` thumbs [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE `
	const tail = ` - ` + hostID + ` - - - thumbs.s3-website-us-east-1.amazonaws.com -`
	tests := []struct {
		name  string
		line  string
		check func(t *testing.T, r Record)
	}{
		{"request key is encoded twice", head +
			`WEBSITE.GET.OBJECT photos/summer%2520holiday_200x200.jpg "GET /photos/summer%20holiday_200x200.jpg HTTP/1.1" 404 NoSuchKey 312 - 9 - "-" "Mozilla/5.0"` + tail,
			func(t *testing.T, r Record) {
				want(t, "Key", r.Key, "photos/summer holiday_200x200.jpg")
				want(t, "HTTPStatus", r.HTTPStatus, 404)
				want(t, "ErrorCode", r.ErrorCode, "NoSuchKey")
				want(t, "Kind", r.Kind(), KindRead)
			}},
		{"a percent sign in a requested key", head +
			`REST.GET.OBJECT photos/100%2525_x300.jpg "GET /thumbs/photos/100%25_x300.jpg HTTP/1.1" 200 - 20 20 9 8 "-" "aws-sdk-go-v2/1.0"` + tail,
			func(t *testing.T, r Record) { want(t, "Key", r.Key, "photos/100%_x300.jpg") }},
		{"lifecycle keys are encoded once", head +
			`S3.EXPIRE.OBJECT photos/100%25_x300.jpg "-" 204 - - 20 - - "-" "-"` + tail,
			func(t *testing.T, r Record) {
				want(t, "Key", r.Key, "photos/100%_x300.jpg")
				want(t, "HTTPStatus", r.HTTPStatus, 204)
				want(t, "Kind", r.Kind(), KindExpire)
			}},
		{"batch delete keys are encoded once", head +
			`BATCH.DELETE.OBJECT photos/a%20b_200x200.jpg - 204 - - 20 - - - -` + tail,
			func(t *testing.T, r Record) {
				want(t, "Key", r.Key, "photos/a b_200x200.jpg")
				want(t, "Kind", r.Kind(), KindDelete)
			}},
		{"an unescaped quote in the request URI", head +
			`REST.GET.OBJECT %2522 "GET /" HTTP/1.1" 403 AccessDenied 243 - 8 - "referer test" "curl/7.38.0"` + tail,
			func(t *testing.T, r Record) {
				want(t, "Key", r.Key, `"`)
				want(t, "HTTPStatus", r.HTTPStatus, 403)
				want(t, "Referer", r.Referer, "referer test")
				want(t, "UserAgent", r.UserAgent, "curl/7.38.0")
				want(t, "HostHeader", r.HostHeader, "thumbs.s3-website-us-east-1.amazonaws.com")
			}},
		{"a user agent ending in a raw quote", head +
			`WEBSITE.GET.OBJECT a_200x.jpg "GET /a_200x.jpg HTTP/1.1" 200 - 10 10 1 1 "https://example.com/some/url" "Mozilla/5.0 (iPad; CPU OS 13_1 like Mac OS X) Safari/604.1""` + tail,
			func(t *testing.T, r Record) {
				want(t, "UserAgent", r.UserAgent, `Mozilla/5.0 (iPad; CPU OS 13_1 like Mac OS X) Safari/604.1"`)
				want(t, "Fields", r.Fields, 24)
				want(t, "HostHeader", r.HostHeader, "thumbs.s3-website-us-east-1.amazonaws.com")
			}},
		{"bare dashes for referer and user agent", head +
			`REST.HEAD.OBJECT a.jpg "HEAD /thumbs/a.jpg HTTP/1.1" 200 - - 5 1 - - -` + tail,
			func(t *testing.T, r Record) {
				want(t, "Referer", r.Referer, "")
				want(t, "UserAgent", r.UserAgent, "")
				want(t, "Kind", r.Kind(), KindHead)
				want(t, "Fields", r.Fields, 24)
			}},
		{"a time zone other than UTC", strings.Replace(era18, "[06/Feb/2014:00:01:57 +0000]", "[06/Feb/2014:02:31:57 +0230]", 1),
			func(t *testing.T, r Record) { want(t, "Time", r.Time, time.Date(2014, 2, 6, 0, 1, 57, 0, time.UTC)) }},
		{"CRLF and trailing spaces", era18 + "  \r\n",
			func(t *testing.T, r Record) { want(t, "Fields", r.Fields, 18) }},
		{"an IPv6 client", strings.Replace(era18, "192.0.2.3", "2001:db8::1", 1),
			func(t *testing.T, r Record) { want(t, "RemoteIP", r.RemoteIP, "2001:db8::1") }},
		{"fields added after the newest known", era27 + ` SomethingNew "quoted new"`,
			func(t *testing.T, r Record) {
				want(t, "Fields", r.Fields, 29)
				want(t, "SourceRegion", r.SourceRegion, "us-east-1")
			}},
		{"a key that is a dash", head +
			`REST.PUT.OBJECT %252D "PUT /thumbs/- HTTP/1.1" 200 - - 1 1 1 "-" "-"` + tail,
			func(t *testing.T, r Record) { want(t, "Key", r.Key, "-") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := ParseS3Line([]byte(tt.line), &r); err != nil {
				t.Fatalf("ParseS3Line(%q): %v", tt.line, err)
			}
			tt.check(t, r)
		})
	}
}

func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestParseS3Malformed(t *testing.T) {
	sub := func(old, new string) string {
		if !strings.Contains(era27, old) {
			t.Fatalf("era27 has no %q", old)
		}
		return strings.Replace(era27, old, new, 1)
	}
	tests := []struct {
		name, line, field string
	}{
		{"empty", "", "line"},
		{"unterminated request URI", sub(`"GET /examplebucket/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1"`, `"GET /examplebucket/photos/2019/08/puppy.jpg HTTP/1.1`), "request-uri"},
		{"unterminated user agent", era18[:len(era18)-len(`S3Console/0.4" -`)] + `S3Console/0.4 -`, "user-agent"},
		{"no closing bracket", sub("[06/Feb/2019:00:01:00 +0000]", "[06/Feb/2019:00:01:00 +0000"), "time"},
		{"time not in brackets", sub("[06/Feb/2019:00:01:00 +0000]", "06/Feb/2019:00:01:00"), "time"},
		{"unknown month", sub("06/Feb/2019", "06/Foo/2019"), "time"},
		{"31 February", sub("06/Feb/2019", "31/Feb/2019"), "time"},
		{"hour 24", sub("2019:00:01:00", "2019:24:01:00"), "time"},
		{"no zone", sub("[06/Feb/2019:00:01:00 +0000]", "[06/Feb/2019:00:01:00]"), "time"},
		{"year before 1970", sub("06/Feb/2019", "06/Feb/1969"), "time"},
		{"text after the time", sub("+0000]", "+0000]x"), "time"},
		{"four-digit status", sub(" 200 ", " 2000 "), "request-uri"},
		{"status with a letter", sub(" 200 ", " 20x "), "request-uri"},
		{"status below 100", sub(" 200 ", " 099 "), "http-status"},
		{"bytes sent not a number", sub(" 2662992 ", " 26629x2 "), "bytes-sent"},
		{"negative object size", sub(" 3462992 ", " -3462992 "), "object-size"},
		{"total time not a number", sub(" 70 10 ", " 7.0 10 "), "total-time"},
		{"truncated escape in key", sub("photos/2019/08/puppy.jpg ", "photos/puppy%2 "), "key"},
		{"non-hex escape in key", sub("photos/2019/08/puppy.jpg ", "photos/%zzpuppy.jpg "), "key"},
		{"bad escape after the first decoding", sub("photos/2019/08/puppy.jpg ", "photos/100%25.jpg "), "key"},
		{"17 fields", era18[:len(era18)-2], "fields"},
		{"cut after the status", era18[:strings.Index(era18, " 200 ")+4], "fields"},
		{"cut after the operation", era18[:strings.Index(era18, " s3-dg.pdf")], "fields"},
		{"one word", "garbage", "fields"},
		{"binary garbage", "\x00\x01\xff\xfe\x1f\x8b [ \" \x7f", "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			err := ParseS3Line([]byte(tt.line), &r)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseS3Line(%q) = %v, want ErrMalformed", tt.line, err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != tt.field {
				t.Errorf("ParseS3Line(%q) = %v, want a ParseError about %q", tt.line, err, tt.field)
			}
		})
	}
}

func TestAppendS3RoundTrip(t *testing.T) {
	base := Record{
		Format: FormatS3, BucketOwner: owner, Bucket: "thumbs", Time: time.Date(2026, 3, 1, 12, 30, 5, 0, time.UTC),
		RemoteIP: "203.0.113.9", RequestID: "0123456789ABCDEF", Operation: OpWebsiteGetObject,
		RequestURI: "GET /photos/x HTTP/1.1", HTTPStatus: 200, BytesSent: 12345, ObjectSize: 12345,
		TotalTime: 12 * time.Millisecond, TurnAround: 3 * time.Millisecond, Referer: "https://example.com/",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", HostID: hostID, SignatureVersion: "SigV4",
		CipherSuite: "TLS_AES_128_GCM_SHA256", AuthType: "AuthHeader", HostHeader: "thumbs.s3.amazonaws.com",
		TLSVersion: "TLSv1.3", AccessPointARN: "arn:aws:s3:us-east-1:123456789012:accesspoint/ap", ACLRequired: "Yes",
		SourceRegion: "eu-west-1",
	}
	keys := []string{"photos/img00042_200x200.jpg", "photos/summer holiday_400x.webp", "photos/100%_x300.jpg",
		"photos/café №5_800x600_fit@2x.jpg", "-", "a+b=c&d?e#f_200x200.png", `quote"d_200x.jpg`, "tab\there_200x.jpg"}
	for _, op := range []string{OpWebsiteGetObject, OpRESTPutObject, OpExpireObject, OpBatchDeleteObject} {
		for _, key := range keys {
			for _, fields := range []int{S3FieldsMin, S3FieldsTLS, S3FieldsAccessPoint, S3FieldsACL, S3FieldsLatest} {
				rec := base
				rec.Operation, rec.Key, rec.Fields = op, key, fields
				line := AppendS3(nil, &rec, fields)
				if strings.Count(string(line), "\n") != 1 {
					t.Fatalf("AppendS3 wrote %q: want one line", line)
				}
				p := Parser{Full: true}
				var got Record
				if err := p.ParseS3(line, &got); err != nil {
					t.Fatalf("ParseS3(AppendS3(%s, %q, %d)) = %v\nline %q", op, key, fields, err, line)
				}
				want := rec
				clearBeyond(&want, fields)
				if got != want {
					t.Errorf("round trip of %s %q (%d fields):\n got %+v\nwant %+v\nline %q", op, key, fields, got, want, line)
				}
			}
		}
	}
}

// clearBeyond zeroes the fields a record of n fields does not have.
func clearBeyond(r *Record, n int) {
	tail := []*string{&r.VersionID, &r.HostID, &r.SignatureVersion, &r.CipherSuite, &r.AuthType,
		&r.HostHeader, &r.TLSVersion, &r.AccessPointARN, &r.ACLRequired, &r.SourceRegion}
	for _, p := range tail[n-17:] {
		*p = ""
	}
}

func TestParseS3Allocations(t *testing.T) {
	line := []byte(era27 + "\n")
	var p Parser
	var r Record
	if err := p.ParseS3(line, &r); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if err := p.ParseS3(line, &r); err != nil {
			t.Fatal(err)
		}
	})
	// RequestID and VersionID are unique per record; everything else repeats.
	if allocs > 2 {
		t.Errorf("ParseS3 of a line seen before allocates %v times, want at most 2", allocs)
	}
	encoded := []byte(strings.Replace(era27, "photos/2019/08/puppy.jpg ", "photos/my%2520puppy.jpg ", 1))
	allocs = testing.AllocsPerRun(200, func() {
		if err := p.ParseS3(encoded, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("ParseS3 of an encoded key seen before allocates %v times, want at most 2", allocs)
	}
}

func TestParserLimits(t *testing.T) {
	p := Parser{KeyLimit: 2}
	line := func(key string) []byte {
		return []byte(strings.Replace(era27, "photos/2019/08/puppy.jpg ", key+" ", 1))
	}
	var r Record
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := p.ParseS3(line(k), &r); err != nil {
			t.Fatal(err)
		}
		want(t, "Key", r.Key, k)
	}
	if n := len(p.keys.m); n != 2 {
		t.Errorf("parser remembers %d keys, want its limit 2", n)
	}
	none := Parser{KeyLimit: -1}
	if err := none.ParseS3(line("a"), &r); err != nil {
		t.Fatal(err)
	}
	if n := len(none.keys.m); n != 0 {
		t.Errorf("parser with KeyLimit -1 remembers %d keys, want 0", n)
	}
}

func TestParserSkip(t *testing.T) {
	p := Parser{Skip: FieldRemoteIP | FieldUserAgent | FieldTLS | FieldAccessPoint}
	var r Record
	if err := p.ParseS3([]byte(era27), &r); err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]string{"RemoteIP": r.RemoteIP, "UserAgent": r.UserAgent,
		"SignatureVersion": r.SignatureVersion, "CipherSuite": r.CipherSuite, "AuthType": r.AuthType,
		"TLSVersion": r.TLSVersion, "ACLRequired": r.ACLRequired, "SourceRegion": r.SourceRegion} {
		if v != "" {
			t.Errorf("skipped %s = %q, want empty", what, v)
		}
	}
	want(t, "Key", r.Key, "photos/2019/08/puppy.jpg")
	want(t, "Referer", r.Referer, "http://www.example.com/webservices")
	want(t, "HostHeader", r.HostHeader, "examplebucket.s3.us-west-1.amazonaws.com")
	want(t, "RequestID", r.RequestID, "7B4A0FABBEXAMPLE")

	schema, err := ParseCloudFrontFields([]byte(cfFields))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ParseCloudFront(schema, []byte(cfHit), &r); err != nil {
		t.Fatal(err)
	}
	want(t, "CloudFront UserAgent", r.UserAgent, "")
	want(t, "CloudFront Key", r.Key, "photos/img00042_200x200.jpg")
}

// TestParserReaderAgent: with FieldReaderAgent, a write keeps its user
// agent (who wrote tells a thumbnail from an upload) and a read does not.
func TestParserReaderAgent(t *testing.T) {
	p := Parser{Skip: FieldReaderAgent}
	line := func(op string) []byte {
		return AppendS3(nil, &Record{Bucket: "b", Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Operation: op,
			Key: "a_1x1.jpg", HTTPStatus: 200, UserAgent: "aws-cli/2.22.0"}, S3FieldsLatest)
	}
	for op, agent := range map[string]string{
		OpRESTPutObject: "aws-cli/2.22.0", OpRESTCopyObject: "aws-cli/2.22.0", OpRESTPostUpload: "aws-cli/2.22.0",
		OpWebsiteGetObject: "", OpRESTGetObject: "", OpRESTHeadObject: "", OpRESTDeleteObject: "",
	} {
		var r Record
		if err := p.ParseS3(line(op), &r); err != nil {
			t.Fatal(err)
		}
		want(t, op+" UserAgent", r.UserAgent, agent)
	}
	schema, err := ParseCloudFrontFields([]byte(cfFields))
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := p.ParseCloudFront(schema, []byte(cfHit), &r); err != nil {
		t.Fatal(err)
	}
	want(t, "CloudFront UserAgent", r.UserAgent, "")
}

func TestAppendSafeMatchesByteByByte(t *testing.T) {
	naive := func(v string, last byte) string {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= last || c == 0x7f || c == '"' {
				b.WriteString("%" + hex2(c))
			} else {
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	// Every byte value at every position of a 17-byte string of safe bytes.
	base := []byte("abcdefgh€ijklmno")
	for _, last := range []byte{' ', ' ' - 1} {
		for pos := range base {
			for c := 0; c < 256; c++ {
				v := append([]byte(nil), base...)
				v[pos] = byte(c)
				if got, want := string(appendSafe(nil, string(v), last)), naive(string(v), last); got != want {
					t.Fatalf("appendSafe(%q, %d) = %q, want %q", v, last, got, want)
				}
			}
		}
	}
}

func hex2(c byte) string { return string([]byte{upperHex[c>>4], upperHex[c&15]}) }

// keyTable is a Keys that counts its calls, hands out its own strings and
// logs the order of its calls; its hash is the key's length plus one.
type keyTable struct {
	held  map[string]string
	calls int
	log   []string
}

func (k *keyTable) Hash(b []byte) uint64 {
	k.log = append(k.log, "hash "+string(b))
	return uint64(len(b)) + 1
}

func (k *keyTable) Key(b []byte, h uint64) string {
	k.calls++
	k.log = append(k.log, fmt.Sprintf("key %s %d", b, h))
	if h != uint64(len(b))+1 {
		return "wrong hash"
	}
	if s, ok := k.held[string(b)]; ok {
		return s
	}
	return "not held: " + string(b)
}

func TestParserKeys(t *testing.T) {
	keys := &keyTable{held: map[string]string{"photos/my%20puppy.jpg": "held 1", "photos/img00042_200x200.jpg": "held 2"}}
	p := Parser{Keys: keys}
	schema, err := ParseCloudFrontFields([]byte(cfFields))
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	for _, tc := range []struct {
		name    string
		parse   func() error
		wantKey string
	}{
		{"S3, key decoded twice", func() error {
			return p.ParseS3([]byte(strings.Replace(era27, "photos/2019/08/puppy.jpg ", "photos/my%252520puppy.jpg ", 1)), &r)
		}, "held 1"},
		{"S3, key not held", func() error { return p.ParseS3([]byte(era27), &r) }, "not held: photos/2019/08/puppy.jpg"},
		{"CloudFront, leading slash dropped", func() error { return p.ParseCloudFront(schema, []byte(cfHit), &r) }, "held 2"},
		{"S3, no key", func() error { return p.ParseS3([]byte(era24), &r) }, ""},
	} {
		if err := tc.parse(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want(t, tc.name, r.Key, tc.wantKey)
	}
	if keys.calls != 3 {
		t.Errorf("Keys asked %d times, want 3 (not for a record without a key)", keys.calls)
	}
	if len(p.keys.m) != 0 {
		t.Errorf("the parser kept %d keys of its own besides Keys", len(p.keys.m))
	}
}

// TestParserKeysHashOnce: for each record with a key, Keys hashes the
// decoded key once, before Key gets it with that hash, and the record
// carries the hash; a record without a key asks nothing.
func TestParserKeysHashOnce(t *testing.T) {
	keys := &keyTable{}
	p := Parser{Keys: keys}
	var r Record
	var hashes []uint64
	for _, line := range []string{
		era27,
		strings.Replace(era27, "photos/2019/08/puppy.jpg ", "photos/my%252520puppy.jpg ", 1),
		era24, // no key
		strings.Replace(era27, "photos/2019/08/puppy.jpg ", "photos/a_200x200.webp ", 1),
	} {
		if err := p.ParseS3([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, r.KeyHash)
	}
	want := []string{
		"hash photos/2019/08/puppy.jpg", "key photos/2019/08/puppy.jpg 25",
		"hash photos/my%20puppy.jpg", "key photos/my%20puppy.jpg 22",
		"hash photos/a_200x200.webp", "key photos/a_200x200.webp 22",
	}
	if strings.Join(keys.log, "|") != strings.Join(want, "|") {
		t.Errorf("calls\n%q\nwant\n%q", keys.log, want)
	}
	if fmt.Sprint(hashes) != "[25 22 0 22]" {
		t.Errorf("records' KeyHash %v, want [25 22 0 22]", hashes)
	}
}
