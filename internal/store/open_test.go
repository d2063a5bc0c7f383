package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3thumb/s3thumb/internal/store"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want store.Location
		str  string // String(), when it differs from in
	}{
		{in: "s3://bucket", want: store.Location{Scheme: "s3", Bucket: "bucket"}},
		{in: "s3://bucket/", want: store.Location{Scheme: "s3", Bucket: "bucket"}, str: "s3://bucket"},
		{in: "s3://my.bucket-1/thumbs", want: store.Location{Scheme: "s3", Bucket: "my.bucket-1", Prefix: "thumbs/"}},
		{in: "s3://b_legacy/a/b/c/", want: store.Location{Scheme: "s3", Bucket: "b_legacy", Prefix: "a/b/c/"}, str: "s3://b_legacy/a/b/c"},
		{in: "s3://bucket//a//", want: store.Location{Scheme: "s3", Bucket: "bucket", Prefix: "a/"}, str: "s3://bucket/a"},
		{in: "S3://bucket/p", want: store.Location{Scheme: "s3", Bucket: "bucket", Prefix: "p/"}, str: "s3://bucket/p"},
		{in: "s3://bucket/fotos 2024/ü", want: store.Location{Scheme: "s3", Bucket: "bucket", Prefix: "fotos 2024/ü/"}},
		{in: "file://./data", want: store.Location{Scheme: "file", Dir: "./data"}},
		{in: "file://data", want: store.Location{Scheme: "file", Dir: "data"}},
		{in: "file:///srv/images", want: store.Location{Scheme: "file", Dir: "/srv/images"}},
		{in: "file://../my images", want: store.Location{Scheme: "file", Dir: "../my images"}},
		{in: "FILE://x", want: store.Location{Scheme: "file", Dir: "x"}, str: "file://x"},
	} {
		got, err := store.ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		in, mention string
	}{
		{"", "no scheme"},
		{"bucket/prefix", "no scheme"},
		{"/srv/images", "no scheme"},
		{"file:./data", "no scheme"},
		{"http://bucket/x", `unsupported scheme "http"`},
		{"gs://bucket", `unsupported scheme "gs"`},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3://ab", "3 to 255"},
		{"s3://" + strings.Repeat("b", 256), "3 to 255"},
		{"s3://bucket?x=1", "contains '?'"},
		{"s3://bu:cket", "contains ':'"},
		{"s3://user@bucket", "contains '@'"},
		{"s3://bucket/a/../b", `".."`},
		{"s3://bucket/a/./b", `"."`},
		{"s3://bucket/pre?fix", "? or #"},
		{"s3://bucket/ctl\x01", "control character"},
		{"file://", "no directory"},
		{"file://a\x00b", "NUL"},
	} {
		_, err := store.ParseURL(tc.in)
		if !errors.Is(err, store.ErrBadURL) {
			t.Errorf("ParseURL(%q): %v, want ErrBadURL", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseURL(%q) error %q does not say %q", tc.in, err, tc.mention)
		}
		if _, err := store.Open(t.Context(), tc.in, store.Options{}); !errors.Is(err, store.ErrBadURL) {
			t.Errorf("Open(%q): %v, want ErrBadURL", tc.in, err)
		}
	}
}

// FuzzParseURL checks that ParseURL never panics, that what it accepts is
// well formed, and that String round-trips.
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{"s3://bucket/prefix", "file://./data", "s3://b/a//b/", "file:///x", "S3://x.y/z", "s3://a/../b", "gs://x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		loc, err := store.ParseURL(in)
		if err != nil {
			if !errors.Is(err, store.ErrBadURL) {
				t.Fatalf("ParseURL(%q): %v does not wrap ErrBadURL", in, err)
			}
			return
		}
		switch loc.Scheme {
		case "s3":
			if loc.Bucket == "" || strings.ContainsAny(loc.Bucket, "/?#") || loc.Dir != "" {
				t.Fatalf("ParseURL(%q) = %+v: bad bucket", in, loc)
			}
			if loc.Prefix != "" && (!strings.HasSuffix(loc.Prefix, "/") || strings.HasPrefix(loc.Prefix, "/") || strings.Contains(loc.Prefix, "//")) {
				t.Fatalf("ParseURL(%q) = %+v: prefix not normalised", in, loc)
			}
		case "file":
			if loc.Dir == "" || loc.Bucket != "" || loc.Prefix != "" {
				t.Fatalf("ParseURL(%q) = %+v: bad file location", in, loc)
			}
		default:
			t.Fatalf("ParseURL(%q) = %+v: unknown scheme", in, loc)
		}
		again, err := store.ParseURL(loc.String())
		if err != nil || again != loc {
			t.Fatalf("ParseURL(%q).String() = %q parses as %+v, %v", in, loc.String(), again, err)
		}
	})
}
