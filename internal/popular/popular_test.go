package popular_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/store"
)

func fileStore(t *testing.T) *store.FileStore {
	t.Helper()
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestReadRefuses(t *testing.T) {
	ctx := context.Background()
	for name, body := range map[string]string{
		"not JSON":        `{"classes":`,
		"not a class":     `{"classes":[{"class":"photos/a_200x200.jpg"}]}`,
		"no size":         `{"classes":[{"class":".jpg"}]}`,
		"classes as text": `{"classes":"_200x200.jpg"}`,
	} {
		t.Run(name, func(t *testing.T) {
			st := fileStore(t)
			if err := st.Put(ctx, popular.Key, []byte(body), store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			got, err := popular.Read(ctx, st)
			if !errors.Is(err, popular.ErrBad) {
				t.Errorf("Read = %q, %v; want ErrBad", got, err)
			}
		})
	}
}

// TestCache reads again only once the TTL has passed.
func TestCache(t *testing.T) {
	ctx := context.Background()
	st := fileStore(t)
	put := func(class string) {
		t.Helper()
		if err := st.Put(ctx, popular.Key, []byte(`{"classes":[{"class":"`+class+`"}]}`), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("_200x200.jpg")
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := popular.NewCache(st, time.Minute, func() time.Time { return now })
	check := func(want string) {
		t.Helper()
		got, err := c.Classes(ctx)
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("Classes = %q, %v; want [%s]", got, err, want)
		}
	}
	check("_200x200.jpg")
	put("_400x.webp")
	now = now.Add(30 * time.Second)
	check("_200x200.jpg") // cached
	now = now.Add(31 * time.Second)
	check("_400x.webp")

	// A read that fails keeps the classes read before; a cache that never
	// read any says why.
	if err := st.Put(ctx, popular.Key, []byte(`{"classes":`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	check("_400x.webp")
	if got, err := popular.NewCache(st, time.Minute, nil).Classes(ctx); !errors.Is(err, popular.ErrBad) {
		t.Errorf("a new cache over corrupt classes: %q, %v; want ErrBad", got, err)
	}
}
