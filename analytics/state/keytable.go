package state

import (
	"hash/maphash"
	"slices"
	"strings"
)

// KeyTable numbers distinct keys (0, 1, 2, ... in the order added) and finds
// a key's number by a 64-bit hash of its bytes. It is the analyzer's hot
// path, one lookup per log line, in a table of up to millions of keys that
// does not fit in any cache, so it is laid out for few cache misses:
//
//   - the slots (open addressing, linear probing, at most 3/4 full) hold
//     32 bits of the key's hash, its number and where its bytes are, so a
//     lookup reads one slot and then the key's bytes, and nothing between;
//   - the keys' bytes are packed one after another in large chunks of text
//     (no string header, no allocation per key), and the strings handed out
//     are cut from those chunks: a chunk is never written past the bytes
//     already there, so a string once handed out never changes;
//   - the garbage collector sees a few chunks, not a string per key.
//
// The caller hashes the key once (hash) and passes the hash to find and add.
type KeyTable struct {
	slots  []keySlot
	seed   maphash.Seed
	chunks []string         // the text of each chunk, as far as written
	last   *strings.Builder // the chunk being written
	refs   []keyRef         // where each key's bytes are, by number
	long   []string         // keys too long for a keyRef, by keyRef.long
}

// keySlot is one slot of a keyTable: 32 bits of the hash, the key's number
// plus one (0: the slot is empty) and where its bytes are.
type keySlot struct {
	tag uint32
	n1  uint32
	ref keyRef
}

// keyRef says where a key's bytes are: chunk (24 bits), offset in the chunk
// (24 bits) and length (16 bits); a length of keyLong means the key is
// keyTable.long[ref>>16].
type keyRef uint64

const (
	keyChunkBytes = 1 << 20 // text chunk size: offsets fit in 24 bits
	keyLong       = 1<<16 - 1
	keyMaxShort   = 4096 // longer keys (no S3 key is) are held apart
)

// newKeyTable returns an empty table.
func newKeyTable() KeyTable {
	return KeyTable{seed: maphash.MakeSeed()}
}

// Len is the number of keys held.
func (t *KeyTable) Len() int { return len(t.refs) }

// Hash is the Hash find and add take for key b.
func (t *KeyTable) Hash(b []byte) uint64 { return maphash.Bytes(t.seed, b) }

// HashString is hash for a string.
func (t *KeyTable) HashString(s string) uint64 { return maphash.String(t.seed, s) }

// text returns the key at ref.
func (t *KeyTable) text(ref keyRef) string {
	n := int(ref & keyLong)
	if n == keyLong {
		return t.long[ref>>16]
	}
	off := int(ref >> 16 & (1<<24 - 1))
	return t.chunks[ref>>40][off : off+n]
}

// Key returns Key number i.
func (t *KeyTable) Key(i int32) string { return t.text(t.refs[i]) }

// FindKey returns the number of key, hashed to h, and the string the table
// holds for it.
func FindKey[K string | []byte](t *KeyTable, key K, h uint64) (int32, string, bool) {
	if len(t.slots) == 0 {
		return 0, "", false
	}
	mask := uint64(len(t.slots) - 1)
	tag := uint32(h >> 32)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.n1 == 0 {
			return 0, "", false
		}
		if s.tag == tag {
			if k := t.text(s.ref); k == string(key) { // no allocation
				return int32(s.n1 - 1), k, true
			}
		}
	}
}

// FindOrAdd returns the number of key, hashed to h, and the string the
// table holds for it, adding it when it is not held (added): one probe of
// the slots where FindKey and Add would make two.
func FindOrAdd[K string | []byte](t *KeyTable, key K, h uint64) (n int32, k string, added bool) {
	if 4*(len(t.refs)+1) > 3*len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	tag := uint32(h >> 32)
	i := h & mask
	for ; t.slots[i].n1 != 0; i = (i + 1) & mask {
		if s := &t.slots[i]; s.tag == tag {
			if k := t.text(s.ref); k == string(key) { // no allocation
				return int32(s.n1 - 1), k, false
			}
		}
	}
	var ref keyRef
	if len(key) > keyMaxShort {
		t.long = append(t.long, string(key))
		ref = keyRef(len(t.long)-1)<<16 | keyLong
	} else {
		ref = t.room(len(key))
		switch k := any(key).(type) {
		case string:
			t.last.WriteString(k)
		case []byte:
			t.last.Write(k)
		}
		t.chunks[len(t.chunks)-1] = t.last.String()
	}
	n = int32(len(t.refs))
	t.refs = append(t.refs, ref)
	t.slots[i] = keySlot{tag: tag, n1: uint32(n) + 1, ref: ref}
	return n, t.text(ref), true
}

// Add adds key, hashed to h and not held yet, and returns its number and
// the string the table holds for it.
func (t *KeyTable) Add(key string, h uint64) (int32, string) {
	var ref keyRef
	if len(key) > keyMaxShort {
		t.long = append(t.long, key)
		ref = keyRef(len(t.long)-1)<<16 | keyLong
	} else {
		ref = t.room(len(key))
		t.last.WriteString(key)
	}
	return t.added(ref, h)
}

// AddBytes is add for a key as bytes.
func (t *KeyTable) AddBytes(key []byte, h uint64) (int32, string) {
	if len(key) > keyMaxShort {
		return t.Add(string(key), h)
	}
	ref := t.room(len(key))
	t.last.Write(key)
	return t.added(ref, h)
}

// room returns where the next n bytes of text go, starting a chunk when the
// last one has no room for them.
func (t *KeyTable) room(n int) keyRef {
	if t.last == nil || t.last.Len()+n > keyChunkBytes {
		t.last = new(strings.Builder)
		t.last.Grow(keyChunkBytes) // never grows again: the strings cut from it stay put
		t.chunks = append(t.chunks, "")
	}
	return keyRef(len(t.chunks)-1)<<40 | keyRef(t.last.Len())<<16 | keyRef(n)
}

// added numbers the key just stored at ref, hashed to h.
func (t *KeyTable) added(ref keyRef, h uint64) (int32, string) {
	if ref&keyLong != keyLong {
		t.chunks[len(t.chunks)-1] = t.last.String()
	}
	if 4*(len(t.refs)+1) > 3*len(t.slots) {
		t.grow()
	}
	n := int32(len(t.refs))
	t.refs = append(t.refs, ref)
	t.place(h, n, ref)
	return n, t.text(ref)
}

// place puts key number n, hashed to h, in the first empty slot of its run.
func (t *KeyTable) place(h uint64, n int32, ref keyRef) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i].n1 != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = keySlot{tag: uint32(h >> 32), n1: uint32(n) + 1, ref: ref}
}

// grow doubles the slots (or makes the first ones) and places every key
// again.
func (t *KeyTable) grow() { t.resize(max(1024, 2*len(t.slots))) }

// resize makes size slots (a power of two) and places every key again.
func (t *KeyTable) resize(size int) {
	t.slots = make([]keySlot, size)
	for n, ref := range t.refs {
		t.place(t.HashString(t.text(ref)), int32(n), ref)
	}
}

// Reserve makes room for n keys in all, so that adding them never
// rehashes the keys held.
func (t *KeyTable) Reserve(n int) {
	size := max(1024, len(t.slots))
	for 3*size < 4*(n+1) {
		size *= 2
	}
	if size > len(t.slots) {
		t.resize(size)
	}
	if n > len(t.refs) {
		t.refs = slices.Grow(t.refs, n-len(t.refs))
	}
}

// Prefetch starts loading the slot a key of hash h is looked for in first.
func (t *KeyTable) Prefetch(h uint64) {
	if len(t.slots) > 0 {
		prefetch(&t.slots[h&uint64(len(t.slots)-1)])
	}
}

// Sibling returns an empty table that hashes keys as t does, so that one
// hash of a key finds it in both.
func (t *KeyTable) Sibling() KeyTable { return KeyTable{seed: t.seed} }
