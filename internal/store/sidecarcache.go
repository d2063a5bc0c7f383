package store

import (
	"io/fs"
	"sync"
)

// maxCachedSidecars bounds the sidecar cache; past it the cache starts
// afresh, which costs one re-read per object and keeps memory flat.
const maxCachedSidecars = 1 << 16

// sidecarCache keeps parsed sidecars in memory, each with the identity
// (size, modification time, inode) of the file it was read for. A new
// version of an object is a new file (writes rename or link a new inode into
// place), so an entry can never describe a file it was not read for, even
// when another process writes the store. It saves the hit path an open,
// a read and a JSON parse per request.
type sidecarCache struct {
	mu      sync.Mutex
	entries map[string]cachedSidecar
}

type cachedSidecar struct {
	id fileID
	c  *sidecar // nil: the file has no valid sidecar
}

type fileID struct {
	size, modTime int64
	inode         uint64
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{size: fi.Size(), modTime: fi.ModTime().UnixNano(), inode: inode(fi)}
}

// get returns the cached sidecar of key for the file fi, and whether there
// was an entry for that very file.
func (c *sidecarCache) get(key string, fi fs.FileInfo) (*sidecar, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || e.id != idOf(fi) {
		return nil, false
	}
	return e.c, true
}

func (c *sidecarCache) put(key string, fi fs.FileInfo, sc *sidecar) {
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedSidecars {
		c.entries = make(map[string]cachedSidecar)
	}
	c.entries[key] = cachedSidecar{id: idOf(fi), c: sc}
	c.mu.Unlock()
}

func (c *sidecarCache) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
