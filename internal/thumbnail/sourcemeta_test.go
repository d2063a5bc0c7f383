package thumbnail

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// awsMetadataRule is a proxy in front of a real S3 server (versitygw) that
// holds requests to AWS S3's documented rule for user metadata: "Each
// name, value pair must conform to US-ASCII when using REST". AWS S3
// answers a raw UTF-8 x-amz-meta-* value with 403 SignatureDoesNotMatch
// (aws-sdk-java#2694, aws-sdk-java-v2#2624, aws-sdk-net#1587, minio-py#764);
// versitygw accepts it, so the proxy answers as S3 does.
func awsMetadataRule(t *testing.T, target string) (endpoint string, refused *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	refused = new(atomic.Int64)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, values := range r.Header {
			if !strings.HasPrefix(strings.ToLower(name), "x-amz-meta-") {
				continue
			}
			for _, v := range values {
				for i := 0; i < len(v); i++ {
					if v[i] >= 0x80 {
						refused.Add(1)
						w.Header().Set("Content-Type", "application/xml")
						w.WriteHeader(http.StatusForbidden)
						fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message></Error>`)
						return
					}
				}
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, refused
}

// TestStoreBackOfNonASCIIOriginal: the thumbnail of an original whose key
// is not ASCII (the README's own example, "Grüße aus Köln") is stored back
// on S3, where user metadata must be US-ASCII. Thumbnails record their
// original's key as user metadata (x-amz-meta-s3thumb-source-key); were
// the raw UTF-8 key sent, AWS S3 would refuse every store-back of such a
// thumbnail, so it would be made again on every request and a worker's
// job for it would fail.
func TestStoreBackOfNonASCIIOriginal(t *testing.T) {
	gw := testserver.VersityGW(t)
	gw.CreateBucket(t, "images")
	endpoint, refused := awsMetadataRule(t, gw.Endpoint)
	st, err := store.Open(t.Context(), "s3://images", store.Options{
		S3Endpoint: endpoint, S3PathStyle: true, Region: gw.Region,
		Credentials: credentials.NewStaticCredentialsProvider(gw.AccessKey, gw.SecretKey, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const original = "photos/2026/Grüße aus Köln.jpg"
	if err := st.Put(ctx, original, solidJPEG(t, red), store.PutOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	m := makerOn(t, st)
	res, err := m.Ensure(ctx, mustKey(t, "photos/2026/Grüße aus Köln_20x20.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stored || res.SaveErr != nil {
		t.Fatalf("store-back of a thumbnail of %q: stored %v, %v (requests S3 refuses for non-ASCII metadata: %d)",
			original, res.Stored, res.SaveErr, refused.Load())
	}
	// The source it records reads back as the original's key: following
	// the unchanged original leaves the thumbnail as it is.
	f, err := m.Follow(ctx, mustKey(t, "photos/2026/Grüße aus Köln_20x20.jpg"))
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if f.Existing == nil || f.Remade || f.Deleted {
		t.Errorf("Follow of a current thumbnail of %q: remade %v, deleted %v; want it left as it is", original, f.Remade, f.Deleted)
	}
}
