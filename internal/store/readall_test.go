package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3thumb/s3thumb/internal/store"
)

func TestReadAll(t *testing.T) {
	for _, tc := range []struct {
		body    string
		limit   int64
		want    string
		tooMuch bool
	}{
		{"", 4, "", false},
		{"abc", 4, "abc", false},
		{"abcd", 4, "abcd", false},
		{"abcde", 4, "abcde", true}, // read one past the limit, then refused
		{"abcdefgh", 0, "a", true},
	} {
		buf := []byte("reused buffer")
		got, err := store.ReadAll(strings.NewReader(tc.body), buf, tc.limit)
		if string(got) != tc.want || errors.Is(err, store.ErrTooLarge) != tc.tooMuch || (err != nil) != tc.tooMuch {
			t.Errorf("ReadAll(%q, limit %d) = %q, %v; want %q, too large %v", tc.body, tc.limit, got, err, tc.want, tc.tooMuch)
		}
	}
}
