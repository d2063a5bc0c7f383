package analytics_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/store"
)

// readCounter is a store that counts the reads of its state object.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (c *readCounter) Get(ctx context.Context, key string) (*store.Object, error) {
	if strings.HasPrefix(key, "analyzer-state") {
		c.reads.Add(1)
	}
	return c.Store.Get(ctx, key)
}

// TestIdleRun: a run that finds no new log object soon after the last run
// reads no state, writes nothing and says so; new logs, a changed state, an
// unreadable cursor, a dry run or DecideEvery elapsing each make a full run.
func TestIdleRun(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 1, nil)
	stateDir := t.TempDir()
	st := &readCounter{Store: fileStore(t, stateDir)}
	clock := g.Now()
	now := func() time.Time { return clock }
	cfg := analytics.DefaultConfig()
	cfg.DecideEvery = 24 * time.Hour
	run := func(cfg analytics.Config) (full bool, unchanged bool) {
		t.Helper()
		before := st.reads.Load()
		rep, err := newAnalyzer(t, cfg, analytics.Deps{Logs: fileStore(t, logDir), State: st, Now: now}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.reads.Load() > before, rep.Unchanged
	}
	stateFile := filepath.Join(stateDir, "analyzer-state.bin")
	if full, _ := run(cfg); !full {
		t.Fatal("the first run read no state")
	}
	saved, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}

	clock = clock.Add(time.Hour)
	if full, unchanged := run(cfg); full || !unchanged {
		t.Fatalf("a run with no new logs an hour later: state read %v, unchanged %v; want no read, unchanged", full, unchanged)
	}
	if now, _ := os.ReadFile(stateFile); !bytes.Equal(now, saved) {
		t.Fatal("the idle run changed the state")
	}

	dry := cfg
	dry.DryRun = true
	if full, unchanged := run(dry); !full || unchanged {
		t.Error("a dry run with no new logs did not plan from the state")
	}
	every := cfg
	every.DecideEvery = 0
	if full, _ := run(every); !full {
		t.Error("with DecideEvery 0 a run with no new logs did not decide")
	}

	// A day after the last decisions, a run decides again, logs or not.
	clock = clock.Add(25 * time.Hour)
	if full, unchanged := run(cfg); !full || unchanged {
		t.Error("a run a day after the last decisions did not decide")
	}
	clock = clock.Add(time.Minute)
	if full, _ := run(cfg); full {
		t.Fatal("the run right after it was not idle")
	}

	// Other settings decide again: an operator who adds --delete-stale
	// right after a run expects it done.
	other := cfg
	other.DeleteStale = true
	if full, unchanged := run(other); !full || unchanged {
		t.Error("a run with other settings did not decide")
	}
	if full, _ := run(other); full {
		t.Error("the run after it, with the same settings, was not idle")
	}

	// An unreadable cursor is only a hint lost: a full run, no error.
	if err := os.WriteFile(filepath.Join(stateDir, "analyzer-cursor.json"), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if full, _ := run(cfg); !full {
		t.Error("a run with an unreadable cursor did not read the state")
	}
	if full, _ := run(cfg); full {
		t.Error("the run after it did not write a good cursor")
	}

	// A state that is not the one the cursor describes (restored from a
	// backup, removed to count again) is read.
	removed, _ := filepath.Glob(filepath.Join(stateDir, "analyzer-state.*"))
	for _, p := range removed { // the base and its deltas
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if full, unchanged := run(cfg); !full || unchanged {
		t.Error("a run whose state was removed trusted the cursor")
	}

	// A new log object is read by the next run.
	var log testLog
	log.add(accesslog.Record{Time: clock.Add(-time.Minute), Operation: accesslog.OpWebsiteGetObject, Key: "new/a_200x200.jpg", HTTPStatus: 404})
	if err := fileStore(t, logDir).Put(ctx, accesslog.SimpleLogKey("", clock, "N"), log.data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if full, unchanged := run(cfg); !full || unchanged {
		t.Error("a run with a new log object did not read the state")
	}
}
