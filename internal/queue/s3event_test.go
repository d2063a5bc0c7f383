package queue

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// putEvent is an S3 event message as AWS documents it (version 2.1), for
// the key as S3 writes it in events: URL-encoded, spaces as "+".
func putEvent(name, key string) string {
	return `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2",
		"eventTime":"2026-11-27T08:00:00.123Z","eventName":"` + name + `",
		"userIdentity":{"principalId":"AWS:AIDAEXAMPLE"},"requestParameters":{"sourceIPAddress":"192.0.2.1"},
		"responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
		"s3":{"s3SchemaVersion":"1.0","configurationId":"s3thumb-uploads",
			"bucket":{"name":"photos","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::photos"},
			"object":{"key":"` + key + `","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}`
}

func TestDecodeS3Event(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 123e6, time.UTC)
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-west-2:123456789012:uploads",
		"Message": putEvent("ObjectCreated:Put", "photos/earth.jpg")})
	tests := []struct {
		name string
		body string
		want []string // keys, removed ones after "-"
	}{
		{"put", putEvent("ObjectCreated:Put", "photos/earth.jpg"), []string{"photos/earth.jpg"}},
		{"multipart upload", putEvent("ObjectCreated:CompleteMultipartUpload", "big.png"), []string{"big.png"}},
		{"space as plus", putEvent("ObjectCreated:Put", "photos/red+flower.jpg"), []string{"photos/red flower.jpg"}},
		{"percent-encoded", putEvent("ObjectCreated:Copy", "caf%C3%A9/cr%C3%A8me+%E2%84%96%2B1.jpg"), []string{"café/crème №+1.jpg"}},
		{"through SNS", string(sns), []string{"photos/earth.jpg"}},
		{"removal", putEvent("ObjectRemoved:Delete", "photos/earth.jpg"), []string{"-photos/earth.jpg"}},
		{"delete marker", putEvent("ObjectRemoved:DeleteMarkerCreated", "photos/red+flower.jpg"), []string{"-photos/red flower.jpg"}},
		{"restore is neither", putEvent("ObjectRestore:Completed", "photos/earth.jpg"), nil},
		{"lifecycle expiration", putEvent("LifecycleExpiration:Delete", "photos/earth_200x200.jpg"), nil},
		{"test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-27T08:00:00.000Z","Bucket":"photos","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`, nil},
		{"two records", strings.Replace(putEvent("ObjectCreated:Put", "a.jpg"), `}}}]}`, `}}},`+
			strings.TrimPrefix(putEvent("ObjectCreated:Put", "b.jpg"), `{"Records":[`), 1), []string{"a.jpg", "b.jpg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !IsS3Event([]byte(tt.body)) {
				t.Errorf("IsS3Event = false")
			}
			ups, err := DecodeS3Event([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeS3Event: %v", err)
			}
			var keys []string
			for _, u := range ups {
				if u.Removed {
					keys = append(keys, "-"+u.Key)
				} else {
					keys = append(keys, u.Key)
				}
				if u.Bucket != "photos" || u.Size != 1024 || !u.Time.Equal(at) {
					t.Errorf("upload %+v: want bucket photos, size 1024, time %v", u, at)
				}
			}
			if !slices.Equal(keys, tt.want) {
				t.Errorf("keys = %q, want %q", keys, tt.want)
			}
		})
	}
}

func TestDecodeS3EventRefuses(t *testing.T) {
	tests := []struct {
		name, body, says string
	}{
		{"not JSON", `{"Records":`, "S3 event"},
		{"records not a list", `{"Records":{"a":1}}`, "S3 event"},
		{"no records", `{"Event":"upload"}`, "no Records"},
		{"key not URL-encoded", putEvent("ObjectCreated:Put", "photos/100%.jpg"), "not a URL-encoded key"},
		{"empty key", putEvent("ObjectCreated:Put", ""), "not a URL-encoded key"},
		{"key not UTF-8", putEvent("ObjectCreated:Put", "%ff.jpg"), "not a URL-encoded key"},
		{"key with NUL", putEvent("ObjectCreated:Put", "a%00b.jpg"), "not a URL-encoded key"},
		{"no bucket", strings.Replace(putEvent("ObjectCreated:Put", "a.jpg"), `"name":"photos"`, `"name":""`, 1), "no bucket"},
		{"bad time", strings.Replace(putEvent("ObjectCreated:Put", "a.jpg"), "2026-11-27T08:00:00.123Z", "yesterday", 1), "eventTime"},
		{"size not a number", strings.Replace(putEvent("ObjectCreated:Put", "a.jpg"), `"size":1024`, `"size":"1024"`, 1), "S3 event"},
		{"SNS message not an event", `{"Type":"Notification","Message":"hello"}`, "S3 event"},
		{"invalid UTF-8", "{\"Records\":[],\"x\":\"\xff\"}", "UTF-8"},
		{"oversize", `{"Records":[],"pad":"` + strings.Repeat(" ", MaxEventBytes) + `"}`, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ups, err := DecodeS3Event([]byte(tt.body))
			if err == nil {
				t.Fatalf("DecodeS3Event = %+v, want an error", ups)
			}
			if !errors.Is(err, ErrMalformedJob) {
				t.Errorf("error %v does not wrap ErrMalformedJob", err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestIsS3EventNotJobs(t *testing.T) {
	for _, body := range []string{
		`{"v":1,"key":"photos/earth_200x200.jpg"}`,
		`{"v":2,"key":"a_1x1.jpg","refresh":true}`,
		`not json`, ``, `[]`, `{"Records"`, `{"Event":"upload"}`,
	} {
		if IsS3Event([]byte(body)) {
			t.Errorf("IsS3Event(%q) = true", body)
		}
	}
}

// FuzzDecodeS3Event checks that DecodeS3Event never panics, refuses only
// with ErrMalformedJob, and returns only uploads with a bucket and a key.
func FuzzDecodeS3Event(f *testing.F) {
	for _, seed := range []string{
		putEvent("ObjectCreated:Put", "photos/red+flower.jpg"),
		putEvent("ObjectRemoved:Delete", "a.jpg"),
		`{"Service":"Amazon S3","Event":"s3:TestEvent"}`,
		`{"Type":"Notification","Message":"{\"Records\":[]}"}`,
		`{"Records":null}`, `{"Records":[{}]}`, `{}`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = IsS3Event(body)
		ups, err := DecodeS3Event(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedJob) {
				t.Fatalf("DecodeS3Event(%q): error %v does not wrap ErrMalformedJob", body, err)
			}
			return
		}
		for _, u := range ups {
			if u.Bucket == "" || u.Key == "" || !utf8.ValidString(u.Key) {
				t.Fatalf("DecodeS3Event(%q) gave upload %+v", body, u)
			}
		}
	})
}

// TestEncodeS3Event: what EncodeS3Event writes is the message S3 sends, as
// DecodeS3Event (and so every worker) reads it back, for any key.
func TestEncodeS3Event(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 123e6, time.UTC)
	for _, tc := range []struct {
		name, key string
		removed   bool
	}{
		{"ObjectCreated:Put", "photos/earth.jpg", false},
		{"ObjectCreated:Put", "café/crème №+1 (2).jpg", false},
		{"ObjectRemoved:Delete", "photos/red flower%20x.PNG", true},
	} {
		body := EncodeS3Event("images", tc.name, tc.key, at)
		if !IsS3Event(body) {
			t.Errorf("%s: IsS3Event = false", body)
		}
		if err := checkBody(body); err != nil {
			t.Errorf("%s: not a message SQS takes: %v", body, err)
		}
		ups, err := DecodeS3Event(body)
		want := []Upload{{Bucket: "images", Key: tc.key, Time: at, Removed: tc.removed}}
		if err != nil || !slices.Equal(ups, want) {
			t.Errorf("DecodeS3Event(%s) = %+v, %v; want %+v", body, ups, err, want)
		}
		if content, err := DecodeContent(body); err != nil || content.Job != nil || len(content.Uploads) != 1 {
			t.Errorf("DecodeContent(%s) = %+v, %v; want one upload", body, content, err)
		}
	}
}

// TestDecodeS3EventTimeWithoutZone: moto writes eventTime without a zone
// ("2026-12-06T18:49:37.345785"); it is read as UTC, not refused.
func TestDecodeS3EventTimeWithoutZone(t *testing.T) {
	body := strings.Replace(putEvent("ObjectCreated:Put", "a.jpg"), "2026-11-27T08:00:00.123Z", "2026-11-27T08:00:00.123456", 1)
	ups, err := DecodeS3Event([]byte(body))
	if want := time.Date(2026, 11, 27, 8, 0, 0, 123456e3, time.UTC); err != nil || len(ups) != 1 || !ups[0].Time.Equal(want) {
		t.Errorf("DecodeS3Event = %+v, %v; want a.jpg at %v", ups, err, want)
	}
	body = strings.Replace(putEvent("ObjectCreated:Put", "a.jpg"), "2026-11-27T08:00:00.123Z", "yesterday", 1)
	if _, err := DecodeS3Event([]byte(body)); !errors.Is(err, ErrMalformedJob) {
		t.Errorf("eventTime yesterday: %v, want ErrMalformedJob", err)
	}
}
