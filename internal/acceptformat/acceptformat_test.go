package acceptformat

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// deployDir holds the CloudFront Function and the table both sides read.
const deployDir = "../../scripts/deploy"

// table is testdata/accept-format.json.
type table struct {
	Accept []struct {
		Client string            `json:"client"`
		Accept *string           `json:"accept"` // nil: no header
		Want   map[string]string `json:"want"`   // enabled formats → chosen
	} `json:"accept"`
	URIs []struct {
		URI     string  `json:"uri"`
		Enabled string  `json:"enabled"`
		Accept  *string `json:"accept"`
		Want    string  `json:"want"`
	} `json:"uris"`
}

func readTable(t *testing.T) table {
	t.Helper()
	data, err := os.ReadFile(deployDir + "/testdata/accept-format.json")
	if err != nil {
		t.Fatal(err)
	}
	var tb table
	if err := json.Unmarshal(data, &tb); err != nil {
		t.Fatalf("accept-format.json: %v", err)
	}
	if len(tb.Accept) == 0 || len(tb.URIs) == 0 {
		t.Fatal("accept-format.json has no cases")
	}
	return tb
}

func enabled(t *testing.T, s string) []thumbkey.Format {
	t.Helper()
	fs, err := ParseEnabled(s)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestChooseTable: the Go side chooses what the table says, the table the
// CloudFront Function is tested against.
func TestChooseTable(t *testing.T) {
	for _, row := range readTable(t).Accept {
		accept := ""
		if row.Accept != nil {
			accept = *row.Accept
		}
		if len(row.Want) != 4 {
			t.Errorf("%s: want has %d enabled sets, the table gives all four", row.Client, len(row.Want))
		}
		for set, want := range row.Want {
			if got := Choose(accept, enabled(t, set)); string(got) != want {
				t.Errorf("%s, enabled %q: Choose = %s, want %s", row.Client, set, got, want)
			}
		}
	}
}

// TestRewriteTable: a request URI (percent-encoded, as the front's router
// decodes it) is answered with the key the table says.
func TestRewriteTable(t *testing.T) {
	for _, row := range readTable(t).URIs {
		accept := ""
		if row.Accept != nil {
			accept = *row.Accept
		}
		key, err := url.PathUnescape(strings.TrimPrefix(row.URI, "/"))
		if err != nil {
			t.Fatal(err)
		}
		wantKey, err := url.PathUnescape(strings.TrimPrefix(row.Want, "/"))
		if err != nil {
			t.Fatal(err)
		}
		got := key
		if k, ok := Rewrite(key, accept, enabled(t, row.Enabled)); ok {
			got = k.String()
		}
		if got != wantKey {
			t.Errorf("%s, enabled %q, Accept %q: answered with %q, want %q", row.URI, row.Enabled, accept, got, wantKey)
		}
	}
}

func TestParseEnabled(t *testing.T) {
	tests := []struct {
		in   string
		want []thumbkey.Format
		ok   bool
	}{
		{"", nil, true},
		{"webp", []thumbkey.Format{thumbkey.WebP}, true},
		{" WebP , avif,webp", []thumbkey.Format{thumbkey.WebP, thumbkey.AVIF}, true},
		{"jpg", nil, false},
		{"png", nil, false},
		{"webp,gif", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseEnabled(tt.in)
		if (err == nil) != tt.ok || strings.Join(formatNames(got), ",") != strings.Join(formatNames(tt.want), ",") {
			t.Errorf("ParseEnabled(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func formatNames(fs []thumbkey.Format) []string {
	var s []string
	for _, f := range fs {
		s = append(s, string(f))
	}
	return s
}

// TestCloudFrontFunction runs the CloudFront Function's own tests with
// Node's test runner (node --test), so that `make test` checks the edge
// side of the table too. Without node it fails under
// S3THUMB_REQUIRE_TEST_SERVERS=1 and is skipped otherwise.
func TestCloudFrontFunction(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("S3THUMB_REQUIRE_TEST_SERVERS") != "" {
			t.Fatal("node is not installed, and S3THUMB_REQUIRE_TEST_SERVERS is set: install Node.js 20 or later (apt-get install nodejs) to test scripts/deploy/accept-format.js")
		}
		t.Skip("node is not installed: scripts/deploy/accept-format.js is not tested (install Node.js 20 or later)")
	}
	cmd := exec.CommandContext(t.Context(), node, "--test", "accept-format.test.mjs")
	cmd.Dir = deployDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test accept-format.test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") {
		t.Fatalf("node --test printed no \"# fail 0\":\n%s", out)
	}
}
