package thumbtag

import (
	"testing"
	"time"
)

func TestRule(t *testing.T) {
	for tags, want := range map[*map[string]string]bool{
		{"thumbnail": "yes"}:                true,
		{"thumbnail": "yes", "team": "web"}: true,
		{"thumbnail": "YES"}:                false,
		{"thumbnail": "no"}:                 false,
		{}:                                  false,
	} {
		if got := Is(*tags); got != want {
			t.Errorf("Is(%v) = %v, want %v", *tags, got, want)
		}
	}
	if !Is(Tags()) {
		t.Error("Tags() is not a thumbnail's")
	}
	for ua, want := range map[string]bool{
		"aws-sdk-go-v2/1.41.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux api/s3#1.114.10 app/s3thumb": true,
		"s3thumb-front app/s3thumb":                             true,
		"aws-cli/2.22.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1": false,
		"": false,
	} {
		if got := ByAgent(ua); got != want {
			t.Errorf("ByAgent(%q) = %v, want %v", ua, got, want)
		}
	}
}

func TestMadeOf(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	orig := Version{Key: "p/earth.jpg", ETag: `"v2"`, LastModified: t0}
	for _, tc := range []struct {
		name  string
		thumb Version
		want  bool
	}{
		{"records the version stored now", Version{Metadata: SourceMeta("p/earth.jpg", `"v2"`), LastModified: t0.Add(-time.Hour)}, true},
		{"records an older version", Version{Metadata: SourceMeta("p/earth.jpg", `"v1"`), LastModified: t0.Add(time.Hour)}, false},
		{"records another original with the same ETag", Version{Metadata: SourceMeta("p/earth.png", `"v2"`), LastModified: t0.Add(time.Hour)}, false},
		{"records nothing, written after the original", Version{LastModified: t0.Add(time.Second)}, true},
		{"records nothing, written before the original", Version{LastModified: t0.Add(-time.Second)}, false},
		{"records nothing, written with it", Version{LastModified: t0}, false},
	} {
		if got := MadeOf(tc.thumb, orig); got != tc.want {
			t.Errorf("%s: MadeOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}
