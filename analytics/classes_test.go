package analytics_test

import (
	"context"
	"slices"
	"testing"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/popular"
)

// TestPublishedClasses: a run publishes its popular classes, most
// requested first, where ReadClasses finds them.
func TestPublishedClasses(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 2, nil)
	stateStore := fileStore(t, "")
	if got, err := popular.Read(ctx, stateStore); got != nil || err != nil {
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
	got, err := popular.Read(ctx, stateStore)
	if err != nil || len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("ReadClasses = %q, %v; want the report's popular classes %q", got, err, want)
	}
}
