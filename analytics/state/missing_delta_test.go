package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
)

// baseAndTwoDeltas writes a state of 100 thumbnails as a base and two
// deltas, each adding a read of p/b000_200x200.jpg and a log object, and a
// cursor after each save, as every run does.
func baseAndTwoDeltas(t *testing.T) (string, store.Store) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := NewState()
	s.Last = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC).Unix()
	for i := range 100 {
		s.Thumb(fmt.Sprintf("p/b%03d_200x200.jpg", i)).Reads = 1
	}
	if err := SaveState(ctx, st, s); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s = load(t, st)
		s.Thumbs.Get("p/b000_200x200.jpg").Reads++
		s.MarkRead(fmt.Sprintf("2026-03-10-1%d-00-00-A", i), s.Last)
		if err := SaveState(ctx, st, s); err != nil {
			t.Fatal(err)
		}
		if err := SaveCursor(ctx, st, s, ""); err != nil {
			t.Fatal(err)
		}
	}
	return dir, st
}

// TestMissingDeltaRefused: a delta missing from the sequence is refused
// with ErrBadState, not read as an older state: the last one, or all of
// them (which the cursor names), as well as one in the middle; and so are
// deltas whose base was removed, not read as no state at all.
func TestMissingDeltaRefused(t *testing.T) {
	ctx := context.Background()
	rm := func(dir, key string) {
		os.Remove(filepath.Join(dir, key))
		os.Remove(filepath.Join(dir, ".s3thumb", "meta", key+".json"))
	}
	for name, edit := range map[string]func(dir string, deltas []string){
		"the last delta removed": func(dir string, deltas []string) { rm(dir, deltas[1]) },
		"every delta removed":    func(dir string, deltas []string) { rm(dir, deltas[0]); rm(dir, deltas[1]) },
		"the base removed":       func(dir string, deltas []string) { rm(dir, stateKey) },
	} {
		t.Run(name, func(t *testing.T) {
			dir, st := baseAndTwoDeltas(t)
			_, deltas := stateObjects(t, dir)
			if len(deltas) != 2 {
				t.Fatalf("deltas %v", deltas)
			}
			edit(dir, deltas)
			s, err := LoadState(ctx, st)
			if !errors.Is(err, ErrBadState) {
				t.Errorf("loaded without error: %d thumbnails, reads of b000 %d, %d log objects read (saved: 3 and 2)",
					s.Thumbs.Len(), func() int64 {
						if th := s.Thumbs.Get("p/b000_200x200.jpg"); th != nil {
							return th.Reads
						}
						return 0
					}(), len(s.Done))
			}
		})
	}
}
