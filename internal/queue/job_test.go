package queue

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

func TestEncodeDecode(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 0, 500, time.UTC)
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"full", Job{Key: "photos/earth_200x200.jpg", Reason: "backfill", EnqueuedAt: at},
			`{"v":1,"key":"photos/earth_200x200.jpg","reason":"backfill","enqueued_at":"2026-03-01T12:30:00.0000005Z"}`},
		{"no reason or time", Job{Key: "a_x300_fill@2x.webp"}, `{"v":1,"key":"a_x300_fill@2x.webp"}`},
		{"html characters unescaped", Job{Key: "a<b>&c_10x.png", Reason: "popular"},
			`{"v":1,"key":"a<b>&c_10x.png","reason":"popular"}`},
		{"non-UTF-8-safe characters", Job{Key: "dir/ünï\u2028_1x1.avif"}, `{"v":1,"key":"dir/ünï\u2028_1x1.avif"}`},
		{"refresh", Job{Key: "a_1x1.jpg", Reason: "refresh", Refresh: true},
			`{"v":2,"key":"a_1x1.jpg","reason":"refresh","refresh":true}`},
		{"longest key", Job{Key: strings.Repeat("a", thumbkey.MaxKeyBytes-10) + "_1x1.jpeg", Reason: strings.Repeat("r", MaxReasonBytes)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := Encode(tt.job)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if tt.want != "" && string(body) != tt.want {
				t.Errorf("Encode = %s, want %s", body, tt.want)
			}
			got, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode(%s): %v", body, err)
			}
			if got.Key != tt.job.Key || got.Reason != tt.job.Reason || !got.EnqueuedAt.Equal(tt.job.EnqueuedAt) || got.Refresh != tt.job.Refresh {
				t.Errorf("Decode(Encode(%+v)) = %+v", tt.job, got)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Job
	}{
		{"other field order and spacing", "\n{ \"key\" : \"p/a_1x1.jpg\",\t\"v\": 1 }\n", Job{Key: "p/a_1x1.jpg"}},
		{"time with offset", `{"v":1,"key":"a_1x1.jpg","enqueued_at":"2026-01-02T03:04:05+02:00"}`,
			Job{Key: "a_1x1.jpg", EnqueuedAt: time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)}},
		{"null optional fields", `{"v":1,"key":"a_1x1.jpg","reason":null,"enqueued_at":null}`, Job{Key: "a_1x1.jpg"}},
		{"escaped key", `{"v":1,"key":"a\u005f1x1.jpg"}`, Job{Key: "a_1x1.jpg"}},
		{"version 2 refresh", `{"v":2,"key":"a_1x1.jpg","refresh":true}`, Job{Key: "a_1x1.jpg", Refresh: true}},
		{"version 2 without refresh", `{"v":2,"key":"a_1x1.jpg"}`, Job{Key: "a_1x1.jpg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Key != tt.want.Key || got.Reason != tt.want.Reason || !got.EnqueuedAt.Equal(tt.want.EnqueuedAt) || got.Refresh != tt.want.Refresh {
				t.Errorf("Decode = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		body string
		also error // a further error the refusal must wrap
		says string
	}{
		{"empty", "", nil, "unexpected end"},
		{"not JSON", "photos/earth_200x200.jpg", nil, "invalid character"},
		{"JSON array", `[1]`, nil, "cannot unmarshal"},
		{"JSON null", `null`, nil, "not a JSON object"},
		{"truncated", `{"v":1,"key":"a_1x1.jpg"`, nil, "unexpected end"},
		{"trailing data", `{"v":1,"key":"a_1x1.jpg"} {}`, nil, "invalid character"},
		{"no version", `{"key":"a_1x1.jpg"}`, nil, "no version"},
		{"version 3", `{"v":3,"key":"a_1x1.jpg","colour":"red"}`, nil, "unknown version 3"},
		{"refresh in version 1", `{"v":1,"key":"a_1x1.jpg","refresh":true}`, nil, `unknown field "refresh"`},
		{"refresh not a boolean", `{"v":2,"key":"a_1x1.jpg","refresh":"yes"}`, nil, `field "refresh"`},
		{"unknown field in version 2", `{"v":2,"key":"a_1x1.jpg","colour":"red"}`, nil, `unknown field "colour"`},
		{"version 0", `{"v":0,"key":"a_1x1.jpg"}`, nil, "unknown version 0"},
		{"version as string", `{"v":"1","key":"a_1x1.jpg"}`, nil, "unknown version \"1\""},
		{"version 1.0", `{"v":1.0,"key":"a_1x1.jpg"}`, nil, "unknown version 1.0"},
		{"version null", `{"v":null,"key":"a_1x1.jpg"}`, nil, "unknown version null"},
		{"unknown field", `{"v":1,"key":"a_1x1.jpg","priority":3}`, nil, `unknown field "priority"`},
		{"field in other case", `{"v":1,"KEY":"a_1x1.jpg"}`, nil, `unknown field "KEY"`},
		{"no key", `{"v":1}`, thumbkey.ErrInvalidKey, "empty"},
		{"key not a string", `{"v":1,"key":5}`, nil, `field "key"`},
		{"key not a thumbnail", `{"v":1,"key":"photos/earth.jpg"}`, thumbkey.ErrNotThumbnail, "earth.jpg"},
		{"key escapes", `{"v":1,"key":"../a_1x1.jpg"}`, thumbkey.ErrInvalidKey, `".."`},
		{"key with NUL", `{"v":1,"key":"a\u0000_1x1.jpg"}`, thumbkey.ErrInvalidKey, "control"},
		{"key too long", `{"v":1,"key":"` + strings.Repeat("a", thumbkey.MaxKeyBytes) + `_1x1.jpg"}`, thumbkey.ErrInvalidKey, "longer"},
		{"reason too long", `{"v":1,"key":"a_1x1.jpg","reason":"` + strings.Repeat("r", MaxReasonBytes+1) + `"}`, nil, "reason is"},
		{"reason with newline", `{"v":1,"key":"a_1x1.jpg","reason":"a\nb"}`, nil, "control character"},
		{"bad time", `{"v":1,"key":"a_1x1.jpg","enqueued_at":"yesterday"}`, nil, "enqueued_at"},
		{"time as number", `{"v":1,"key":"a_1x1.jpg","enqueued_at":1700000000}`, nil, "enqueued_at"},
		{"invalid UTF-8", "{\"v\":1,\"key\":\"a\xff_1x1.jpg\"}", nil, "UTF-8"},
		{"oversize", `{"v":1,"key":"a_1x1.jpg","reason":"` + strings.Repeat(" ", MaxJobBytes) + `"}`, nil, "more than 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("Decode(%.60q) = %+v, want an error", tt.body, job)
			}
			if !errors.Is(err, ErrMalformedJob) {
				t.Errorf("error %v does not wrap ErrMalformedJob", err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("error %v does not wrap %v", err, tt.also)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestEncodeRefusesWhatDecodeRefuses(t *testing.T) {
	for _, j := range []Job{
		{},
		{Key: "photos/earth.jpg"},
		{Key: "a_1x1.jpg", Reason: "x\ty"},
		{Key: "a_1x1.jpg", Reason: strings.Repeat("r", MaxReasonBytes+1)},
		{Key: "a_1x1.jpg", EnqueuedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if body, err := Encode(j); !errors.Is(err, ErrMalformedJob) {
			t.Errorf("Encode(%+v) = %s, %v; want ErrMalformedJob", j, body, err)
		}
	}
}

// FuzzDecode checks that Decode never panics, refuses only with
// ErrMalformedJob, and that whatever it accepts encodes and decodes back to
// the same job.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"key":"photos/earth_200x200.jpg","reason":"backfill","enqueued_at":"2026-03-01T12:30:00Z"}`,
		`{"v":1,"key":"a_x300_fill@2x.webp"}`,
		`{"v":2}`, `{"v":2,"key":"a_1x1.jpg","refresh":true}`, `{"v":1,"key":"../a_1x1.jpg"}`, `{"v":1,"key":"a_1x1.jpg","x":1}`, `[]`, `null`, `"`, ``,
		`{"v":1,"key":"a_1x1.jpg","enqueued_at":"0000-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		job, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedJob) {
				t.Fatalf("Decode(%q): error %v does not wrap ErrMalformedJob", body, err)
			}
			return
		}
		again, err := Encode(job)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, which Encode refuses: %v", body, job, err)
		}
		back, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) = %v", job, err)
		}
		if back.Key != job.Key || back.Reason != job.Reason || !back.EnqueuedAt.Equal(job.EnqueuedAt) || back.Refresh != job.Refresh {
			t.Fatalf("round trip of %+v gave %+v", job, back)
		}
	})
}

// TestDecodeContent: a message is read once into what it asks for: a job
// with its key parsed, or an S3 event's uploads; anything else is malformed.
func TestDecodeContent(t *testing.T) {
	job, err := Encode(Job{Key: "photos/earth_200x200@2x.webp", Reason: "backfill"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeContent(job)
	if err != nil || c.Job == nil || c.Uploads != nil {
		t.Fatalf("DecodeContent(job) = %+v, %v", c, err)
	}
	if k := c.Job.Thumb; k.Dir != "photos/" || k.Name != "earth" || k.Width != 200 || k.Density != 2 || k.Ext != "webp" {
		t.Errorf("the job's parsed key = %+v", k)
	}
	event := []byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"photos/new+photo.jpg","size":5}}}]}`)
	c, err = DecodeContent(event)
	if err != nil || c.Job != nil || len(c.Uploads) != 1 || c.Uploads[0].Key != "photos/new photo.jpg" {
		t.Fatalf("DecodeContent(event) = %+v, %v", c, err)
	}
	for _, bad := range []string{"", "not json", `{"v":1,"key":"photos/earth.jpg"}`, `{"Records":"no"}`} {
		if _, err := DecodeContent([]byte(bad)); !errors.Is(err, ErrMalformedJob) {
			t.Errorf("DecodeContent(%q) = %v, want ErrMalformedJob", bad, err)
		}
	}
}
