package state

import (
	"fmt"
	"strings"
	"testing"
)

// TestFindOrAddBoundaries: across every growth boundary, with and
// without Reserve, with long keys and []byte keys, FindOrAdd numbers keys
// in order, finds each again, and agrees with FindKey.
func TestFindOrAddBoundaries(t *testing.T) {
	for _, reserve := range []int{0, 1, 767, 768, 1000, 3000} {
		kt := newKeyTable()
		kt.Reserve(reserve)
		const n = 3100
		key := func(i int) string {
			if i%97 == 0 {
				return fmt.Sprintf("long/%d/%s", i, strings.Repeat("x", keyMaxShort))
			}
			return fmt.Sprintf("k/%d_200x200.jpg", i)
		}
		for i := range n {
			k := key(i)
			var got int32
			var added bool
			if i%2 == 0 {
				got, _, added = FindOrAdd(&kt, []byte(k), kt.HashString(k))
			} else {
				got, _, added = FindOrAdd(&kt, k, kt.HashString(k))
			}
			if !added || got != int32(i) {
				t.Fatalf("reserve %d: key %d: number %d, added %v", reserve, i, got, added)
			}
			for j := range i + 1 {
				if j%53 != 0 && j != i && j != i-1 {
					continue
				}
				kj := key(j)
				if r, s, ok := FindKey(&kt, kj, kt.HashString(kj)); !ok || r != int32(j) || s != kj {
					t.Fatalf("reserve %d: after %d keys, key %d found as %d, %v", reserve, i+1, j, r, ok)
				}
				if r, _, added := FindOrAdd(&kt, kj, kt.HashString(kj)); added || r != int32(j) {
					t.Fatalf("reserve %d: after %d keys, key %d again: %d, added %v", reserve, i+1, j, r, added)
				}
			}
		}
		if kt.Len() != n {
			t.Fatalf("len %d", kt.Len())
		}
	}
}
