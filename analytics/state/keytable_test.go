package state

import (
	"fmt"
	"strings"
	"testing"
)

// TestKeyTable: keys of every length (empty, long ones held apart, enough
// to fill several chunks of text and to grow the slots many times) are
// numbered in order and found, as strings and as bytes, with the string
// the table holds; strings handed out never change as more keys come; keys
// not added are not found.
func TestKeyTable(t *testing.T) {
	kt := newKeyTable()
	var keys, got []string
	key := func(i int) string {
		switch {
		case i == 0:
			return ""
		case i%5000 == 7:
			return strings.Repeat("x", keyMaxShort+i%3) + fmt.Sprint(i) // held apart
		}
		return fmt.Sprintf("photos/%d/img%d_200x200.webp", i%97, i)
	}
	for i := range 80_000 { // about 2.6 MB of text
		k := key(i)
		if _, _, ok := FindKey(&kt, k, kt.HashString(k)); ok {
			t.Fatalf("%q found before it was added", k)
		}
		n, s := kt.AddBytes([]byte(k), kt.Hash([]byte(k)))
		if n != int32(i) || s != k {
			t.Fatalf("add %q = %d, %q; want %d", k, n, s, i)
		}
		keys, got = append(keys, k), append(got, s)
	}
	if len(kt.chunks) < 3 || len(kt.long) == 0 {
		t.Fatalf("%d chunks, %d long keys: the test does not cover them", len(kt.chunks), len(kt.long))
	}
	for i, k := range keys {
		if got[i] != k {
			t.Fatalf("string %d handed out as %q is now %q", i, k, got[i])
		}
		n, s, ok := FindKey(&kt, []byte(k), kt.Hash([]byte(k)))
		if !ok || n != int32(i) || s != k || kt.Key(n) != k {
			t.Fatalf("find %q = %d, %q, %v; want %d", k, n, s, ok, i)
		}
		if n, _, ok := FindKey(&kt, k, kt.HashString(k)); !ok || n != int32(i) {
			t.Fatalf("find string %q = %d, %v; want %d", k, n, ok, i)
		}
	}
	for _, k := range []string{"photos/1/img1_200x200.web", "photos/1/img1_200x200.webpp", key(80_000), "x"} {
		if _, _, ok := FindKey(&kt, k, kt.HashString(k)); ok {
			t.Errorf("%q found, never added", k)
		}
	}
	// add with a string, as a state is read
	if n, s := kt.Add("added/as_string.jpg", kt.HashString("added/as_string.jpg")); n != 80_000 || s != "added/as_string.jpg" {
		t.Errorf("add string = %d, %q", n, s)
	}
}

// TestKeyTableReserve: room reserved before and after keys are held, the
// keys held and those added after are all found, and the slots never grow
// while the reserved keys come.
func TestKeyTableReserve(t *testing.T) {
	kt := newKeyTable()
	for i := range 100 {
		k := fmt.Sprintf("held/%d_200x200.jpg", i)
		kt.Add(k, kt.HashString(k))
	}
	kt.Reserve(50_000)
	slots := len(kt.slots)
	for i := 100; i < 50_000; i++ {
		k := fmt.Sprintf("held/%d_200x200.jpg", i)
		kt.Add(k, kt.HashString(k))
	}
	if len(kt.slots) != slots {
		t.Errorf("the slots grew from %d to %d within the room reserved", slots, len(kt.slots))
	}
	for i := range 50_000 {
		k := fmt.Sprintf("held/%d_200x200.jpg", i)
		if n, s, ok := FindKey(&kt, k, kt.HashString(k)); !ok || n != int32(i) || s != k {
			t.Fatalf("%s: %d, %q, %v", k, n, s, ok)
		}
	}
}

// TestKeyTableReserveFewer: reserving room for fewer keys than are held
// changes nothing (found by review: it panicked).
func TestKeyTableReserveFewer(t *testing.T) {
	kt := newKeyTable()
	for i := range 10 {
		k := fmt.Sprint(i)
		kt.Add(k, kt.HashString(k))
	}
	kt.Reserve(5)
	if _, _, ok := FindKey(&kt, "7", kt.HashString("7")); !ok || kt.Len() != 10 {
		t.Errorf("after Reserve(5): %d keys, 7 found %v", kt.Len(), ok)
	}
}

// TestKeyTableFindOrAdd: FindOrAdd adds a key once, as bytes or as a
// string, and finds it after, with the number and string Add and FindKey
// give, through growth, chunks and keys held apart.
func TestKeyTableFindOrAdd(t *testing.T) {
	kt := newKeyTable()
	key := func(i int) string {
		if i%5000 == 7 {
			return strings.Repeat("y", keyMaxShort+1) + fmt.Sprint(i)
		}
		return fmt.Sprintf("p/%d/img%d_100x.jpg", i%13, i)
	}
	add := func(k string, asBytes bool) (int32, string, bool) {
		if asBytes {
			return FindOrAdd(&kt, []byte(k), kt.Hash([]byte(k)))
		}
		return FindOrAdd(&kt, k, kt.HashString(k))
	}
	for i := range 60_000 {
		k := key(i)
		n, s, added := add(k, i%2 == 0)
		if !added || n != int32(i) || s != k {
			t.Fatalf("first FindOrAdd(%q) = %d, %q, %v; want %d, added", k, n, s, added, i)
		}
		if n, s, added := add(k, i%2 == 1); added || n != int32(i) || s != k {
			t.Fatalf("second FindOrAdd(%q) = %d, %q, %v; want %d, found", k, n, s, added, i)
		}
	}
	if len(kt.chunks) < 2 || len(kt.long) == 0 {
		t.Fatalf("%d chunks, %d long keys: the test does not cover them", len(kt.chunks), len(kt.long))
	}
	for i := range 60_000 {
		if n, s, ok := FindKey(&kt, key(i), kt.HashString(key(i))); !ok || n != int32(i) || s != key(i) {
			t.Fatalf("find %q = %d, %q, %v", key(i), n, s, ok)
		}
	}
}
