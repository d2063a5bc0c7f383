package analytics_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/store"
)

// TestPublishedClasses: a run publishes its popular classes, most
// requested first, where ReadClasses finds them.
func TestPublishedClasses(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 2, nil)
	stateStore := fileStore(t, "")
	if got, err := analytics.ReadClasses(ctx, stateStore); got != nil || err != nil {
		t.Fatalf("before any run: ReadClasses = %q, %v; want none, no error", got, err)
	}
	rep, err := newAnalyzer(t, analytics.DefaultConfig(), analytics.Deps{Logs: fileStore(t, logDir), State: stateStore, Now: g.Now}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range rep.Classes {
		if c.Popular {
			want = append(want, c.Class)
		}
	}
	got, err := analytics.ReadClasses(ctx, stateStore)
	if err != nil || len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("ReadClasses = %q, %v; want the report's popular classes %q", got, err, want)
	}
}

func TestReadClassesRefuses(t *testing.T) {
	ctx := context.Background()
	for name, body := range map[string]string{
		"not JSON":        `{"classes":`,
		"not a class":     `{"classes":[{"class":"photos/a_200x200.jpg"}]}`,
		"no size":         `{"classes":[{"class":".jpg"}]}`,
		"classes as text": `{"classes":"_200x200.jpg"}`,
	} {
		t.Run(name, func(t *testing.T) {
			st := fileStore(t, "")
			if err := st.Put(ctx, analytics.ClassesKey, []byte(body), store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			got, err := analytics.ReadClasses(ctx, st)
			if !errors.Is(err, analytics.ErrBadClasses) {
				t.Errorf("ReadClasses = %q, %v; want ErrBadClasses", got, err)
			}
		})
	}
}

// TestClassCache reads again only once the TTL has passed.
func TestClassCache(t *testing.T) {
	ctx := context.Background()
	st := fileStore(t, "")
	put := func(class string) {
		t.Helper()
		if err := st.Put(ctx, analytics.ClassesKey, []byte(`{"classes":[{"class":"`+class+`"}]}`), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("_200x200.jpg")
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := analytics.NewClassCache(st, time.Minute, func() time.Time { return now })
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
	if err := st.Put(ctx, analytics.ClassesKey, []byte(`{"classes":`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	check("_400x.webp")
	if got, err := analytics.NewClassCache(st, time.Minute, nil).Classes(ctx); !errors.Is(err, analytics.ErrBadClasses) {
		t.Errorf("a new cache over corrupt classes: %q, %v; want ErrBadClasses", got, err)
	}
}
