package loggen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// smallConfig is a few days of a few thousand requests, with every era,
// both key layouts, gzip, expirations and more malformed and duplicate lines
// than usual.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.Seed = 7
	cfg.Days = 5
	cfg.Originals = 500
	cfg.UploadsPerDay = 20
	cfg.RequestsPerDay = 8000
	cfg.ExpireDays = 2
	cfg.Layout = LayoutBoth
	cfg.Fields = 0
	cfg.Gzip = true
	cfg.MalformedRate = 0.005
	cfg.DuplicateRate = 0.01
	return cfg
}

type logObject struct {
	key  string
	body []byte
}

// generate runs a generator to the end and keeps the objects in memory.
func generate(t *testing.T, cfg Config) (*Generator, []logObject) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var objs []logObject
	sink := SinkFunc(func(_ context.Context, key string, body []byte) error {
		objs = append(objs, logObject{key, bytes.Clone(body)})
		return nil
	})
	if err := g.Run(context.Background(), sink); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := g.Day(context.Background(), sink); !errors.Is(err, ErrDone) {
		t.Errorf("Day after the last = %v, want ErrDone", err)
	}
	return g, objs
}

// parseAll reads every object, checking keys and counts against the stats.
func parseAll(t *testing.T, cfg Config, st Stats, objs []logObject) []accesslog.Record {
	t.Helper()
	r, err := accesslog.NewReader(nil, accesslog.Config{MaxSamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]accesslog.Record, 0, st.Lines)
	var malformed, lines int64
	layouts := map[accesslog.Layout]int{}
	eras := map[int]int{}
	for _, o := range objs {
		lk, err := accesslog.ParseLogKey(o.key)
		if err != nil {
			t.Fatalf("object key: %v", err)
		}
		layouts[lk.Layout]++
		if lk.Prefix != cfg.Prefix {
			t.Errorf("object %s has prefix %q, want %q", o.key, lk.Prefix, cfg.Prefix)
		}
		if cfg.Gzip != bytes.HasPrefix(o.body, []byte{0x1f, 0x8b}) {
			t.Errorf("object %s: gzip is %v, want %v", o.key, !cfg.Gzip, cfg.Gzip)
		}
		r.Reset(bytes.NewReader(o.body))
		var rec accesslog.Record
		for {
			err := r.Read(&rec)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read %s: %v", o.key, err)
			}
			if !lk.Time.After(rec.Time) {
				t.Errorf("object %s delivered at %v holds a record of %v", o.key, lk.Time, rec.Time)
			}
			eras[rec.Fields]++
			out = append(out, rec)
		}
		st := r.Stats()
		malformed += st.Malformed
		lines += st.Lines
		for _, s := range st.Samples {
			if s.Reason == "" {
				t.Errorf("sample without a reason: %v", s)
			}
		}
	}
	if malformed != st.Malformed {
		t.Errorf("reader found %d malformed lines, the generator wrote %d", malformed, st.Malformed)
	}
	if lines != st.Lines {
		t.Errorf("reader found %d lines, the generator wrote %d", lines, st.Lines)
	}
	if got, want := int64(len(out)), st.Records+st.Duplicates; got != want {
		t.Errorf("read %d records, the generator wrote %d (%d records + %d duplicates)", got, want, st.Records, st.Duplicates)
	}
	if cfg.Layout == LayoutBoth && (layouts[accesslog.LayoutSimple] == 0 || layouts[accesslog.LayoutPartitioned] == 0) {
		t.Errorf("layouts %v: want both", layouts)
	}
	if cfg.Fields == 0 {
		for _, n := range []int{18, 24, 25, 26, 27} {
			if eras[n] == 0 {
				t.Errorf("no records of %d fields among %v", n, eras)
			}
		}
	}
	return out
}

func TestGeneratedLogsParse(t *testing.T) {
	cfg := smallConfig()
	g, objs := generate(t, cfg)
	st := g.Stats()
	if st.Malformed == 0 || st.Duplicates == 0 || st.Expirations == 0 || st.Misses == 0 || st.Hits == 0 || st.Uploads == 0 {
		t.Fatalf("stats %+v: want some of everything", st)
	}
	if st.Lines != st.Records+st.Duplicates+st.Malformed {
		t.Errorf("stats %+v: lines are not records + duplicates + malformed", st)
	}
	recs := parseAll(t, cfg, st, objs)

	// Duplicates are whole records delivered again: same ID, same content.
	byID := map[string]accesslog.Record{}
	var unique []accesslog.Record
	for _, p := range recs {
		if prev, ok := byID[p.RequestID]; ok {
			// The copy may be in an object of another era: compare the
			// fields every era has.
			if core(prev) != core(p) {
				t.Errorf("request %s appears twice with different content:\n%+v\n%+v", p.RequestID, prev, p)
			}
			continue
		}
		byID[p.RequestID] = p
		unique = append(unique, p)
	}
	if int64(len(unique)) != st.Records {
		t.Errorf("%d distinct request IDs, want %d records", len(unique), st.Records)
	}

	// Operations add up to the simulation's counts.
	count := map[string]int64{}
	for _, r := range unique {
		_, err := thumbkey.Parse(r.Key)
		isThumb := err == nil
		switch {
		case r.Operation == accesslog.OpWebsiteGetObject && isThumb && r.HTTPStatus == 200:
			count["hit"]++
		case r.Operation == accesslog.OpWebsiteGetObject && isThumb && r.HTTPStatus == cfg.MissStatus:
			count["miss"]++
		case r.Operation == accesslog.OpRESTPutObject && isThumb:
			count["thumbnail write"]++
		case r.Operation == accesslog.OpRESTPutObject:
			count["upload"]++
		case r.Operation == accesslog.OpExpireObject:
			count["expire"]++
			if !isThumb {
				t.Errorf("expired %q, not a thumbnail", r.Key)
			}
		}
	}
	for what, want := range map[string]int64{"hit": st.Hits, "miss": st.Misses, "thumbnail write": st.ThumbnailWrites,
		"upload": st.Uploads, "expire": st.Expirations} {
		if count[what] != want {
			t.Errorf("%d %s records, the simulation counted %d", count[what], what, want)
		}
	}
	checkConsistent(t, unique)
	checkPopularity(t, cfg, unique)
}

// core keeps the fields of a record that every era of the format has.
func core(r accesslog.Record) accesslog.Record {
	return accesslog.Record{
		BucketOwner: r.BucketOwner, Bucket: r.Bucket, Time: r.Time, RemoteIP: r.RemoteIP, Requester: r.Requester,
		RequestID: r.RequestID, Operation: r.Operation, Key: r.Key, HTTPStatus: r.HTTPStatus, ErrorCode: r.ErrorCode,
		BytesSent: r.BytesSent, ObjectSize: r.ObjectSize, TotalTime: r.TotalTime, TurnAround: r.TurnAround,
		Referer: r.Referer, UserAgent: r.UserAgent, VersionID: r.VersionID,
	}
}

// checkConsistent checks that hits and misses agree with what exists: no
// miss for a thumbnail stored earlier and not expired since, no hit for one
// that expired and was not stored again. Times are to the second, so events
// less than two seconds apart are not compared.
func checkConsistent(t *testing.T, recs []accesslog.Record) {
	t.Helper()
	sorted := slices.Clone(recs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	type state struct {
		exists bool
		since  time.Time
	}
	known := map[string]state{}
	bad := 0
	for _, r := range sorted {
		s, seen := known[r.Key]
		settled := seen && r.Time.Sub(s.since) >= 2*time.Second
		switch {
		case r.Operation == accesslog.OpRESTPutObject || r.Operation == accesslog.OpExpireObject:
			known[r.Key] = state{exists: r.Operation == accesslog.OpRESTPutObject, since: r.Time}
		case r.Operation == accesslog.OpWebsiteGetObject && settled && s.exists && r.HTTPStatus != 200:
			bad++
			t.Errorf("miss for %q at %v, stored at %v", r.Key, r.Time, s.since)
		case r.Operation == accesslog.OpWebsiteGetObject && settled && !s.exists && r.HTTPStatus == 200:
			bad++
			t.Errorf("hit for %q at %v, expired at %v", r.Key, r.Time, s.since)
		}
		if bad > 5 {
			t.Fatal("too many inconsistencies")
		}
	}
}

// checkPopularity checks the shape of the workload: a few originals take
// many requests, the dominant sizes most thumbnail requests.
func checkPopularity(t *testing.T, cfg Config, recs []accesslog.Record) {
	t.Helper()
	perOriginal := map[string]int{}
	tailSizes := map[string]map[string]int{} // by original, requests per tail size
	dominant, thumbs := 0, 0
	for _, r := range recs {
		if r.Operation != accesslog.OpWebsiteGetObject {
			continue
		}
		k, err := thumbkey.Parse(r.Key)
		if err != nil {
			continue
		}
		thumbs++
		perOriginal[k.Dir+k.Name]++
		isDominant := false
		for _, c := range dominantSizes() {
			if strings.HasSuffix(r.Key, c.suffix) {
				dominant++
				isDominant = true
				break
			}
		}
		if !isDominant {
			stem := k.Dir + k.Name
			if tailSizes[stem] == nil {
				tailSizes[stem] = map[string]int{}
			}
			tailSizes[stem][r.Key[len(stem):]]++
		}
	}
	counts := make([]int, 0, len(perOriginal))
	for _, n := range perOriginal {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	top, median := counts[len(counts)-1], counts[len(counts)/2]
	if top < 20*median {
		t.Errorf("most requested original has %d requests, the median %d: want a Zipf-like spread", top, median)
	}
	share := float64(dominant) / float64(thumbs)
	if want := 1 - cfg.TailShare - cfg.StrayShare; share < want-0.03 || share > want+0.03 {
		t.Errorf("dominant sizes take %.3f of thumbnail requests, want about %.2f", share, want)
	}
	// An original's tail requests are for the few sizes pages embed it at,
	// and a few strays: most of them ask for a pair of original and size
	// asked for before.
	var pairs, tail int
	for _, sizes := range tailSizes {
		pairs += len(sizes)
		for _, n := range sizes {
			tail += n
		}
	}
	if tail > 0 && float64(pairs)/float64(tail) > 0.4 {
		t.Errorf("%d tail requests ask for %d pairs of original and size: want most of them to repeat a pair", tail, pairs)
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	cfg := smallConfig()
	cfg.Days = 2
	digest := func(cfg Config) [32]byte {
		_, objs := generate(t, cfg)
		h := sha256.New()
		for _, o := range objs {
			h.Write([]byte(o.key))
			h.Write(o.body)
		}
		return [32]byte(h.Sum(nil))
	}
	a, b := digest(cfg), digest(cfg)
	if a != b {
		t.Error("the same seed gave different logs")
	}
	cfg.Seed++
	if digest(cfg) == a {
		t.Error("another seed gave the same logs")
	}
}

// TestHourByHour: generating hour by hour, with Now advancing an hour at a
// time, gives the logs that generating day by day gives.
func TestHourByHour(t *testing.T) {
	cfg := smallConfig()
	cfg.Days = 2
	_, byDay := generate(t, cfg)
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var byHour []logObject
	sink := SinkFunc(func(_ context.Context, key string, body []byte) error {
		byHour = append(byHour, logObject{key, bytes.Clone(body)})
		return nil
	})
	for i := 1; ; i++ {
		err := g.Hour(context.Background(), sink)
		if errors.Is(err, ErrDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := cfg.Start.Add(time.Duration(i) * time.Hour); !g.Now().Equal(want) {
			t.Fatalf("Now after %d hours = %v, want %v", i, g.Now(), want)
		}
	}
	if len(byHour) != len(byDay) {
		t.Fatalf("%d log objects hour by hour, %d day by day", len(byHour), len(byDay))
	}
	for i := range byDay {
		if byHour[i].key != byDay[i].key || !bytes.Equal(byHour[i].body, byDay[i].body) {
			t.Fatalf("log object %d differs: %s hour by hour, %s day by day", i, byHour[i].key, byDay[i].key)
		}
	}
}

// TestOnUpload: the hook hears of each upload as it happens, and
// thumbnails it creates are there for the upload's first requests.
func TestOnUpload(t *testing.T) {
	cfg := smallConfig()
	cfg.Days, cfg.Gzip = 1, false
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var uploads []string
	g.OnUpload(func(key string) {
		uploads = append(uploads, key)
		stem := strings.TrimSuffix(key, ".jpg")
		stem = strings.TrimSuffix(stem, ".png")
		for _, c := range dominantSizes() {
			g.Create(stem + c.suffix)
		}
	})
	var misses int
	sink := SinkFunc(func(_ context.Context, _ string, body []byte) error {
		for _, line := range strings.Split(string(body), "\n") {
			for _, key := range uploads {
				stem := key[:strings.LastIndexByte(key, '.')]
				if strings.Contains(line, "WEBSITE.GET.OBJECT "+stem+"_200x200.jpg ") && strings.Contains(line, " 404 NoSuchKey ") {
					misses++
				}
			}
		}
		return nil
	})
	if err := g.Day(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	if len(uploads) != cfg.UploadsPerDay || int64(len(uploads)) != st.Uploads {
		t.Fatalf("hook heard of %d uploads, the generator made %d (config: %d)", len(uploads), st.Uploads, cfg.UploadsPerDay)
	}
	if misses != 0 || st.PregenCreated != int64(len(uploads)*len(dominantSizes())) || st.PregenFirstReads == 0 {
		t.Errorf("%d misses for the uploads' 200x200, %d made, %d first reads: want no misses, every size made, some read",
			misses, st.PregenCreated, st.PregenFirstReads)
	}
}

// TestWarmup: the warm-up days are played but not logged or counted; the
// bucket they leave serves the first logged day mostly from thumbnails
// already made.
func TestWarmup(t *testing.T) {
	firstDay := func(warmup int) (Stats, time.Time) {
		cfg := smallConfig()
		cfg.Days, cfg.WarmupDays, cfg.ExpireDays = 1, warmup, 10
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if st := g.Stats(); st != (Stats{}) || !g.Now().Equal(cfg.Start) || g.DaysLeft() != 1 {
			t.Fatalf("after a warm-up of %d days: stats %+v, now %v, %d days left; want nothing counted, the start, 1 day",
				warmup, st, g.Now(), g.DaysLeft())
		}
		var first time.Time
		r, err := accesslog.NewReader(nil, accesslog.Config{})
		if err != nil {
			t.Fatal(err)
		}
		sink := SinkFunc(func(_ context.Context, _ string, body []byte) error {
			r.ResetBytes(body)
			var rec accesslog.Record
			for r.Read(&rec) == nil {
				if first.IsZero() || rec.Time.Before(first) {
					first = rec.Time
				}
			}
			return nil
		})
		if err := g.Day(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
		return g.Stats(), first
	}
	cold, _ := firstDay(0)
	warm, first := firstDay(10)
	if first.Before(smallConfig().Start) {
		t.Errorf("first logged record at %v, before the start %v", first, smallConfig().Start)
	}
	coldRatio := float64(cold.Hits) / float64(cold.Hits+cold.Misses)
	warmRatio := float64(warm.Hits) / float64(warm.Hits+warm.Misses)
	if warmRatio < coldRatio+0.1 {
		t.Errorf("first-day hit ratio %.2f after a warm-up, %.2f without: want the warm bucket to serve more", warmRatio, coldRatio)
	}
}

func TestGeneratorCreateAndDelete(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Days, cfg.Originals, cfg.RequestsPerDay, cfg.UploadsPerDay = 3, 50, 20000, 0
	cfg.WarmupDays, cfg.RecentShare, cfg.TailShare, cfg.StrayShare, cfg.ExpireDays = 0, 0, 0, 0, 0
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	discard := SinkFunc(func(context.Context, string, []byte) error { return nil })
	if err := g.Day(context.Background(), discard); err != nil {
		t.Fatal(err)
	}
	misses := g.Stats().Misses
	if misses == 0 {
		t.Fatal("no misses on the first day")
	}
	// Clean up and pre-generate every dominant size of every original: the
	// next day has no misses, and its first reads of them are counted.
	var made []string
	for _, o := range g.originals {
		for _, c := range dominantSizes() {
			key := o.stem + c.suffix
			g.Delete(key)
			if g.Exists(key) {
				t.Fatalf("%s exists after Delete", key)
			}
			g.Create(key)
			made = append(made, key)
		}
	}
	if got := g.PregenUnread(0); got != len(made) {
		t.Errorf("PregenUnread = %d just after making %d", got, len(made))
	}
	if err := g.Day(context.Background(), discard); err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	if st.Misses != misses {
		t.Errorf("%d misses on a day with every size made, want none", st.Misses-misses)
	}
	if st.PregenCreated != int64(len(made)) || st.PregenFirstReads == 0 || st.PregenFirstReads > st.PregenCreated {
		t.Errorf("stats %+v: want %d made and some of them read", st, len(made))
	}
	if unread := g.PregenUnread(0); int64(unread) != st.PregenCreated-st.PregenFirstReads {
		t.Errorf("PregenUnread = %d, want made - first reads = %d", unread, st.PregenCreated-st.PregenFirstReads)
	}
	// Deleting a popular thumbnail makes it a miss again.
	for _, key := range made {
		g.Delete(key)
	}
	if err := g.Day(context.Background(), discard); err != nil {
		t.Fatal(err)
	}
	if g.Stats().Misses == st.Misses {
		t.Error("no misses after deleting every pre-generated thumbnail")
	}
}

func TestDirSink(t *testing.T) {
	cfg := smallConfig()
	cfg.Days, cfg.RequestsPerDay = 1, 2000
	dir := t.TempDir()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Run(context.Background(), DirSink{Dir: dir}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var files int64
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if _, err := accesslog.ParseLogKey(filepath.ToSlash(rel)); err != nil {
			t.Errorf("file %s: %v", rel, err)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != g.Stats().Objects {
		t.Errorf("%d files, the generator wrote %d objects", files, g.Stats().Objects)
	}
	for _, key := range []string{"", "/abs", "a/../../b"} {
		if err := (DirSink{Dir: dir}).WriteObject(context.Background(), key, nil); err == nil {
			t.Errorf("DirSink wrote the unsafe key %q", key)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"no days":         func(c *Config) { c.Days = 0 },
		"bad layout":      func(c *Config) { c.Layout = "sideways" },
		"bad era":         func(c *Config) { c.Fields = 17 },
		"zipf exponent 1": func(c *Config) { c.ZipfS = 1 },
		"share above 1":   func(c *Config) { c.TailShare = 1.5 },
		"bad miss status": func(c *Config) { c.MissStatus = 500 },
		"short account":   func(c *Config) { c.Account = "123" },
		"no objects":      func(c *Config) { c.ObjectsPerHour = 0 },
	} {
		cfg := DefaultConfig()
		change(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
