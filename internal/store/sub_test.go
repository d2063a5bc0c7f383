package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/s3thumb/s3thumb/internal/store"
)

// TestSub: a store's part under a prefix reads, writes, lists and deletes
// its own keys, without the prefix, and nothing outside it.
func TestSub(t *testing.T) {
	ctx := context.Background()
	parent, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	sub := store.Sub(parent, "shard-1-of-4/")
	for _, k := range []string{"a", "b/c"} {
		if err := sub.Put(ctx, k, []byte(k), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := parent.Put(ctx, "a", []byte("outside"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := sub.Get(ctx, "b/c")
	if err != nil || obj.Key != "b/c" {
		t.Fatalf("Get: %+v, %v", obj, err)
	}
	obj.Body.Close()
	if a, err := sub.Head(ctx, "a"); err != nil || a.Key != "a" || a.Size != 1 {
		t.Errorf("Head(a) = %+v, %v; want its own a, 1 byte", a, err)
	}
	var keys []string
	if err := sub.List(ctx, "", "", func(a store.Attrs) error { keys = append(keys, a.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a", "b/c"}) {
		t.Errorf("List = %q, want [a b/c]", keys)
	}
	keys = nil
	if err := sub.List(ctx, "", "a", func(a store.Attrs) error { keys = append(keys, a.Key); return nil }); err != nil || !slices.Equal(keys, []string{"b/c"}) {
		t.Errorf("List after a = %q, %v; want [b/c]", keys, err)
	}
	if err := sub.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Head(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Head after Delete: %v, want ErrNotFound", err)
	}
	if _, err := parent.Head(ctx, "a"); err != nil {
		t.Errorf("the parent's own a: %v, want kept", err)
	}
	if store.Sub(parent, "") != store.Store(parent) {
		t.Errorf("Sub with no prefix is not the store itself")
	}
}
