package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// plain numbers in a fixed block, numbered as its key in a keyTable, which
// finds it by the key's hash. Millions of thumbnails cost the garbage
// collector nothing per thumbnail, a lookup reads one slot of the table,
// the key's bytes and then the row, and memory grows with the distinct keys
// alone.
type Thumbs struct {
	Keys   KeyTable
	blocks []*[thumbChunk]Thumb
}

// newThumbs returns an empty table.
func newThumbs() *Thumbs {
	return &Thumbs{Keys: newKeyTable()}
}

// Len is the number of thumbnails held.
func (ts *Thumbs) Len() int { return ts.Keys.Len() }

// Row returns thumbnail number i.
func (ts *Thumbs) Row(i int32) *Thumb { return &ts.blocks[i/thumbChunk][i%thumbChunk] }

// Key returns the Key of thumbnail number i.
func (ts *Thumbs) Key(i int32) string { return ts.Keys.Key(i) }

// lookup returns the row number of key.
func (ts *Thumbs) lookup(key string) (int32, bool) {
	i, _, ok := FindKey(&ts.Keys, key, ts.Keys.HashString(key))
	return i, ok
}

// Get returns the thumbnail with this key, or nil.
func (ts *Thumbs) Get(key string) *Thumb {
	if i, ok := ts.lookup(key); ok {
		return ts.Row(i)
	}
	return nil
}

// Add adds a thumbnail for a key not held yet and returns it.
func (ts *Thumbs) Add(key string, t Thumb) *Thumb {
	return ts.Row(ts.AddRow(key, ts.Keys.HashString(key), t))
}

// AddRow is add for a key hashed to h by ts.keys; it returns the row
// number.
func (ts *Thumbs) AddRow(key string, h uint64, t Thumb) int32 {
	r, _ := ts.Keys.Add(key, h)
	return ts.put(r, t)
}

// put stores row r, just numbered by the key table.
func (ts *Thumbs) put(r int32, t Thumb) int32 {
	if r%thumbChunk == 0 {
		ts.blocks = append(ts.blocks, new([thumbChunk]Thumb))
	}
	*ts.Row(r) = t
	return r
}

// All yields every thumbnail with its key, in the order they were added.
func (ts *Thumbs) All() iter.Seq2[string, Thumb] {
	return func(yield func(string, Thumb) bool) {
		for r := range int32(ts.Len()) {
			if !yield(ts.Key(r), *ts.Row(r)) {
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
	rows := make([]int32, ts.Len())
	for r := range rows {
		rows[r] = int32(r)
	}
	slices.SortFunc(rows, func(a, b int32) int { return strings.Compare(ts.Key(a), ts.Key(b)) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, r := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(ts.Key(r)); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // the encoder's newline
		buf.WriteByte(':')
		if err := enc.Encode(ts.Row(r)); err != nil {
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
			*ts.Row(i) = tj.Thumb
			continue
		}
		ts.Add(key, tj.Thumb)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	return nil
}
