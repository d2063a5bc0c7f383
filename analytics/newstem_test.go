package analytics

import (
	"context"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/store"
)

// An original the listing just found new (proof it exists) gets its
// pre-generation even while an earlier missing check stands.
func TestListedNewBeatsMissing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bucket, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.Put(ctx, "p/x.jpg", []byte("x"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	s := state.NewState()
	o := s.Original("p/x")
	o.Missing = now.Add(-time.Hour).Unix() // checked before the upload
	p := &Plan{}
	cfg := DefaultConfig()
	d, err := originalsInDemand(ctx, s, cfg, now, map[string]bool{"p/x": true}, bucket, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 {
		t.Errorf("originals in demand %+v; want p/x, listed as a new upload", d)
	}
}
