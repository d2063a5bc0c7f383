package analytics

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/testserver"
)

// TestLockTakeoverRace: runs that find the same expired lock at the same
// moment take it over one at most, many times over, on a directory store
// and on versitygw; a run does not release a lock another run holds.
func TestLockTakeoverRace(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, open := range testserver.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			for round := range 20 {
				expired, _ := json.Marshal(lockBody{Owner: "a run that died", Expires: now.Add(-time.Minute)})
				if err := st.Put(t.Context(), lockKey, expired, store.PutOptions{}); err != nil {
					t.Fatal(err)
				}
				const runs = 4
				var won atomic.Int64
				releases := make([]func(), runs)
				var wg sync.WaitGroup
				for i := range runs {
					wg.Go(func() {
						release, err := acquireLock(t.Context(), st, fmt.Sprintf("run %d", i), now, time.Hour)
						switch {
						case err == nil:
							won.Add(1)
							releases[i] = func() {
								if err := release(t.Context()); err != nil {
									t.Errorf("release: %v", err)
								}
							}
						case !errors.Is(err, ErrLocked):
							t.Errorf("round %d, run %d: %v", round, i, err)
						}
					})
				}
				wg.Wait()
				if won.Load() != 1 {
					t.Fatalf("round %d: %d runs took over the expired lock, want exactly 1", round, won.Load())
				}
				for _, r := range releases {
					if r != nil {
						r()
					}
				}
				if _, err := st.Head(t.Context(), lockKey); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("round %d: the lock is still there after its holder released it: %v", round, err)
				}
			}
		})
	}
}
