package awssetup

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbnail"
)

func TestParseResponderURL(t *testing.T) {
	tests := []struct {
		in   string
		want Redirect
	}{
		{"http://imgpro.example.com", Redirect{"http", "imgpro.example.com", "resize?src="}},
		{"http://imgpro.example.com/", Redirect{"http", "imgpro.example.com", "resize?src="}},
		{"HTTPS://ImgPro.Example.com:8443", Redirect{"https", "imgpro.example.com:8443", "resize?src="}},
		{"https://example.com/thumbs", Redirect{"https", "example.com", "thumbs/resize?src="}},
		{"https://example.com/a/b-c_d.e~f/", Redirect{"https", "example.com", "a/b-c_d.e~f/resize?src="}},
		{"http://localhost:8080", Redirect{"http", "localhost:8080", "resize?src="}},
		{"http://127.0.0.1:8080", Redirect{"http", "127.0.0.1:8080", "resize?src="}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseResponderURL(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseResponderURLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "missing"},
		{"imgpro.example.com", "no scheme: want http://imgpro.example.com or https://imgpro.example.com"},
		{"ftp://imgpro.example.com", `scheme "ftp"`},
		{"http://", "no host"},
		{"http://user:pw@imgpro.example.com", "user information"},
		{"http://imgpro.example.com/resize?src=", "query or fragment"},
		{"http://imgpro.example.com/#x", "query or fragment"},
		{"http://imgpro.example.com?", "query or fragment"},
		{"http://img_pro.example.com", "not a valid host name"},
		{"http://-img.example.com", "not a valid host name"},
		{"http://img..example.com", "not a valid host name"},
		{"http://[::1]:8080", "IPv6"},
		{"http://imgpro.example.com:0", `port "0"`},
		{"http://imgpro.example.com:99999", `port "99999"`},
		{"http://imgpro.example.com/a b", "path"},
		{"http://imgpro.example.com/a/../b", ". and .."},
		{"http://imgpro.example.com/a//b", "path"},
		{"http://imgpro.example.com/%2e%2e/", "path"},
		{"http://" + strings.Repeat("a", 64) + ".com", "not a valid host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseResponderURL(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseResponderURL(f *testing.F) {
	for _, s := range []string{"http://imgpro.example.com", "https://a.b:1/c/", "imgpro", "http://[::1]", "http://a/%zz", "http://a/..", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResponderURL(s)
		if err != nil {
			return
		}
		// What is accepted makes a redirect S3 can express and a URL that
		// parses back to the same redirect.
		if r.Protocol != "http" && r.Protocol != "https" || r.HostName == "" || !strings.HasSuffix(r.KeyPrefix, "resize?src=") {
			t.Fatalf("%q accepted as %+v", s, r)
		}
		if strings.ContainsAny(r.HostName+r.KeyPrefix[:len(r.KeyPrefix)-len("resize?src=")], "?#@ \\%") {
			t.Fatalf("%q gives unsafe redirect %+v", s, r)
		}
		again, err := ParseResponderURL(strings.TrimSuffix(r.String(), "resize?src=KEY"))
		if err != nil || again != r {
			t.Fatalf("%q: %+v does not parse back (%+v, %v)", s, r, again, err)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := func() Config {
		c := DefaultConfig()
		c.Bucket, c.ResponderURL = "images.example.com", "http://imgpro.example.com"
		return c
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no bucket", func(c *Config) { c.Bucket = "" }, "no bucket name"},
		{"upper-case bucket", func(c *Config) { c.Bucket = "Images" }, "lower-case"},
		{"IP bucket", func(c *Config) { c.Bucket = "192.168.1.1" }, "IP address"},
		{"dots in a row", func(c *Config) { c.Bucket = "a..b" }, "two dots"},
		{"bad responder", func(c *Config) { c.ResponderURL = "imgpro" }, "no scheme"},
		{"index with slash", func(c *Config) { c.IndexDocument = "a/index.html" }, "index document"},
		{"negative expiry", func(c *Config) { c.ExpireDays = -1 }, "expire days -1"},
		{"no tag", func(c *Config) { c.ThumbnailTag = Tag{} }, "thumbnail tag"},
		{"logs into the bucket", func(c *Config) { c.LogBucket = c.Bucket }, "separate, private bucket"},
		{"bad log bucket", func(c *Config) { c.LogBucket = "x" }, "log bucket"},
		{"prefix without bucket", func(c *Config) { c.LogPrefix = "logs/" }, "without a log bucket"},
		{"bad queue", func(c *Config) { c.Queue = "jobs.fifo" }, "queue"},
		{"queue too long", func(c *Config) { c.Queue = strings.Repeat("q", 77) }, "queue"},
		{"max receives 0", func(c *Config) { c.Queue, c.MaxReceives = "jobs", 0 }, "max receives 0"},
		{"visibility fraction", func(c *Config) { c.Queue, c.VisibilityTimeout = "jobs", 1500*time.Millisecond }, "whole seconds"},
		{"visibility too long", func(c *Config) { c.Queue, c.VisibilityTimeout = "jobs", 13*time.Hour }, "12h"},
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.change(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
		})
	}
}

// TestThumbnailTagIsTheStoredOne ties the lifecycle rule's tag to the tag
// the make-and-store path writes.
func TestThumbnailTagIsTheStoredOne(t *testing.T) {
	stored := thumbnail.DefaultConfig().Tags
	got := DefaultConfig().ThumbnailTag
	if len(stored) != 1 || stored[got.Key] != got.Value || got.Value == "" {
		t.Errorf("lifecycle tag %+v, but thumbnails are stored with tags %v", got, stored)
	}
}
