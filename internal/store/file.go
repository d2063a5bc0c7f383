package store

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

var _ Store = (*FileStore)(nil)

const (
	// metaDir holds one JSON sidecar per object, at metaDir/KEY.json, with
	// the attributes a plain file cannot carry.
	metaDir = ".s3thumb/meta"
	// tmpPrefix starts the names of files being written; like every name
	// starting with ".", they are never objects.
	tmpPrefix = ".s3thumb-tmp-"
	// sidecarGrace is longer than any write takes between linking a file
	// into place and renaming its sidecar beside it.
	sidecarGrace = time.Minute
	dirPerm      = 0o755
	filePerm     = 0o644
)

// FileStore is a Store in a local directory: the object KEY is the plain
// file DIR/KEY, so a directory of images can be served as it is. Attributes
// a file cannot carry (content type, cache control, storage class, tags and
// an MD5 ETag) live in a sidecar, DIR/.s3thumb/meta/KEY.json; a file
// without one (or whose sidecar describes an older version of it) gets its
// content type from its extension and an ETag from its size and
// modification time.
//
// Keys are confined to DIR: keys that thumbkey.Validate refuses and keys
// with a path segment starting with "." (the service's own folders, such as
// .s3thumb) name no object, and symbolic links are not followed out of DIR.
// Writes are atomic (a temporary file renamed into place), and with
// IfNoneMatch exactly one of several concurrent writers wins. The file and
// its sidecar are two renames, so an unconditional write (or a delete)
// racing another write of the same key may leave the file without its
// attributes (it is then served with defaults); s3thumb writes thumbnails
// only conditionally.
type FileStore struct {
	dir  string   // as given, for String
	root *os.Root // every access goes through it
	// real is the directory's absolute path with links resolved, what
	// objects' resolved paths must lie under (see hidden).
	real string
	// escapes is the error os.Root gives for a path leaving the root.
	escapes  error
	sidecars sidecarCache
	condMu   sync.Mutex // held by writes with IfMatch from check to rename
}

// condLockPath is the file conditional writes (IfMatch) lock, so that
// processes sharing the directory (serve's workers, an analyzer run) take
// turns from check to rename.
const condLockPath = ".s3thumb/cond.lock"

// condLock serialises conditional writes and deletes, within this process
// and across the processes that share the directory; unlock ends it.
func (s *FileStore) condLock() (unlock func(), err error) {
	s.condMu.Lock()
	if err := s.root.MkdirAll(path.Dir(condLockPath), dirPerm); err != nil {
		s.condMu.Unlock()
		return nil, err
	}
	f, err := s.root.OpenFile(condLockPath, os.O_RDWR|os.O_CREATE, filePerm)
	if err == nil {
		if err = lockFile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		s.condMu.Unlock()
		return nil, fmt.Errorf("lock %s/%s: %w", s, condLockPath, err)
	}
	return func() { f.Close(); s.condMu.Unlock() }, nil // closing releases the lock
}

// NewFile opens the store in dir, which must be an existing directory.
func NewFile(dir string) (*FileStore, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open file store %s: %w", dir, err)
	}
	fi, err := root.Stat(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open file store %s: %w", dir, err)
	}
	if !fi.IsDir() {
		root.Close()
		return nil, fmt.Errorf("open file store %s: not a directory", dir)
	}
	real, err := filepath.Abs(dir)
	if err == nil {
		real, err = filepath.EvalSymlinks(real)
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open file store %s: %w", dir, err)
	}
	s := &FileStore{dir: dir, root: root, real: real}
	// os.Root does not export its "path escapes" error; learn it by asking
	// for the parent, so that escapes can be told apart from other errors.
	var pe *fs.PathError
	if _, err := root.Stat(".."); errors.As(err, &pe) {
		s.escapes = pe.Err
	}
	return s, nil
}

// Close releases the directory.
func (s *FileStore) Close() error { return s.root.Close() }

// String names the store as file://DIR.
func (s *FileStore) String() string { return "file://" + s.dir }

// checkKey reports why key cannot name an object in a directory.
func checkKey(key string) error {
	if err := thumbkey.Validate(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, ".") {
			return fmt.Errorf("path segment %q starts with a dot", seg)
		}
	}
	return nil
}

// sidecar is the JSON kept at metaDir/KEY.json.
type sidecar struct {
	ContentType  string            `json:"contentType,omitempty"`
	CacheControl string            `json:"cacheControl,omitempty"`
	StorageClass string            `json:"storageClass,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	ETag         string            `json:"etag"`
	// The version of the file the sidecar describes; it is ignored for
	// any other (a file replaced by hand, or by a racing writer).
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Inode   uint64    `json:"inode,omitempty"`
}

// lowerKeys returns metadata with its names in lower case, as S3 keeps
// them (nil for none).
func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

func metaPath(key string) string { return metaDir + "/" + key + ".json" }

func (c *sidecar) describes(fi fs.FileInfo) bool {
	return c.Size == fi.Size() && c.ModTime.Equal(fi.ModTime()) && c.Inode == inode(fi)
}

// readSidecar returns key's sidecar if it describes fi, else nil. A sidecar
// that cannot be read or parsed is as good as none: the object stays
// readable. The sidecar is read once per version of the file.
func (s *FileStore) readSidecar(key string, fi fs.FileInfo) *sidecar {
	if c, ok := s.sidecars.get(key, fi); ok {
		return c
	}
	var c *sidecar
	if data, err := s.root.ReadFile(metaPath(key)); err == nil {
		var parsed sidecar
		if json.Unmarshal(data, &parsed) == nil && parsed.describes(fi) {
			c = &parsed
		}
	}
	// A writer links the file into place just before its sidecar, so a
	// young file without one may be about to get it: only remember
	// "no sidecar" for files older than any write in progress.
	if c != nil || time.Since(fi.ModTime()) > sidecarGrace {
		s.sidecars.put(key, fi, c)
	}
	return c
}

// attrs describes the file fi stored under key.
func (s *FileStore) attrs(key string, fi fs.FileInfo) Attrs {
	a := Attrs{
		Key:          key,
		Size:         fi.Size(),
		LastModified: fi.ModTime(),
		StorageClass: defaultStorageClass,
	}
	c := s.readSidecar(key, fi)
	if c == nil {
		a.ContentType = contentTypeOf(key)
		a.ETag = fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
		return a
	}
	a.ContentType, a.CacheControl, a.ETag = c.ContentType, c.CacheControl, c.ETag
	a.Metadata = maps.Clone(c.Metadata)
	if c.StorageClass != "" {
		a.StorageClass = c.StorageClass
	}
	return a
}

func contentTypeOf(key string) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(key))); t != "" {
		return t
	}
	return "application/octet-stream"
}

// stat returns the regular file stored under key, or an error wrapping
// ErrNotFound.
func (s *FileStore) stat(op, key string) (fs.FileInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %w", op, key, ErrNotFound, err)
	}
	fi, err := s.root.Stat(key)
	if err != nil {
		return nil, s.fail(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s/%s: %w: not a regular file", op, s, key, ErrNotFound)
	}
	if err := s.hidden(op, key); err != nil {
		return nil, err
	}
	return fi, nil
}

// visibleFolder refuses a key's folder that a symbolic link leads into a
// dot-folder or out of the store: nothing is written or deleted there.
func (s *FileStore) visibleFolder(dir string) error {
	if dir == "." {
		return nil
	}
	real, err := filepath.EvalSymlinks(filepath.Join(s.real, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing there to lead anywhere
	}
	if err == nil && !s.visible(real) {
		err = errors.New("a link leads it into a hidden folder or out of the store")
	}
	if err != nil {
		return fmt.Errorf("folder %s: %w", dir, err)
	}
	return nil
}

// visible reports whether a resolved path lies in the store's visible
// tree: under its directory, and under no dot-folder.
func (s *FileStore) visible(real string) bool {
	rel, err := filepath.Rel(s.real, real)
	return err == nil && checkKey(filepath.ToSlash(rel)) == nil
}

// hidden refuses a key that resolves, through symbolic links, to a file
// under a dot-folder of the store (the access logs in .logs, sidecars in
// .s3thumb, the queue in .queue) or outside it: DIR/notes.txt -> .logs/x
// names no object. Links that stay in the visible tree are followed.
func (s *FileStore) hidden(op, key string) error {
	real, err := filepath.EvalSymlinks(filepath.Join(s.real, filepath.FromSlash(key)))
	if err != nil {
		return s.fail(op, key, err)
	}
	if !s.visible(real) {
		return fmt.Errorf("%s %s/%s: %w: a link to a hidden or outside file", op, s, key, ErrNotFound)
	}
	return nil
}

// Get opens an object. The body is an *os.File, which net/http can send
// with sendfile.
func (s *FileStore) Get(ctx context.Context, key string) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("get %s: %w: %w", key, ErrNotFound, err)
	}
	// O_NONBLOCK: opening a FIFO must not block; anything but a regular
	// file is closed again at once.
	f, err := s.root.OpenFile(key, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s/%s: %w", s, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("get %s/%s: %w: not a regular file", s, key, ErrNotFound)
	}
	if err := s.hidden("get", key); err != nil {
		f.Close()
		return nil, err
	}
	return &Object{Attrs: s.attrs(key, fi), Body: f}, nil
}

// Head returns an object's attributes.
func (s *FileStore) Head(ctx context.Context, key string) (Attrs, error) {
	if err := ctx.Err(); err != nil {
		return Attrs{}, fmt.Errorf("head %s: %w", key, err)
	}
	fi, err := s.stat("head", key)
	if err != nil {
		return Attrs{}, err
	}
	return s.attrs(key, fi), nil
}

// Tags returns an object's tags (none for a file without a sidecar).
func (s *FileStore) Tags(ctx context.Context, key string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tags %s: %w", key, err)
	}
	fi, err := s.stat("tags", key)
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	if c := s.readSidecar(key, fi); c != nil {
		for k, v := range c.Tags {
			tags[k] = v
		}
	}
	return tags, nil
}

// Put writes an object atomically: readers see the old version or the new
// one, never part of one. With opts.IfNoneMatch the file is linked into
// place, which fails if the key is taken, so one writer wins; with
// opts.IfMatch it replaces only the version with that ETag.
func (s *FileStore) Put(ctx context.Context, key string, body []byte, opts PutOptions) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put %s: %w: %w", key, ErrInvalidKey, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	dir := path.Dir(key)
	if err := s.root.MkdirAll(dir, dirPerm); err != nil {
		return s.failPut(key, err)
	}
	if err := s.visibleFolder(dir); err != nil {
		return fmt.Errorf("put %s/%s: %w: %w", s, key, ErrInvalidKey, err)
	}
	tmp, fi, err := s.writeTemp(dir, body)
	if err != nil {
		return s.failPut(key, err)
	}
	defer s.root.Remove(tmp) // gone already once renamed

	sum := md5.Sum(body)
	meta, err := json.Marshal(sidecar{
		ContentType:  opts.ContentType,
		CacheControl: opts.CacheControl,
		StorageClass: opts.StorageClass,
		Tags:         opts.Tags,
		Metadata:     lowerKeys(opts.Metadata),
		ETag:         `"` + hex.EncodeToString(sum[:]) + `"`,
		Size:         fi.Size(),
		ModTime:      fi.ModTime(),
		Inode:        inode(fi),
	})
	if err != nil {
		return fmt.Errorf("put %s/%s: encode attributes: %w", s, key, err)
	}
	metaFolder := path.Dir(metaPath(key))
	if err := s.root.MkdirAll(metaFolder, dirPerm); err != nil {
		return s.failPut(key, err)
	}
	metaTmp, _, err := s.writeTemp(metaFolder, meta)
	if err != nil {
		return s.failPut(key, err)
	}
	defer s.root.Remove(metaTmp)

	if opts.IfMatch != "" {
		// The check and the rename are one step for s3thumb's writers
		// (condLock); a file replaced by another program in the moment
		// between them is not seen.
		unlock, err := s.condLock()
		if err != nil {
			return s.failPut(key, err)
		}
		defer unlock()
		cur, err := s.Head(ctx, key)
		if err != nil || cur.ETag != opts.IfMatch {
			return fmt.Errorf("put %s/%s: %w: stored as %s, not %s", s, key, ErrChanged, cmp.Or(cur.ETag, "nothing"), opts.IfMatch)
		}
	}
	if opts.IfNoneMatch {
		err = s.root.Link(tmp, key)
	} else {
		err = s.root.Rename(tmp, key)
	}
	if err != nil {
		return s.failPut(key, err)
	}
	if err := s.root.Rename(metaTmp, metaPath(key)); err != nil {
		return fmt.Errorf("put %s/%s: attributes: %w", s, key, err)
	}
	s.sidecars.forget(key)
	return nil
}

// writeTemp writes data to a new temporary file in dir, flushed to disk,
// and returns its name and attributes.
func (s *FileStore) writeTemp(dir string, data []byte) (string, fs.FileInfo, error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:]) // never fails
	name := path.Join(dir, tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return "", nil, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.root.Remove(name)
		return "", nil, err
	}
	return name, fi, nil
}

// Delete removes an object and its sidecar; deleting a missing key is not
// an error, and a directory is never removed.
func (s *FileStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete %s: %w: %w", key, ErrInvalidKey, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if s.visibleFolder(path.Dir(key)) != nil {
		return nil // a link out of the visible tree: no object of the store there
	}
	fi, err := s.root.Lstat(key)
	if err != nil {
		if s.missing(err) {
			return nil
		}
		return fmt.Errorf("delete %s/%s: %w", s, key, err)
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := s.root.Remove(key); err != nil && !s.missing(err) {
		return fmt.Errorf("delete %s/%s: %w", s, key, err)
	}
	s.sidecars.forget(key)
	if err := s.root.Remove(metaPath(key)); err != nil && !s.missing(err) {
		return fmt.Errorf("delete %s/%s: attributes: %w", s, key, err)
	}
	return nil
}

// StaleTempAge is how old a temporary file of the store must be before
// SweepTemp takes it for one a crashed writer left: writes take a moment.
const StaleTempAge = 10 * time.Minute

// SweepTemp removes the temporary files older than age that writers killed
// mid-write left in the store and in its metadata folder, and returns how
// many it removed. It follows no link.
func (s *FileStore) SweepTemp(ctx context.Context, age time.Duration) (int, error) {
	removed := 0
	cutoff := time.Now().Add(-age)
	err := fs.WalkDir(s.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone, or unreadable: nothing of ours to sweep there
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			if err := s.root.Remove(name); err == nil {
				removed++
			}
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep %s: %w", s, err)
	}
	return removed, nil
}

// DeleteIfMatch removes an object if it is still the version with etag. The
// check and the removal are one step for s3thumb's writers (condLock).
func (s *FileStore) DeleteIfMatch(ctx context.Context, key, etag string) error {
	unlock, err := s.condLock()
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", s, key, err)
	}
	defer unlock()
	cur, err := s.Head(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("delete %s/%s: %w", s, key, err)
	case cur.ETag != etag:
		return fmt.Errorf("delete %s/%s: %w: stored as %s, not %s", s, key, ErrChanged, cur.ETag, etag)
	}
	return s.Delete(ctx, key)
}

// List walks the directory in lexical key order, as S3 lists a bucket.
// Dot-folders, temporary files, names that are not valid keys and
// symbolic links to directories are skipped.
func (s *FileStore) List(ctx context.Context, prefix, startAfter string, fn func(Attrs) error) error {
	if err := s.walk(ctx, "", prefix, startAfter, fn); err != nil {
		return fmt.Errorf("list %s/%s: %w", s, prefix, err)
	}
	return nil
}

// entry is one name in a directory listing; a directory's key ends in "/",
// so that sorting entries by key sorts the keys below them too.
type entry struct {
	key string
	fi  fs.FileInfo // nil for directories
}

// walk lists the directory dir ("" or ending in "/").
func (s *FileStore) walk(ctx context.Context, dir, prefix, startAfter string, fn func(Attrs) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := s.readDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.fi == nil {
			// Descend only where keys with prefix and after startAfter can be.
			if !strings.HasPrefix(e.key, prefix) && !strings.HasPrefix(prefix, e.key) {
				continue
			}
			if e.key < startAfter && !strings.HasPrefix(startAfter, e.key) {
				continue
			}
			if err := s.walk(ctx, e.key, prefix, startAfter, fn); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(e.key, prefix) || e.key <= startAfter || checkKey(e.key) != nil {
			continue
		}
		if err := fn(s.attrs(e.key, e.fi)); err != nil {
			return err
		}
	}
	return nil
}

// readDir returns the objects and folders in dir, sorted by key.
func (s *FileStore) readDir(dir string) ([]entry, error) {
	name := strings.TrimSuffix(dir, "/")
	if name == "" {
		name = "."
	}
	f, err := s.root.Open(name)
	if err != nil {
		if dir != "" && s.missing(err) {
			return nil, nil // removed while we walked
		}
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		key := dir + de.Name()
		var fi fs.FileInfo
		switch {
		case de.IsDir():
			entries = append(entries, entry{key: key + "/"})
			continue
		case de.Type()&fs.ModeSymlink != 0:
			// Follow links to files inside the root only; links to
			// folders are not followed (they could loop).
			fi, err = s.root.Stat(key)
		default:
			fi, err = de.Info()
		}
		if err != nil || !fi.Mode().IsRegular() {
			continue // vanished, dangling, escaping, a folder link or special
		}
		entries = append(entries, entry{key: key, fi: fi})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	return entries, nil
}

// Ping checks that the directory is still there.
func (s *FileStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping %s: %w", s, err)
	}
	if _, err := s.root.Stat("."); err != nil {
		return fmt.Errorf("ping %s: %w", s, err)
	}
	return nil
}

// missing reports whether err means the path names nothing in the root:
// it does not exist, a parent is a file, or it leads out of the root.
func (s *FileStore) missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) ||
		(s.escapes != nil && errors.Is(err, s.escapes))
}

// fail wraps a read error, adding ErrNotFound when the object is missing.
func (s *FileStore) fail(op, key string, err error) error {
	if s.missing(err) {
		return fmt.Errorf("%s %s/%s: %w: %w", op, s, key, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s/%s: %w", op, s, key, err)
}

// failPut wraps a write error: ErrExists when the key is taken by an
// object, ErrInvalidKey when the directory cannot hold it (a parent is a
// file, the key is a folder, or the path leads out of the root).
func (s *FileStore) failPut(key string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := s.root.Lstat(key); serr == nil && !fi.IsDir() {
			return fmt.Errorf("put %s/%s: %w: %w", s, key, ErrExists, err)
		}
		return fmt.Errorf("put %s/%s: %w: a folder or file is in the way: %w", s, key, ErrInvalidKey, err)
	}
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		(s.escapes != nil && errors.Is(err, s.escapes)) {
		return fmt.Errorf("put %s/%s: %w: %w", s, key, ErrInvalidKey, err)
	}
	return fmt.Errorf("put %s/%s: %w", s, key, err)
}
