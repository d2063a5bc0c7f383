package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
)

// thumbChunk is how many thumbnails one block of the table holds: blocks
// never move, so a *Thumb stays valid as the table grows, and growing
// never copies the thumbnails already held.
const thumbChunk = 4096

// Thumbs is the state's table of thumbnails by key. A thumbnail is a row of
// plain numbers in a fixed block, found by a map from key to row number:
// millions of thumbnails cost the garbage collector one string each and
// nothing else, and memory grows with the distinct keys alone.
type Thumbs struct {
	index  map[string]int32
	blocks []*[thumbChunk]Thumb
	keys   []*[thumbChunk]string // the keys by row, apart: the rows hold no pointers
	n      int32
}

// newThumbs returns an empty table with room for about hint thumbnails.
func newThumbs(hint int) *Thumbs {
	return &Thumbs{index: make(map[string]int32, hint)}
}

// Len is the number of thumbnails held.
func (ts *Thumbs) Len() int { return int(ts.n) }

// row returns thumbnail number i.
func (ts *Thumbs) row(i int32) *Thumb { return &ts.blocks[i/thumbChunk][i%thumbChunk] }

// key returns the key of thumbnail number i.
func (ts *Thumbs) key(i int32) string { return ts.keys[i/thumbChunk][i%thumbChunk] }

// get returns the thumbnail with this key, or nil.
func (ts *Thumbs) get(key string) *Thumb {
	if i, ok := ts.index[key]; ok {
		return ts.row(i)
	}
	return nil
}

// add adds a thumbnail for a key not held yet and returns it.
func (ts *Thumbs) add(key string, t Thumb) *Thumb {
	if ts.n%thumbChunk == 0 && int(ts.n/thumbChunk) == len(ts.blocks) {
		ts.blocks = append(ts.blocks, new([thumbChunk]Thumb))
		ts.keys = append(ts.keys, new([thumbChunk]string))
	}
	i := ts.n
	ts.n++
	ts.index[key] = i
	ts.keys[i/thumbChunk][i%thumbChunk] = key
	p := ts.row(i)
	*p = t
	return p
}

// All yields every thumbnail with its key, in no particular order.
func (ts *Thumbs) All() iter.Seq2[string, *Thumb] {
	return func(yield func(string, *Thumb) bool) {
		for key, i := range ts.index {
			if !yield(key, ts.row(i)) {
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
	keys := make([]string, 0, len(ts.index))
	for key := range ts.index {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, key := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(key); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := enc.Encode(ts.row(ts.index[key])); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON (or an earlier build) wrote. An
// entry that is null or has per-day counts out of order is an error. The
// thumbnails are linked to their originals and classes by State.link.
func (ts *Thumbs) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("thumbnails: want an object")
	}
	*ts = *newThumbs(0)
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
		if i, dup := ts.index[key]; dup { // the last one wins, as in a map
			*ts.row(i) = tj.Thumb
			continue
		}
		ts.add(key, tj.Thumb)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("thumbnails: more after the object")
	}
	return nil
}
