package analytics_test

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/analytics"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/loggen"
	"github.com/s3thumb/s3thumb/internal/store"
)

// delivered shows only the log objects delivered by now.
type delivered struct {
	analytics.LogSource
	now *time.Time
}

func (d delivered) List(ctx context.Context, prefix, after string, fn func(store.Attrs) error) error {
	return d.LogSource.List(ctx, prefix, after, func(at store.Attrs) error {
		if lk, err := accesslog.ParseLogKey(at.Key); err == nil && lk.Time.After(*d.now) {
			return nil
		}
		return fn(at)
	})
}

type jobRecorder struct{ bodies []string }

func (j *jobRecorder) Send(_ context.Context, bodies [][]byte) error {
	for _, b := range bodies {
		j.bodies = append(j.bodies, string(b))
	}
	return nil
}

// toV4 rewrites the version 5 base in st as version 4: the next run reads
// it as an older format and writes a whole base, never a delta.
func toV4(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	obj, err := st.Get(ctx, "analyzer-state.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	const magic = "s3thumb analyzer state\n"
	rest := b[len(magic) : len(b)-4]
	v, n := binary.Uvarint(rest)
	if v != 5 {
		t.Fatalf("base of version %d", v)
	}
	rest = rest[n:]
	_, n = binary.Uvarint(rest) // the generation
	rest = rest[n:]
	out := append([]byte(magic), 4)
	out = append(out, rest...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
	if err := st.Put(ctx, "analyzer-state.bin", out, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestDeltasMatchBases: two analyzers run the same hourly schedule
// over the same logs, one keeping its state as base and deltas, the other
// writing a whole base every run. Their states and their jobs must not
// differ at any run.
func TestDeltasMatchBases(t *testing.T) {
	ctx := context.Background()
	logDir, g := generated(t, 10, func(c *loggen.Config) { c.LateShare = 0.2; c.RequestsPerDay = 1500 })
	end := g.Now()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	deltaSt, baseSt := fileStore(t, ""), fileStore(t, "")
	var jd, jb jobRecorder
	clock := start
	now := func() time.Time { return clock }
	cfg := analytics.DefaultConfig()
	cfg.DecideEvery = 0
	cfg.MinClients = 1
	logs := delivered{LogSource: fileStore(t, logDir), now: &clock}
	runs := 0
	for clock = start.Add(5 * time.Hour); !clock.After(end.Add(48 * time.Hour)); clock = clock.Add(5 * time.Hour) {
		for _, x := range []struct {
			st store.Store
			q  *jobRecorder
		}{{deltaSt, &jd}, {baseSt, &jb}} {
			if _, err := newAnalyzer(t, cfg, analytics.Deps{Logs: logs, State: x.st, Queue: x.q, Now: now}).Run(ctx); err != nil {
				t.Fatal(err)
			}
		}
		runs++
		toV4(t, baseSt)
		a, b := loadState(t, deltaSt), loadState(t, baseSt)
		if ga, gb := everything(t, a), everything(t, b); ga != gb {
			i := 0
			for i < len(ga) && i < len(gb) && ga[i] == gb[i] {
				i++
			}
			t.Fatalf("run %d at %s: the state of base and deltas differs from the state saved whole at byte %d:\n deltas: ...%s...\n whole:  ...%s...",
				runs, clock.Format(time.RFC3339), i, ga[max(0, i-300):min(len(ga), i+200)], gb[max(0, i-300):min(len(gb), i+200)])
		}
		if strings.Join(jd.bodies, "\n") != strings.Join(jb.bodies, "\n") {
			t.Fatalf("run %d: %d jobs from base and deltas, %d from whole bases", runs, len(jd.bodies), len(jb.bodies))
		}
	}
	var deltas int
	deltaSt.List(ctx, "analyzer-state.delta.", "", func(store.Attrs) error { deltas++; return nil })
	t.Logf("%d runs, %d jobs, %d deltas left, %d thumbnails", runs, len(jd.bodies), deltas, loadState(t, deltaSt).Thumbs.Len())
	_ = state.BinaryVersion
}
