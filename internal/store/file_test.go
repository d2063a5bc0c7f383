package store_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testkit"
)

// writeFile writes a file under dir as a user would, outside the store.
func writeFile(t *testing.T, dir, rel, body string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestFileSymlinksDoNotEscape(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "store"), filepath.Join(base, "outside")
	writeFile(t, outside, "secret.jpg", "secret")
	writeFile(t, dir, "real.jpg", "real")
	symlink(t, "../outside", filepath.Join(dir, "out"))
	symlink(t, outside, filepath.Join(dir, "abs"))
	symlink(t, filepath.Join(outside, "secret.jpg"), filepath.Join(dir, "leak.jpg"))
	symlink(t, "../outside/secret.jpg", filepath.Join(dir, "relleak.jpg"))
	symlink(t, "real.jpg", filepath.Join(dir, "inside.jpg"))
	s := newFileStore(t, dir)

	for _, key := range []string{"out/secret.jpg", "abs/secret.jpg", "leak.jpg", "relleak.jpg"} {
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Head(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Head(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Tags(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tags(%q): %v, want ErrNotFound", key, err)
		}
	}
	for _, key := range []string{"out/new.jpg", "abs/new.jpg", "out/sub/new.jpg"} {
		for _, inm := range []bool{false, true} {
			err := s.Put(t.Context(), key, []byte("x"), store.PutOptions{IfNoneMatch: inm})
			if !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Put(%q, IfNoneMatch=%v): %v, want ErrInvalidKey", key, inm, err)
			}
		}
	}
	if err := s.Delete(t.Context(), "out/secret.jpg"); err != nil {
		t.Errorf("Delete through a link: %v, want nil (no such object)", err)
	}
	// Writing over a link replaces the link, never its target.
	put(t, s, "leak.jpg", "replaced", store.PutOptions{})
	if got, err := os.ReadFile(filepath.Join(outside, "secret.jpg")); err != nil || string(got) != "secret" {
		t.Errorf("outside file now %q, %v; want it untouched", got, err)
	}
	if names := testkit.DirNames(t, outside); !slices.Equal(names, []string{"secret.jpg"}) {
		t.Errorf("outside folder holds %q, want only secret.jpg", names)
	}
	// A link to a file inside the store is an object.
	if _, body := get(t, s, "inside.jpg"); body != "real" {
		t.Errorf("Get(inside.jpg) = %q, want the linked file", body)
	}
	want := []string{"inside.jpg", "leak.jpg", "real.jpg"}
	if got := keys(list(t, s, "", "")); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q (no escaping links)", got, want)
	}
}

func TestFileDotSegments(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	put(t, s, "a.jpg", "a", store.PutOptions{ContentType: "image/jpeg"})
	writeFile(t, dir, ".hidden.jpg", "h")
	writeFile(t, dir, "a/.x.jpg", "x")
	writeFile(t, dir, ".queue/job.json", "{}")

	for _, key := range []string{".s3thumb/meta/a.jpg.json", ".hidden.jpg", "a/.x.jpg", ".queue/job.json", "a/..b.jpg"} {
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Head(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Head(%q): %v, want ErrNotFound", key, err)
		}
		if err := s.Put(t.Context(), key, []byte("x"), store.PutOptions{}); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(t.Context(), key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".s3thumb", "meta", "a.jpg.json")); err != nil {
		t.Errorf("sidecar of a.jpg: %v", err)
	}
	if got := keys(list(t, s, "", "")); !slices.Equal(got, []string{"a.jpg"}) {
		t.Errorf("List = %q, want only [a.jpg]", got)
	}
	if got := keys(list(t, s, ".", "")); len(got) != 0 {
		t.Errorf("List(\".\") = %q, want nothing", got)
	}
}

func TestFilePlainDirectory(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"photos/earth.jpg":  "jpeg bytes",
		"photos/MOON.PNG":   "png bytes",
		"notes.txt":         "text",
		"noext":             "data",
		"deep/er/still.gif": "gif",
	}
	for k, v := range files {
		writeFile(t, dir, k, v)
	}
	s := newFileStore(t, dir)
	for key, ctype := range map[string]string{
		"photos/earth.jpg":  "image/jpeg",
		"photos/MOON.PNG":   "image/png",
		"notes.txt":         "text/plain; charset=utf-8",
		"noext":             "application/octet-stream",
		"deep/er/still.gif": "image/gif",
	} {
		obj, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if _, ok := obj.Body.(*os.File); !ok {
			t.Errorf("Get(%q) body is a %T, want *os.File (for sendfile)", key, obj.Body)
		}
		body, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(body) != files[key] || obj.Size != int64(len(body)) {
			t.Errorf("Get(%q) = %q (Size %d), want %q", key, body, obj.Size, files[key])
		}
		if obj.ContentType != ctype || obj.StorageClass != "STANDARD" || obj.CacheControl != "" {
			t.Errorf("Get(%q) attrs %+v, want ContentType %q, STANDARD, no Cache-Control", key, obj.Attrs, ctype)
		}
		head, err := s.Head(t.Context(), key)
		if err != nil || head.ETag != obj.ETag || !strings.HasPrefix(head.ETag, `"`) {
			t.Errorf("Head(%q) = %+v, %v; want Get's quoted ETag %s", key, head, err, obj.ETag)
		}
		if tags, err := s.Tags(t.Context(), key); err != nil || len(tags) != 0 {
			t.Errorf("Tags(%q) = %q, %v; want none", key, tags, err)
		}
	}
	want := []string{"deep/er/still.gif", "noext", "notes.txt", "photos/MOON.PNG", "photos/earth.jpg"}
	if got := keys(list(t, s, "", "")); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	for _, key := range []string{"photos", "deep/er"} {
		if _, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get of folder %q: %v, want ErrNotFound", key, err)
		}
		if _, err := s.Tags(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tags of folder %q: %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(t.Context(), key); err != nil {
			t.Errorf("Delete of folder %q: %v, want nil", key, err)
		}
	}
	if _, err := s.Head(t.Context(), "deep/er/still.gif"); err != nil {
		t.Errorf("Delete of a folder removed what it held: %v", err)
	}
}

func TestFileSidecar(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	body := "thumbnail bytes"
	put(t, s, "t_10x.jpg", body, store.PutOptions{ContentType: "image/x-test", Tags: map[string]string{"thumbnail": "yes"}})
	head, err := s.Head(t.Context(), "t_10x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(body))
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; head.ETag != want {
		t.Errorf("ETag = %s, want the MD5 %s, as S3 gives", head.ETag, want)
	}
	if head.ContentType != "image/x-test" {
		t.Errorf("ContentType = %q, want the one written", head.ContentType)
	}

	// Replaced by hand: the sidecar describes another version and is ignored.
	writeFile(t, dir, "t_10x.jpg", "new bytes, same name")
	head2, err := s.Head(t.Context(), "t_10x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if head2.ContentType != "image/jpeg" || head2.ETag == head.ETag {
		t.Errorf("after replacing the file: %+v, want ContentType from the extension and a new ETag", head2)
	}
	if tags, err := s.Tags(t.Context(), "t_10x.jpg"); err != nil || len(tags) != 0 {
		t.Errorf("Tags after replacing the file = %q, %v; want none", tags, err)
	}

	// A corrupt sidecar does not make the object unreadable.
	put(t, s, "c.png", "c", store.PutOptions{ContentType: "image/png"})
	writeFile(t, dir, ".s3thumb/meta/c.png.json", "{not json")
	if _, body := get(t, s, "c.png"); body != "c" {
		t.Errorf("Get with a corrupt sidecar = %q", body)
	}

	if err := s.Delete(t.Context(), "t_10x.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".s3thumb", "meta", "t_10x.jpg.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sidecar after Delete: %v, want it gone", err)
	}
}

func TestFileKeyConflicts(t *testing.T) {
	s := newFileStore(t, t.TempDir())
	put(t, s, "a.jpg", "a", store.PutOptions{})
	put(t, s, "d/x.jpg", "x", store.PutOptions{})
	for _, inm := range []bool{false, true} {
		for _, key := range []string{"a.jpg/b.jpg", "d"} {
			err := s.Put(t.Context(), key, []byte("y"), store.PutOptions{IfNoneMatch: inm})
			if !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Put(%q, IfNoneMatch=%v): %v, want ErrInvalidKey", key, inm, err)
			}
		}
	}
	if _, body := get(t, s, "d/x.jpg"); body != "x" {
		t.Errorf("d/x.jpg = %q after conflicting writes", body)
	}
}

// TestFileAtomicWrites reads a key while it is rewritten: every read must
// see one whole version, and no temporary file may be left behind.
func TestFileAtomicWrites(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	versions := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 192<<10)}
	if err := s.Put(t.Context(), "hot.jpg", versions[0], store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var (
		done  atomic.Bool
		wg    sync.WaitGroup
		reads atomic.Int64
	)
	wg.Go(func() {
		defer done.Store(true)
		for i := range 60 {
			if err := s.Put(t.Context(), "hot.jpg", versions[i%2], store.PutOptions{}); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for !done.Load() {
				obj, err := s.Get(t.Context(), "hot.jpg")
				if err != nil {
					t.Errorf("Get during rewrites: %v", err)
					return
				}
				body, err := io.ReadAll(obj.Body)
				obj.Body.Close()
				if err != nil {
					t.Errorf("read during rewrites: %v", err)
					return
				}
				if !bytes.Equal(body, versions[0]) && !bytes.Equal(body, versions[1]) {
					t.Errorf("read %d bytes that are neither version", len(body))
					return
				}
				if obj.Size != int64(len(body)) {
					t.Errorf("Size %d for a %d-byte body", obj.Size, len(body))
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("no read overlapped the rewrites")
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".s3thumb-tmp-") {
			t.Errorf("temporary file left behind: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewFile(t *testing.T) {
	base := t.TempDir()
	writeFile(t, base, "file", "x")
	for _, dir := range []string{filepath.Join(base, "missing"), filepath.Join(base, "file")} {
		if s, err := store.NewFile(dir); err == nil {
			s.Close()
			t.Errorf("NewFile(%q) succeeded, want an error", dir)
		} else if !strings.Contains(err.Error(), dir) {
			t.Errorf("NewFile(%q) error %q does not name the folder", dir, err)
		}
	}
}

// TestOpenRelativeFile opens file://./data relative to the working
// directory, as a user would write it.
func TestOpenRelativeFile(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	if err := os.Mkdir("data", 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(t.Context(), "file://./data", store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.(*store.FileStore).Close() })
	if s.String() != "file://./data" {
		t.Errorf("String = %q, want file://./data", s.String())
	}
	put(t, s, "in/here.jpg", "x", store.PutOptions{})
	if got, err := os.ReadFile(filepath.Join(base, "data", "in", "here.jpg")); err != nil || string(got) != "x" {
		t.Errorf("object file: %q, %v; want it at data/in/here.jpg", got, err)
	}
}

// FuzzFileKey checks that no key, however odd, writes outside the store's
// folder, even with a link out of it in place, and that every key accepted
// reads back.
func FuzzFileKey(f *testing.F) {
	for _, seed := range []string{"a.jpg", "../x", "out/x", "a/../../x", "/etc/x", ".s3thumb/meta/x", "a\\..\\x", "ünï/cödé.jpg", "a//b", "out", "link/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		base := t.TempDir()
		dir, outside := filepath.Join(base, "store"), filepath.Join(base, "outside")
		writeFile(t, outside, "keep", "keep")
		writeFile(t, dir, "keep", "keep")
		symlink(t, "../outside", filepath.Join(dir, "out"))
		s := newFileStore(t, dir)
		err := s.Put(t.Context(), key, []byte("fuzz"), store.PutOptions{})
		if err != nil && !errors.Is(err, store.ErrInvalidKey) {
			t.Fatalf("Put(%q): %v, want nil or ErrInvalidKey", key, err)
		}
		if names := testkit.DirNames(t, outside); !slices.Equal(names, []string{"keep"}) {
			t.Fatalf("Put(%q) wrote outside the store: %q", key, names)
		}
		if names := testkit.DirNames(t, base); !slices.Equal(names, []string{"outside", "store"}) {
			t.Fatalf("Put(%q) wrote beside the store: %q", key, names)
		}
		if err != nil {
			return
		}
		if _, body := get(t, s, key); body != "fuzz" {
			t.Fatalf("Get(%q) = %q after Put", key, body)
		}
		if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key))); err != nil || string(got) != "fuzz" {
			t.Fatalf("object %q is not the file DIR/KEY: %q, %v", key, got, err)
		}
	})
}

// TestFileSidecarCacheSeesOtherWriters: a store caches attributes per
// version of a file, so what another process (here another FileStore on the
// same directory) writes is seen at once, and a FIFO never blocks a Get.
func TestFileSidecarCacheSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	reader, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	writer, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i, ctype := range []string{"image/jpeg", "image/webp", "image/png"} {
		if err := writer.Put(ctx, "a_1x1.jpg", []byte(strings.Repeat("x", i+1)), store.PutOptions{ContentType: ctype, Tags: map[string]string{"v": ctype}}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second read comes from the cache
			obj, err := reader.Get(ctx, "a_1x1.jpg")
			if err != nil {
				t.Fatal(err)
			}
			obj.Body.Close()
			if obj.ContentType != ctype {
				t.Fatalf("version %d: content type %q, want %q", i, obj.ContentType, ctype)
			}
			tags, err := reader.Tags(ctx, "a_1x1.jpg")
			if err != nil || tags["v"] != ctype {
				t.Fatalf("version %d: tags %v, %v", i, tags, err)
			}
		}
	}
	if err := writer.Delete(ctx, "a_1x1.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Get(ctx, "a_1x1.jpg"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after another store's Delete = %v", err)
	}

	if err := syscallMkfifo(filepath.Join(dir, "pipe.jpg")); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := reader.Get(ctx, "pipe.jpg"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get of a FIFO = %v, want ErrNotFound", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get of a FIFO blocked")
	}
}

// TestFileSymlinksIntoDotFolders: a link inside the store to a file under a
// dot-folder (the access log, sidecars, the queue) names no object, whatever
// the link's own name; a link that stays in the visible tree does.
func TestFileSymlinksIntoDotFolders(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".logs"), "2026-12-06-10-00-00-A", "203.0.113.9 GET /private?token=secret")
	writeFile(t, filepath.Join(dir, "photos"), "real.jpg", "real")
	s := newFileStore(t, dir)
	put(t, s, "photos/thumb_10x.jpg", "thumb", store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}})
	symlink(t, ".logs/2026-12-06-10-00-00-A", filepath.Join(dir, "innerlink.txt"))
	symlink(t, "../.s3thumb/meta/photos/thumb_10x.jpg.json", filepath.Join(dir, "photos", "x.json"))
	symlink(t, ".s3thumb", filepath.Join(dir, "meta"))
	symlink(t, "real.jpg", filepath.Join(dir, "photos", "alias.jpg"))
	symlink(t, "photos", filepath.Join(dir, "pictures"))

	for _, key := range []string{"innerlink.txt", "photos/x.json", "meta/meta/photos/thumb_10x.jpg.json"} {
		if obj, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			if err == nil {
				obj.Body.Close()
			}
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Head(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Head(%q): %v, want ErrNotFound", key, err)
		}
		if _, err := s.Tags(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tags(%q): %v, want ErrNotFound", key, err)
		}
	}
	for _, key := range []string{"photos/alias.jpg", "pictures/real.jpg"} {
		if _, body := get(t, s, key); body != "real" {
			t.Errorf("Get(%q) = %q, want the linked file", key, body)
		}
	}
}

// TestFileSweepTemp: temporary files a killed writer left, in the store and
// in its metadata folder, are removed once old; fresh ones (a write in
// progress) and objects are not.
func TestFileSweepTemp(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	put(t, s, "photos/a_10x.jpg", "thumb", store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}})
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{"photos/.s3thumb-tmp-0a1b", ".s3thumb/meta/photos/.s3thumb-tmp-2c3d", ".s3thumb-tmp-4e5f"} {
		writeFile(t, filepath.Join(dir, filepath.Dir(name)), filepath.Base(name), "half written")
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "photos"), ".s3thumb-tmp-fresh", "being written")
	n, err := s.SweepTemp(t.Context(), store.StaleTempAge)
	if err != nil || n != 3 {
		t.Fatalf("SweepTemp = %d, %v; want 3 removed", n, err)
	}
	if names := testkit.DirNames(t, filepath.Join(dir, "photos")); !slices.Equal(names, []string{".s3thumb-tmp-fresh", "a_10x.jpg"}) {
		t.Errorf("photos/ holds %q after the sweep", names)
	}
	if tags, err := s.Tags(t.Context(), "photos/a_10x.jpg"); err != nil || tags["thumbnail"] != "yes" {
		t.Errorf("the object's sidecar was swept: %v, %v", tags, err)
	}
}

// TestFileFolderLinksIntoDotFolders: a folder link an operator made into a
// dot-folder is no way to write or delete there.
func TestFileFolderLinksIntoDotFolders(t *testing.T) {
	dir := t.TempDir()
	s := newFileStore(t, dir)
	put(t, s, "photos/a_10x.jpg", "thumb", store.PutOptions{Tags: map[string]string{"thumbnail": "yes"}})
	symlink(t, ".s3thumb/meta", filepath.Join(dir, "meta"))
	if err := s.Put(t.Context(), "meta/photos/evil.jpg", []byte("x"), store.PutOptions{}); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Put through a link into .s3thumb: %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(t.Context(), "meta/photos/a_10x.jpg.json"); err != nil {
		t.Errorf("Delete through a link into .s3thumb: %v, want nil (no such object)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".s3thumb", "meta", "photos", "a_10x.jpg.json")); err != nil {
		t.Errorf("the sidecar was deleted through the link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".s3thumb", "meta", "photos", "evil.jpg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written into .s3thumb through the link: %v", err)
	}
	if tags, err := s.Tags(t.Context(), "photos/a_10x.jpg"); err != nil || tags["thumbnail"] != "yes" {
		t.Errorf("the thumbnail's tags: %v, %v", tags, err)
	}
}
