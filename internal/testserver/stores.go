package testserver

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3thumb/s3thumb/internal/store"
)

// Store opens a new, empty bucket on the server as s3thumb opens a store
// (store.Open), with prefix ("" for none).
func (s *S3) Store(t testing.TB, bucket, prefix string) store.Store {
	t.Helper()
	s.CreateBucket(t, bucket)
	st, err := store.Open(t.Context(), "s3://"+bucket+"/"+prefix, store.Options{
		S3Endpoint: s.Endpoint, S3PathStyle: true, Region: s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	if err != nil {
		t.Fatalf("open bucket %s: %v", bucket, err)
	}
	return st
}

// Stores returns, by name, openers of a fresh, empty store of each kind a
// test should hold to the same behaviour: "file", a temporary directory,
// and "versitygw", a new bucket on one versitygw started now (where tags
// and conditional writes are real).
func Stores(t testing.TB) map[string]func(t *testing.T) store.Store {
	t.Helper()
	gw := VersityGW(t)
	var n atomic.Int64
	return map[string]func(t *testing.T) store.Store{
		"file": func(t *testing.T) store.Store {
			st, err := store.NewFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"versitygw": func(t *testing.T) store.Store {
			return gw.Store(t, fmt.Sprintf("bucket-%d", n.Add(1)), "")
		},
	}
}
