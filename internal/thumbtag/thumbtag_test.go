package thumbtag

import "testing"

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
