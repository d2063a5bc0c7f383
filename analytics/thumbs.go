package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"slices"
	"strings"
)

// thumbChunk is how many thumbnails one block of the table holds: blocks
// never move, so a *Thumb stays valid as the table grows, and growing
// never copies the thumbnails already held.
const thumbChunk = 4096

// Thumbs is the state's table of thumbnails by key. A thumbnail is a row of
// plain numbers in a fixed block; its key is in a block of strings beside
// it; an open-addressing table of numbers finds the row by the key's hash.
// Millions of thumbnails cost the garbage collector one string each and
// nothing else, a lookup reads one slot of the table and then the row's
// key, and memory grows with the distinct keys alone.
type Thumbs struct {
	// slots holds, by hash, the top 32 bits of a key's hash and its row
	// number plus one; 0 is an empty slot. It is at most half full.
	slots  []uint64
	seed   maphash.Seed
	blocks []*[thumbChunk]Thumb
	keys   []*[thumbChunk]string // the keys by row, apart: the rows hold no pointers
	n      int32
}

// newThumbs returns an empty table.
func newThumbs() *Thumbs {
	return &Thumbs{seed: maphash.MakeSeed()}
}

// Len is the number of thumbnails held.
func (ts *Thumbs) Len() int { return int(ts.n) }

// row returns thumbnail number i.
func (ts *Thumbs) row(i int32) *Thumb { return &ts.blocks[i/thumbChunk][i%thumbChunk] }

// key returns the key of thumbnail number i.
func (ts *Thumbs) key(i int32) string { return ts.keys[i/thumbChunk][i%thumbChunk] }

// find returns the row number of key, hashed to h.
func find[K string | []byte](ts *Thumbs, key K, h uint64) (int32, bool) {
	if len(ts.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(ts.slots) - 1)
	tag := h >> 32 << 32
	for i := h & mask; ; i = (i + 1) & mask {
		v := ts.slots[i]
		switch {
		case v == 0:
			return 0, false
		case v>>32<<32 == tag:
			if r := int32(uint32(v) - 1); ts.key(r) == string(key) { // no allocation
				return r, true
			}
		}
	}
}

// lookup returns the row number of key.
func (ts *Thumbs) lookup(key string) (int32, bool) {
	return find(ts, key, maphash.String(ts.seed, key))
}

// lookupBytes returns the row number of the key b.
func (ts *Thumbs) lookupBytes(b []byte) (int32, bool) {
	return find(ts, b, maphash.Bytes(ts.seed, b))
}

// get returns the thumbnail with this key, or nil.
func (ts *Thumbs) get(key string) *Thumb {
	if i, ok := ts.lookup(key); ok {
		return ts.row(i)
	}
	return nil
}

// place puts row r of hash h in the first empty slot of its run.
func (ts *Thumbs) place(h uint64, r int32) {
	mask := uint64(len(ts.slots) - 1)
	i := h & mask
	for ts.slots[i] != 0 {
		i = (i + 1) & mask
	}
	ts.slots[i] = h>>32<<32 | uint64(r+1)
}

// add adds a thumbnail for a key not held yet and returns it.
func (ts *Thumbs) add(key string, t Thumb) *Thumb {
	if 2*int(ts.n+1) > len(ts.slots) {
		ts.slots = make([]uint64, max(1024, 2*len(ts.slots)))
		for r := range ts.n {
			ts.place(maphash.String(ts.seed, ts.key(r)), r)
		}
	}
	if ts.n%thumbChunk == 0 {
		ts.blocks = append(ts.blocks, new([thumbChunk]Thumb))
		ts.keys = append(ts.keys, new([thumbChunk]string))
	}
	r := ts.n
	ts.n++
	ts.keys[r/thumbChunk][r%thumbChunk] = key
	ts.place(maphash.String(ts.seed, key), r)
	p := ts.row(r)
	*p = t
	return p
}

// All yields every thumbnail with its key, in the order they were added.
func (ts *Thumbs) All() iter.Seq2[string, Thumb] {
	return func(yield func(string, Thumb) bool) {
		for r := range ts.n {
			if !yield(ts.key(r), *ts.row(r)) {
				return
			}
		}
	}
}

// thumbJSON is a thumbnail as state version 1 stores it. Recent, per-day
// requests of the thumbnail, was written by earlier builds; no decision
// uses it, so it is checked and then dropped, and no longer written.
type thumbJSON struct {
	Thumb
	Recent []DayCount `json:"recent,omitempty"`
}

// MarshalJSON writes the table as a JSON object of thumbnails by key, in
// key order (the same table, the same bytes).
func (ts *Thumbs) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := ts.writeJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeJSON writes what MarshalJSON returns to w, a thumbnail at a time.
func (ts *Thumbs) writeJSON(w io.Writer) error {
	rows := make([]int32, ts.n)
	for r := range rows {
		rows[r] = int32(r)
	}
	slices.SortFunc(rows, func(a, b int32) int { return strings.Compare(ts.key(a), ts.key(b)) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, r := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(ts.key(r)); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // the encoder's newline
		buf.WriteByte(':')
		if err := enc.Encode(ts.row(r)); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1)
		if buf.Len() >= 32<<10 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	buf.WriteByte('}')
	_, err := w.Write(buf.Bytes())
	return err
}

// UnmarshalJSON reads what MarshalJSON (or an earlier build) wrote.
func (ts *Thumbs) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	*ts = *newThumbs()
	if err := ts.decode(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("thumbnails: more after the object")
	}
	return nil
}

// decode reads the object of thumbnails from dec a thumbnail at a time. An
// entry that is null or has per-day counts out of order is an error; of
// two entries for a key the last one counts, as in a map. The thumbnails
// are linked to their originals and classes by State.link.
func (ts *Thumbs) decode(dec *json.Decoder) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("thumbnails: want an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("thumbnails: %w", err)
		}
		key, _ := tok.(string) // object keys are strings
		var tj *thumbJSON
		if err := dec.Decode(&tj); err != nil {
			return fmt.Errorf("thumbnail %q: %w", key, err)
		}
		if tj == nil {
			return fmt.Errorf("thumbnail %q: no entry", key)
		}
		c := Counts{Reads: tj.Reads, Misses: tj.Misses, Recent: tj.Recent}
		if err := c.check(); err != nil {
			return fmt.Errorf("thumbnail %q: %w", key, err)
		}
		if i, dup := ts.lookup(key); dup {
			*ts.row(i) = tj.Thumb
			continue
		}
		ts.add(key, tj.Thumb)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	return nil
}
