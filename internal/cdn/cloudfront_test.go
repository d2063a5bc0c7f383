package cdn

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
)

// invalidationBatch is the request body CloudFront's API documents.
type invalidationBatch struct {
	XMLName xml.Name `xml:"InvalidationBatch"`
	Paths   struct {
		Quantity int      `xml:"Quantity"`
		Items    []string `xml:"Items>Path"`
	} `xml:"Paths"`
	CallerReference string `xml:"CallerReference"`
}

// recorded is one request the fake endpoint received.
type recorded struct {
	method, path, auth string
	batch              invalidationBatch
}

// fakeCloudFront is an HTTP endpoint on 127.0.0.1 that records
// CreateInvalidation requests and answers as CloudFront does (201 and the
// invalidation), or with status when it is set.
func fakeCloudFront(t *testing.T, status int) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recorded{method: r.Method, path: r.URL.EscapedPath(), auth: r.Header.Get("Authorization")}
		if err := xml.Unmarshal(body, &rec.batch); err != nil {
			t.Errorf("request body %q: %v", body, err)
		}
		mu.Lock()
		got = append(got, rec)
		n := len(got)
		mu.Unlock()
		if status != 0 {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error><RequestId>r%d</RequestId></ErrorResponse>`, n)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Location", fmt.Sprintf("https://cloudfront.amazonaws.com/2020-05-31/distribution/E1/invalidation/I%d", n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I%d</Id><Status>InProgress</Status><CreateTime>2026-12-06T18:00:00Z</CreateTime>%s</Invalidation>`,
			n, strings.TrimPrefix(string(body), `<?xml version="1.0" encoding="UTF-8"?>`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), got...)
	}
}

func client(endpoint string) *cloudfront.Client {
	return cloudfront.New(cloudfront.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		// No retries: a failure is seen once.
		RetryMaxAttempts: 1,
	})
}

func TestPath(t *testing.T) {
	for key, want := range map[string]string{
		"earth_200x200.jpg":              "/earth_200x200.jpg",
		"photos/earth_200x200@2x.webp":   "/photos/earth_200x200@2x.webp",
		"my photos/café_200x200.jpg":     "/my%20photos/caf%C3%A9_200x200.jpg",
		"a*b/100%_x;y,z?_1x1.png":        "/a%2Ab/100%25_x%3By%2Cz%3F_1x1.png",
		"plus+and&amp=_200x200.jpg":      "/plus+and&amp=_200x200.jpg",
		"site/quote\"<>_200x200.jpg":     "/site/quote%22%3C%3E_200x200.jpg",
		"tilde~dash-under_score_1x1.jpg": "/tilde~dash-under_score_1x1.jpg",
	} {
		if got := Path(key); got != want {
			t.Errorf("Path(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestInvalidate: the changed keys go to CloudFront's CreateInvalidation,
// signed, in batches of at most MaxPathsPerRequest paths, each with a
// CallerReference of its own and its paths escaped.
func TestInvalidate(t *testing.T) {
	srv, requests := fakeCloudFront(t, 0)
	inv, err := NewCloudFront(client(srv.URL), "E2EXAMPLE", "site/")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"my photos/earth_200x200.jpg"}
	for i := range MaxPathsPerRequest + 20 {
		keys = append(keys, fmt.Sprintf("p/k%d_100x100.jpg", i))
	}
	if err := inv.Invalidate(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	got := requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	var paths []string
	refs := map[string]bool{}
	for _, r := range got {
		if r.method != http.MethodPost || r.path != "/2020-05-31/distribution/E2EXAMPLE/invalidation" {
			t.Errorf("request %s %s, want POST /2020-05-31/distribution/E2EXAMPLE/invalidation", r.method, r.path)
		}
		if !strings.HasPrefix(r.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(r.auth, "/us-east-1/cloudfront/aws4_request") {
			t.Errorf("Authorization %q: want a SigV4 signature for cloudfront in us-east-1", r.auth)
		}
		if r.batch.Paths.Quantity != len(r.batch.Paths.Items) || r.batch.Paths.Quantity > MaxPathsPerRequest || r.batch.Paths.Quantity == 0 {
			t.Errorf("Quantity %d with %d paths: want them equal, 1 to %d", r.batch.Paths.Quantity, len(r.batch.Paths.Items), MaxPathsPerRequest)
		}
		if r.batch.CallerReference == "" || refs[r.batch.CallerReference] {
			t.Errorf("CallerReference %q: want a new one per request", r.batch.CallerReference)
		}
		refs[r.batch.CallerReference] = true
		paths = append(paths, r.batch.Paths.Items...)
	}
	if len(paths) != len(keys) || paths[0] != "/site/my%20photos/earth_200x200.jpg" || paths[len(paths)-1] != fmt.Sprintf("/site/p/k%d_100x100.jpg", MaxPathsPerRequest+19) {
		t.Errorf("paths %q...: want every key once, under the prefix, escaped", paths[:min(3, len(paths))])
	}

	// Nothing changed: no request.
	if err := inv.Invalidate(context.Background(), nil); err != nil || len(requests()) != 2 {
		t.Errorf("no keys: %v, %d requests; want none made", err, len(requests())-2)
	}
}

// TestInvalidateFails: CloudFront's refusal is returned, with the
// distribution named.
func TestInvalidateFails(t *testing.T) {
	srv, requests := fakeCloudFront(t, http.StatusForbidden)
	inv, err := NewCloudFront(client(srv.URL), "E2EXAMPLE", "")
	if err != nil {
		t.Fatal(err)
	}
	err = inv.Invalidate(context.Background(), []string{"a_1x1.jpg"})
	if err == nil || !strings.Contains(err.Error(), "E2EXAMPLE") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("error %v: want CloudFront's AccessDenied, naming the distribution", err)
	}
	if len(requests()) != 1 {
		t.Errorf("%d requests, want 1", len(requests()))
	}
	if _, err := NewCloudFront(client(srv.URL), "", ""); err == nil {
		t.Error("no distribution ID: want an error")
	}
}
