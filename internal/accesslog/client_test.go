package accesslog

import (
	"strings"
	"testing"
)

func TestIsCrawler(t *testing.T) {
	for _, tc := range []struct {
		agent string
		want  bool
	}{
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Mozilla/5.0 (compatible; bingbot/2.0)", true},
		{"Mozilla/5.0 (compatible; Baiduspider/2.0)", true},
		{"Mozilla/5.0 (compatible; Yahoo! Slurp)", true},
		{"facebookexternalhit/1.1", true},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", false},
		{"Go-http-client/1.1", false},
		{"aws-sdk-go-v2/1.30 app/s3thumb", false},
		{"", false},
		{"-", false},
	} {
		if got := IsCrawler(tc.agent); got != tc.want {
			t.Errorf("IsCrawler(%q) = %v, want %v", tc.agent, got, tc.want)
		}
		if got := IsCrawler([]byte(tc.agent)); got != tc.want {
			t.Errorf("IsCrawler([]byte(%q)) = %v, want %v", tc.agent, got, tc.want)
		}
	}
}

// TestClientHash: a parser that skips the remote IP fills ClientHash and
// Crawler, the same as ClientOf of the full parser's fields, for S3 and
// CloudFront lines; another IP is another client.
func TestClientHash(t *testing.T) {
	lean := Parser{Skip: FieldRemoteIP | FieldReaderAgent | FieldUserAgent}
	var full Parser
	schema, err := ParseCloudFrontFields([]byte(cfFields))
	if err != nil {
		t.Fatal(err)
	}
	bot := strings.Replace(era27, `"curl/7.15.1"`, `"Mozilla/5.0 (compatible; Googlebot/2.1)"`, 1)
	if bot == era27 {
		t.Fatal("the test line's agent changed")
	}
	seen := map[uint64]string{}
	for _, tc := range []struct {
		name  string
		parse func(p *Parser, r *Record) error
		bot   bool
	}{
		{"S3", func(p *Parser, r *Record) error { return p.ParseS3([]byte(era27), r) }, false},
		{"S3, another IP", func(p *Parser, r *Record) error {
			return p.ParseS3([]byte(strings.Replace(era27, "192.0.2.3", "192.0.2.4", 1)), r)
		}, false},
		{"S3, a crawler", func(p *Parser, r *Record) error { return p.ParseS3([]byte(bot), r) }, true},
		{"CloudFront, encoded agent", func(p *Parser, r *Record) error { return p.ParseCloudFront(schema, []byte(cfHit), r) }, false},
	} {
		var a, b Record
		if err := tc.parse(&full, &a); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := tc.parse(&lean, &b); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, crawler := ClientOf(a.RemoteIP, a.UserAgent)
		if b.ClientHash != want || want == 0 || b.Crawler != crawler || crawler != tc.bot || a.ClientHash != 0 {
			t.Errorf("%s: lean ClientHash %x crawler %v, want %x %v (full parser: %x)", tc.name, b.ClientHash, b.Crawler, want, tc.bot, a.ClientHash)
		}
		if other, dup := seen[want]; dup {
			t.Errorf("%s: same client as %s", tc.name, other)
		}
		seen[want] = tc.name
	}
}
