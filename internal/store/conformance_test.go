package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// conformance is the behaviour every Store must share; each case gets a
// fresh, empty store.
var conformance = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"put get head", testPutGetHead},
	{"tags", testTags},
	{"metadata", testMetadata},
	{"metadata text", testMetadataText},
	{"overwrite", testOverwrite},
	{"if-none-match", testIfNoneMatch},
	{"if-none-match race", testIfNoneMatchRace},
	{"if-match", testIfMatch},
	{"delete if-match", testDeleteIfMatch},
	{"not found", testNotFound},
	{"delete", testDelete},
	{"unusual keys", testUnusualKeys},
	{"invalid keys", testInvalidKeys},
	{"list", testList},
	{"list stops on error", testListStops},
	{"ping", testPing},
	{"large body", testLargeBody},
}

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		runConformance(t, func(t *testing.T) store.Store { return newFileStore(t, t.TempDir()) })
	})
	t.Run("s3", func(t *testing.T) {
		srv := testserver.VersityGW(t)
		var n atomic.Int64
		runConformance(t, func(t *testing.T) store.Store {
			bucket := fmt.Sprintf("conformance-%d", n.Add(1))
			srv.CreateBucket(t, bucket)
			return openS3(t, srv, "s3://"+bucket+"/pre/fix", store.Options{})
		})
	})
}

func runConformance(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range conformance {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// openS3 opens the s3:// URL on srv through store.Open, as the service does.
func openS3(t *testing.T, srv *testserver.S3, rawURL string, opts store.Options) store.Store {
	t.Helper()
	opts.S3Endpoint = srv.Endpoint
	opts.S3PathStyle = true
	opts.Region = srv.Region
	opts.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")
	s, err := store.Open(t.Context(), rawURL, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	return s
}

func newFileStore(t *testing.T, dir string) *store.FileStore {
	t.Helper()
	s, err := store.NewFile(dir)
	if err != nil {
		t.Fatalf("NewFile(%q): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s store.Store, key, body string, opts store.PutOptions) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(body), opts); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// get reads an object whole.
func get(t *testing.T, s store.Store, key string) (store.Attrs, string) {
	t.Helper()
	obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer obj.Body.Close()
	body, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("Get(%q): read body: %v", key, err)
	}
	return obj.Attrs, string(body)
}

// list collects every key the store lists under prefix after startAfter.
func list(t *testing.T, s store.Store, prefix, startAfter string) []store.Attrs {
	t.Helper()
	var got []store.Attrs
	err := s.List(t.Context(), prefix, startAfter, func(a store.Attrs) error {
		got = append(got, a)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q, %q): %v", prefix, startAfter, err)
	}
	return got
}

func keys(attrs []store.Attrs) []string {
	ks := make([]string, len(attrs))
	for i, a := range attrs {
		ks[i] = a.Key
	}
	return ks
}

func testPutGetHead(t *testing.T, s store.Store) {
	const key, body = "photos/earth_200x200.jpg", "not really a jpeg"
	before := time.Now().Add(-2 * time.Second)
	put(t, s, key, body, store.PutOptions{
		ContentType:  "image/jpeg",
		CacheControl: "public, max-age=31536000, immutable",
		Tags:         map[string]string{"thumbnail": "yes"},
	})
	attrs, got := get(t, s, key)
	if got != body {
		t.Errorf("Get body = %q, want %q", got, body)
	}
	want := store.Attrs{
		Key:          key,
		Size:         int64(len(body)),
		ContentType:  "image/jpeg",
		CacheControl: "public, max-age=31536000, immutable",
		ETag:         attrs.ETag,
		LastModified: attrs.LastModified,
		StorageClass: "STANDARD",
	}
	if !reflect.DeepEqual(attrs, want) {
		t.Errorf("Get attrs = %+v, want %+v", attrs, want)
	}
	if len(attrs.ETag) < 3 || !strings.HasPrefix(attrs.ETag, `"`) || !strings.HasSuffix(attrs.ETag, `"`) {
		t.Errorf("ETag %q is not a quoted string", attrs.ETag)
	}
	if attrs.LastModified.Before(before) || attrs.LastModified.After(time.Now().Add(2*time.Second)) {
		t.Errorf("LastModified %v is not about now", attrs.LastModified)
	}
	head, err := s.Head(t.Context(), key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if !head.LastModified.Equal(attrs.LastModified) {
		t.Errorf("Head LastModified %v, Get %v", head.LastModified, attrs.LastModified)
	}
	head.LastModified = attrs.LastModified
	if !reflect.DeepEqual(head, attrs) {
		t.Errorf("Head = %+v, Get = %+v", head, attrs)
	}
	listed := list(t, s, "", "")
	if len(listed) != 1 || listed[0].Key != key || listed[0].Size != int64(len(body)) || listed[0].ETag != attrs.ETag {
		t.Errorf("List = %+v, want the one object with Get's size and ETag", listed)
	}
}

func testTags(t *testing.T, s store.Store) {
	tags := map[string]string{
		"thumbnail": "yes",
		"made by":   "s3thumb 1.0+dev",
		// AWS allows letters, digits, spaces and + - = . _ : / @ in tags.
		"source": "photos/Grüße 2024+v=1_a-b.jpg:@x",
		"empty":  "",
	}
	put(t, s, "t.png", "x", store.PutOptions{Tags: tags})
	got, err := s.Tags(t.Context(), "t.png")
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if !mapsEqual(got, tags) {
		t.Errorf("Tags = %q, want %q", got, tags)
	}
	put(t, s, "untagged.png", "x", store.PutOptions{})
	got, err = s.Tags(t.Context(), "untagged.png")
	if err != nil {
		t.Fatalf("Tags of an untagged object: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("Tags of an untagged object = %q, want none", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testOverwrite(t *testing.T, s store.Store) {
	put(t, s, "a.jpg", "first", store.PutOptions{ContentType: "image/jpeg", Tags: map[string]string{"v": "1"}})
	first, _ := get(t, s, "a.jpg")
	put(t, s, "a.jpg", "second version", store.PutOptions{ContentType: "image/png", Tags: map[string]string{"v": "2"}})
	attrs, body := get(t, s, "a.jpg")
	if body != "second version" || attrs.Size != int64(len(body)) || attrs.ContentType != "image/png" {
		t.Errorf("after overwrite: %+v %q, want the second version", attrs, body)
	}
	if attrs.ETag == first.ETag {
		t.Errorf("ETag %s did not change with the body", attrs.ETag)
	}
	tags, err := s.Tags(t.Context(), "a.jpg")
	if err != nil || tags["v"] != "2" {
		t.Errorf("Tags after overwrite = %q, %v; want v=2", tags, err)
	}
}

func testIfNoneMatch(t *testing.T, s store.Store) {
	opts := store.PutOptions{ContentType: "image/webp", IfNoneMatch: true, Tags: map[string]string{"w": "first"}}
	put(t, s, "x_10x.webp", "winner", opts)
	opts.Tags = map[string]string{"w": "second"}
	err := s.Put(t.Context(), "x_10x.webp", []byte("loser"), opts)
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Put with IfNoneMatch: %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), "x_10x.webp") {
		t.Errorf("error %q does not name the key", err)
	}
	if _, body := get(t, s, "x_10x.webp"); body != "winner" {
		t.Errorf("body = %q, want the first writer's", body)
	}
	if tags, err := s.Tags(t.Context(), "x_10x.webp"); err != nil || tags["w"] != "first" {
		t.Errorf("Tags = %q, %v; want the first writer's", tags, err)
	}
}

// testIfMatch: a rewrite conditional on the ETag read replaces only that
// version; one written in between (an upload) is left as it is, and so is
// a key deleted in between.
func testIfMatch(t *testing.T, s store.Store) {
	put(t, s, "banner_1200x630.jpg", "first", store.PutOptions{ContentType: "image/jpeg", Tags: map[string]string{"thumbnail": "yes"}})
	read, err := s.Head(t.Context(), "banner_1200x630.jpg")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "banner_1200x630.jpg", "rewritten", store.PutOptions{ContentType: "image/jpeg", IfMatch: read.ETag, Tags: map[string]string{"thumbnail": "yes"}})
	if _, body := get(t, s, "banner_1200x630.jpg"); body != "rewritten" {
		t.Fatalf("body = %q after a rewrite of the version read", body)
	}

	// An upload replaces it after the read: the stale ETag must not win.
	read, _ = s.Head(t.Context(), "banner_1200x630.jpg")
	put(t, s, "banner_1200x630.jpg", "uploaded original", store.PutOptions{ContentType: "image/jpeg"})
	err = s.Put(t.Context(), "banner_1200x630.jpg", []byte("rewritten again"), store.PutOptions{IfMatch: read.ETag, Tags: map[string]string{"thumbnail": "yes"}})
	if !errors.Is(err, store.ErrChanged) {
		t.Fatalf("Put with a stale IfMatch: %v, want ErrChanged", err)
	}
	if _, body := get(t, s, "banner_1200x630.jpg"); body != "uploaded original" {
		t.Errorf("body = %q, want the upload's", body)
	}
	if tags, err := s.Tags(t.Context(), "banner_1200x630.jpg"); err != nil || len(tags) != 0 {
		t.Errorf("Tags = %q, %v; want the upload's (none)", tags, err)
	}

	// Deleted after the read: nothing comes back.
	if err := s.Delete(t.Context(), "banner_1200x630.jpg"); err != nil {
		t.Fatal(err)
	}
	err = s.Put(t.Context(), "banner_1200x630.jpg", []byte("back"), store.PutOptions{IfMatch: read.ETag})
	if !errors.Is(err, store.ErrChanged) {
		t.Fatalf("Put with IfMatch on a deleted key: %v, want ErrChanged", err)
	}
	if _, err := s.Head(t.Context(), "banner_1200x630.jpg"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Head after the refused write: %v, want ErrNotFound", err)
	}
}

// testDeleteIfMatch: a delete conditional on the ETag read removes only
// that version; one uploaded in between stays.
func testDeleteIfMatch(t *testing.T, s store.Store) {
	put(t, s, "old_10x.jpg", "thumbnail", store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}})
	read, err := s.Head(t.Context(), "old_10x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "old_10x.jpg", "an upload", store.PutOptions{})
	if err := s.DeleteIfMatch(t.Context(), "old_10x.jpg", read.ETag); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("DeleteIfMatch of a replaced object: %v, want ErrChanged", err)
	}
	if _, body := get(t, s, "old_10x.jpg"); body != "an upload" {
		t.Fatalf("body = %q, want the upload kept", body)
	}
	now, _ := s.Head(t.Context(), "old_10x.jpg")
	if err := s.DeleteIfMatch(t.Context(), "old_10x.jpg", now.ETag); err != nil {
		t.Fatalf("DeleteIfMatch of the version read: %v", err)
	}
	if _, err := s.Head(t.Context(), "old_10x.jpg"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Head after DeleteIfMatch: %v, want ErrNotFound", err)
	}
	if err := s.DeleteIfMatch(t.Context(), "old_10x.jpg", now.ETag); err != nil {
		t.Errorf("DeleteIfMatch of a missing object: %v, want nil", err)
	}
}

func testIfNoneMatchRace(t *testing.T, s store.Store) {
	const writers = 20
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   = make([]error, writers)
		bodies = make([]string, writers)
	)
	for i := range writers {
		bodies[i] = fmt.Sprintf("body of writer %d %s", i, strings.Repeat("x", i*100))
		wg.Go(func() {
			<-start
			errs[i] = s.Put(t.Context(), "race/r_100x.png", []byte(bodies[i]), store.PutOptions{IfNoneMatch: true})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrExists):
			t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	attrs, body := get(t, s, "race/r_100x.png")
	if body != bodies[winner] || attrs.Size != int64(len(body)) {
		t.Errorf("stored %d bytes %.30q..., want writer %d's", attrs.Size, body, winner)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	put(t, s, "dir/present.jpg", "x", store.PutOptions{})
	for _, key := range []string{"missing.jpg", "dir/missing.jpg", "nodir/missing.jpg", "dir", "dir/present.jpg/below"} {
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("Get(%q) error %q does not name the key", key, err)
		}
		if _, err := s.Head(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Head(%q): %v, want ErrNotFound", key, err)
		}
		if key == "dir" {
			// versitygw's POSIX backend answers GetObjectTagging for
			// folders; S3 and the file store do not.
			continue
		}
		if _, err := s.Tags(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tags(%q): %v, want ErrNotFound", key, err)
		}
	}
}

func testDelete(t *testing.T, s store.Store) {
	put(t, s, "d/one.jpg", "1", store.PutOptions{Tags: map[string]string{"a": "b"}})
	put(t, s, "d/two.jpg", "2", store.PutOptions{})
	if err := s.Delete(t.Context(), "d/one.jpg"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Head(t.Context(), "d/one.jpg"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Head after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), "d/one.jpg"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "never/was.jpg"); err != nil {
		t.Errorf("Delete of a never-written key: %v, want nil", err)
	}
	if got := keys(list(t, s, "", "")); !slices.Equal(got, []string{"d/two.jpg"}) {
		t.Errorf("List after Delete = %q, want [d/two.jpg]", got)
	}
	// A new object under a deleted key starts afresh.
	put(t, s, "d/one.jpg", "again", store.PutOptions{IfNoneMatch: true})
	if tags, err := s.Tags(t.Context(), "d/one.jpg"); err != nil || len(tags) != 0 {
		t.Errorf("Tags of the new object = %q, %v; want none", tags, err)
	}
}

func testUnusualKeys(t *testing.T, s store.Store) {
	ks := []string{
		"фото/лето 2024/größe_200x.jpg",
		"with space/and+plus & amp.png",
		"a/b/c/d/e/f/deep.webp",
		"日本語.avif",
		"percent%20not%2Fdecoded.jpg",
		"emoji 🖼️.jpg",
		"quote's \"and\" brackets[1].jpg",
	}
	for i, k := range ks {
		put(t, s, k, fmt.Sprint("body ", i), store.PutOptions{})
	}
	for i, k := range ks {
		if _, body := get(t, s, k); body != fmt.Sprint("body ", i) {
			t.Errorf("Get(%q) = %q, want body %d", k, body, i)
		}
	}
	want := slices.Clone(ks)
	slices.Sort(want)
	if got := keys(list(t, s, "", "")); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func testInvalidKeys(t *testing.T, s store.Store) {
	for _, key := range []string{"", "/abs.jpg", "../up.jpg", "a/../b.jpg", "a//b.jpg", "./a.jpg", "ctl\x01.jpg", "back\\slash.jpg", "\xff.jpg"} {
		if err := s.Put(t.Context(), key, []byte("x"), store.PutOptions{}); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Head(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Head(%q): %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(t.Context(), key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v, want ErrInvalidKey", key, err)
		}
	}
	if got := list(t, s, "", ""); len(got) != 0 {
		t.Errorf("List after refused writes = %q, want nothing", keys(got))
	}
}

func testList(t *testing.T, s store.Store) {
	// Keys chosen so that a directory walk in name order ("a", "a-b.jpg",
	// ...) would differ from S3's lexical key order ("a-b.jpg" < "a.jpg"
	// < "a/x.jpg" < "a0.jpg").
	all := []string{"a/x.jpg", "a.jpg", "a-b.jpg", "a0.jpg", "a/y/z.jpg", "b/1.png", "b/2.png", "ba.png", "c"}
	for _, k := range all {
		put(t, s, k, k, store.PutOptions{})
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	for _, tc := range []struct {
		prefix, startAfter string
		want               []string
	}{
		{"", "", sorted},
		{"a", "", []string{"a-b.jpg", "a.jpg", "a/x.jpg", "a/y/z.jpg", "a0.jpg"}},
		{"a/", "", []string{"a/x.jpg", "a/y/z.jpg"}},
		{"b/", "", []string{"b/1.png", "b/2.png"}},
		{"b", "", []string{"b/1.png", "b/2.png", "ba.png"}},
		{"", "a/x.jpg", []string{"a/y/z.jpg", "a0.jpg", "b/1.png", "b/2.png", "ba.png", "c"}},
		{"", "a/", []string{"a/x.jpg", "a/y/z.jpg", "a0.jpg", "b/1.png", "b/2.png", "ba.png", "c"}},
		{"b", "b/1.png", []string{"b/2.png", "ba.png"}},
		{"", "b/9", []string{"ba.png", "c"}},
		{"", "c", nil},
		{"nothing/", "", nil},
		{"a/y/z.jpg", "", []string{"a/y/z.jpg"}},
	} {
		got := list(t, s, tc.prefix, tc.startAfter)
		if !slices.Equal(keys(got), tc.want) {
			t.Errorf("List(%q, %q) = %q, want %q", tc.prefix, tc.startAfter, keys(got), tc.want)
		}
		for _, a := range got {
			if a.Size != int64(len(a.Key)) || a.ETag == "" || a.LastModified.IsZero() {
				t.Errorf("List(%q, %q): %+v lacks size, ETag or time", tc.prefix, tc.startAfter, a)
			}
		}
	}
}

func testListStops(t *testing.T, s store.Store) {
	for _, k := range []string{"1", "2", "3"} {
		put(t, s, k, k, store.PutOptions{})
	}
	stop := errors.New("enough")
	var seen []string
	err := s.List(t.Context(), "", "", func(a store.Attrs) error {
		seen = append(seen, a.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List returned %v, want fn's error", err)
	}
	if !slices.Equal(seen, []string{"1", "2"}) {
		t.Errorf("List called fn for %q, want [1 2]", seen)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.List(ctx, "", "", func(store.Attrs) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v, want context.Canceled", err)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if s.String() == "" {
		t.Error("String is empty")
	}
}

// TestS3ListPagination lists more keys than one ListObjectsV2 page holds.
func TestS3ListPagination(t *testing.T) {
	srv := testserver.VersityGW(t)
	srv.CreateBucket(t, "pages")
	s := openS3(t, srv, "s3://pages/p", store.Options{})
	const n = 1100
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("k/%05d.jpg", i)
	}
	putAll(t, s, want)
	put(t, s, "l/outside.jpg", "x", store.PutOptions{})
	if got := keys(list(t, s, "k/", "")); !slices.Equal(got, want) {
		t.Fatalf("List returned %d keys, want %d in order", len(got), n)
	}
	if got := keys(list(t, s, "k/", "k/00999.jpg")); !slices.Equal(got, want[1000:]) {
		t.Errorf("List after k/00999.jpg returned %d keys, want %d", len(got), n-1000)
	}
}

// putAll writes keys with a few concurrent writers.
func putAll(t *testing.T, s store.Store, keys []string) {
	t.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 16 {
		wg.Go(func() {
			for k := range work {
				if err := s.Put(t.Context(), k, []byte(k), store.PutOptions{}); err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("Put(%q): %v", k, err)
					}
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
}

func testLargeBody(t *testing.T, s store.Store) {
	// Larger than any single read or buffer, so that Get must stream it.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if err := s.Put(t.Context(), "big.bin", big, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	attrs, body := get(t, s, "big.bin")
	if body != string(big) || attrs.Size != int64(len(big)) {
		t.Errorf("read %d bytes back (Size %d), want %d", len(body), attrs.Size, len(big))
	}
}

// testMetadata: user metadata written with an object is read back by Get
// and Head, names in lower case, and replaced with the object.
func testMetadata(t *testing.T, s store.Store) {
	const key = "photos/earth_200x200.jpg"
	put(t, s, key, "one", store.PutOptions{Metadata: map[string]string{"S3thumb-Source-Etag": `"abc"`, "s3thumb-source-key": "photos/earth.jpg"}})
	want := map[string]string{"s3thumb-source-etag": `"abc"`, "s3thumb-source-key": "photos/earth.jpg"}
	got, _ := get(t, s, key)
	if !maps.Equal(got.Metadata, want) {
		t.Errorf("Get metadata = %v, want %v", got.Metadata, want)
	}
	head, err := s.Head(t.Context(), key)
	if err != nil || !maps.Equal(head.Metadata, want) {
		t.Errorf("Head metadata = %v, %v; want %v", head.Metadata, err, want)
	}
	put(t, s, key, "two", store.PutOptions{})
	if head, err := s.Head(t.Context(), key); err != nil || len(head.Metadata) != 0 {
		t.Errorf("after a write without metadata, Head metadata = %v, %v; want none", head.Metadata, err)
	}
}

// testMetadataText: any text written as a metadata value reads back as it
// was written, though S3 carries only US-ASCII in metadata headers: an
// original's key in UTF-8 (short, and longer than one RFC 2047
// encoded-word), text that looks like an encoded-word, white space at the
// ends, a control character.
func testMetadataText(t *testing.T, s store.Store) {
	const key = "photos/Grüße aus Köln_200x200.jpg"
	want := map[string]string{
		"s3thumb-source-key": "photos/2026/Grüße aus Köln.jpg",
		"long":               strings.Repeat("Ölgemälde 東京 ", 20),
		"encoded-word":       "=?UTF-8?B?w7Y=?= stays as written",
		"spaces":             "  a b  ",
		"tab":                "a\tb",
		"control":            "a\x07b",
		"ascii":              `"d41d8cd98f00b204e9800998ecf8427e"`,
	}
	put(t, s, key, "one", store.PutOptions{Metadata: want})
	got, _ := get(t, s, key)
	if !maps.Equal(got.Metadata, want) {
		t.Errorf("Get metadata = %q, want %q", got.Metadata, want)
	}
	head, err := s.Head(t.Context(), key)
	if err != nil || !maps.Equal(head.Metadata, want) {
		t.Errorf("Head metadata = %q, %v; want %q", head.Metadata, err, want)
	}
}
