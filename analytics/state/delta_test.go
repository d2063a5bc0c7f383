package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
)

// snapshot is every part of a state that is saved, as JSON, with what
// each thumbnail counts for (by stem and suffix, not by number).
func snapshot(t *testing.T, s *State) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Thumbs, Originals, Classes, Days, Done, Totals, Seen, Asked, ForeignOriginals any
		Watermark, First, Last, Compacted                                             int64
		LastRun                                                                       time.Time
	}{s.Thumbs, s.Originals, s.Classes, s.Days, s.Done, s.Totals, s.Seen, s.Asked, s.ForeignOriginals, s.Watermark, s.First, s.Last, s.Compacted, s.LastRun})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n" + describe(t, s, false)
}

func load(t *testing.T, st store.Store) *State {
	t.Helper()
	s, err := LoadState(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stateObjects(t *testing.T, dir string) (base int64, deltas []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		switch {
		case e.Name() == stateKey:
			base = info.Size()
		case strings.HasPrefix(e.Name(), deltaPrefix):
			deltas = append(deltas, e.Name())
		}
	}
	return base, deltas
}

// TestDeltas: a state loaded from a base and changed in every way a run
// changes it is saved as a delta, much smaller than the base, and reads
// back as it was, numbered as a base read whole numbers it; a compaction
// that drops rows writes a new base, and the old deltas go.
func TestDeltas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC).Unix()
	s := NewState()
	s.Last, s.First = t0, t0-86400
	for i := range 200 {
		key := fmt.Sprintf("p/m%03d_200x200.jpg", i)
		th := s.Thumb(key)
		th.Reads, th.LastRead, th.Exists, th.LastWrite = 3, t0, Stored, t0-3600
		s.Original(fmt.Sprintf("p/m%03d", i)).Add(t0, DayOf(t0), false)
		s.Class("_200x200.jpg").Add(t0, DayOf(t0), false)
		s.Seen.Add(t0, uint64(1000+i))
		s.Asked.Add(t0, uint64(5000+i))
	}
	s.MarkRead("2026-03-10-11-00-00-A", t0-3600)
	if err := SaveState(ctx, st, s); err != nil {
		t.Fatal(err)
	}
	base, deltas := stateObjects(t, dir)
	if base == 0 || len(deltas) != 0 {
		t.Fatalf("the first save wrote a base of %d bytes and deltas %v; want a base alone", base, deltas)
	}

	steps := []struct {
		name   string
		change func(s *State)
	}{
		{"counts, a new original sorting first, a new class, a log object, a new hour", func(s *State) {
			s.Thumbs.Get("p/m007_200x200.jpg").Reads++
			th := s.Thumb("a/first_100x100.webp")
			th.Misses, th.FirstSeen = 1, t0+60
			s.Original("a/first").Add(t0+60, DayOf(t0+60), true)
			s.Class("_100x100.webp").Add(t0+60, DayOf(t0+60), true)
			s.Day(DayOf(t0)).Requests++
			s.MarkRead("2026-03-10-12-00-00-B", t0)
			s.Seen.Add(t0+3600, 77)
			s.Asked.Add(t0+3600, 0) // the identity held apart
			s.Last = t0 + 3600
			s.LastRun = time.Unix(t0+3700, 0).UTC()
			s.Totals.Runs++
		}},
		{"an original named like a thumbnail, a foreign original, a job", func(s *State) {
			th := s.Thumb("p/banner_1200x630.jpg")
			th.Reads = 2
			s.SetRole(th, "p/banner_1200x630.jpg", RoleOriginal)
			s.ForeignOriginals["q/hero_1920x1080.jpg"] = t0
			m := s.Thumbs.Get("p/m010_200x200.jpg")
			m.JobAt, m.JobWhy, m.JobExp, m.PregenNew = t0+3600, JobHot, 1.5, true
			s.Original("p/m011").AddClient(42<<32, DayOf(t0))
		}},
		{"days later: hours forgotten, log objects past the watermark", func(s *State) {
			s.Last = t0 + 9*86400
			s.MarkRead("2026-03-19-12-00-00-C", s.Last)
			s.Prune(9, 48*time.Hour)
		}},
		{"a late record for a forgotten hour", func(s *State) {
			s.Seen.Add(t0, 1003)
			s.Seen.Add(s.Last, 99)
		}},
	}
	for i, step := range steps {
		s := load(t, st)
		step.change(s)
		want := snapshot(t, s)
		if err := SaveState(ctx, st, s); err != nil {
			t.Fatal(err)
		}
		after, deltas := stateObjects(t, dir)
		if after != base || len(deltas) != i+1 {
			t.Fatalf("%s: base %d bytes (was %d), deltas %v; want the base unchanged and %d deltas", step.name, after, base, deltas, i+1)
		}
		b, err := os.ReadFile(filepath.Join(dir, deltas[i]))
		if err != nil {
			t.Fatal(err)
		}
		if 4*int64(len(b)) > base {
			t.Errorf("%s: a delta of %d bytes for a base of %d", step.name, len(b), base)
		}
		got := load(t, st)
		if g := snapshot(t, got); g != want {
			t.Fatalf("%s: read back as\n%s\nwant\n%s", step.name, g, want)
		}
		whole, err := decodeBinary(encodeBinary(nil, got))
		if err != nil {
			t.Fatal(err)
		}
		if a, b := describe(t, got, true), describe(t, whole, true); a != b {
			t.Errorf("%s: numbered\n%s\nwhere a base read whole numbers\n%s", step.name, a, b)
		}
	}

	// A compaction that drops rows writes a base with a new generation, and
	// the deltas of the old one are removed.
	s = load(t, st)
	oldGen := s.gen
	s.Thumb("p/gone_64x64.jpg").FirstSeen = t0 - 30*86400
	if n, err := s.Compact(time.Unix(t0+10*86400, 0), 7*24*time.Hour); err != nil || n == 0 {
		t.Fatalf("compact dropped %d, %v; want some", n, err)
	}
	want := snapshot(t, s)
	if err := SaveState(ctx, st, s); err != nil {
		t.Fatal(err)
	}
	if _, deltas := stateObjects(t, dir); len(deltas) != 0 {
		t.Errorf("after a new base, deltas %v are left", deltas)
	}
	got := load(t, st)
	if got.gen == oldGen {
		t.Error("the new base has the old generation")
	}
	if g := snapshot(t, got); g != want {
		t.Errorf("after a new base, read back as\n%s\nwant\n%s", g, want)
	}
}

// TestDeltasRefused: a delta cut short or changed, one missing from the
// sequence, or one of another generation left in its place is refused
// with ErrBadState; a delta of another generation is ignored and removed
// by the next save.
func TestDeltasRefused(t *testing.T) {
	ctx := context.Background()
	for name, edit := range map[string]func(t *testing.T, dir string, deltas []string){
		"cut short": func(t *testing.T, dir string, deltas []string) {
			p := filepath.Join(dir, deltas[1])
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-3], 0o644)
		},
		"a byte changed": func(t *testing.T, dir string, deltas []string) {
			p := filepath.Join(dir, deltas[0])
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o644)
		},
		"one missing": func(t *testing.T, dir string, deltas []string) {
			os.Remove(filepath.Join(dir, deltas[0]))
			os.Remove(filepath.Join(dir, ".s3thumb", "meta", deltas[0]+".json"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir, st := baseAndTwoDeltas(t)
			_, deltas := stateObjects(t, dir)
			if len(deltas) != 2 {
				t.Fatalf("deltas %v, want 2", deltas)
			}
			edit(t, dir, deltas)
			if s, err := LoadState(ctx, st); !errors.Is(err, ErrBadState) || s != nil {
				t.Fatalf("got %v, %v; want ErrBadState", s, err)
			}
		})
	}
	t.Run("another generation", func(t *testing.T) {
		dir, st := baseAndTwoDeltas(t)
		stray := deltaKey(12345, 1)
		if err := st.Put(ctx, stray, []byte("left over"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		s := load(t, st)
		if r := s.Thumbs.Get("p/b000_200x200.jpg").Reads; r != 3 {
			t.Errorf("reads %d after a base and two deltas, want 3", r)
		}
		if err := SaveState(ctx, st, s); err != nil {
			t.Fatal(err)
		}
		if _, deltas := stateObjects(t, dir); slices.Contains(deltas, stray) {
			t.Errorf("the delta of another generation is still there: %v", deltas)
		}
	})
}

// TestFingerprintsCoverEveryField: a change to any field a thumbnail or
// an original saves changes its fingerprint, so no change is left out of
// a delta (a field added later without its fingerprint fails here).
func TestFingerprintsCoverEveryField(t *testing.T) {
	set := func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Int8, reflect.Int32, reflect.Int64:
			v.SetInt(1)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Float32:
			v.SetFloat(1)
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			if f := v.Index(0).Field(0); f.Kind() == reflect.Uint32 {
				f.SetUint(1)
			} else {
				f.SetInt(1)
			}
		default:
			t.Fatalf("field of kind %s: teach this test and the fingerprint", v.Kind())
		}
	}
	var zero Thumb
	tt := reflect.TypeFor[Thumb]()
	for i := range tt.NumField() {
		if !tt.Field(i).IsExported() {
			continue
		}
		var th Thumb
		set(reflect.ValueOf(&th).Elem().Field(i))
		if th.fingerprint() == zero.fingerprint() {
			t.Errorf("Thumb.%s is not in its fingerprint", tt.Field(i).Name)
		}
	}
	var zo Original
	fields := reflect.VisibleFields(reflect.TypeFor[Original]())
	for _, f := range fields {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		var o Original
		set(reflect.ValueOf(&o).Elem().FieldByIndex(f.Index))
		if o.fingerprint() == zo.fingerprint() {
			t.Errorf("Original.%s is not in its fingerprint", f.Name)
		}
		if f.Type.Kind() == reflect.Slice { // and each element's fields
			for j := range f.Type.Elem().NumField() {
				var o Original
				v := reflect.ValueOf(&o).Elem().FieldByIndex(f.Index)
				v.Set(reflect.MakeSlice(v.Type(), 1, 1))
				a := o.fingerprint()
				switch e := v.Index(0).Field(j); e.Kind() {
				case reflect.Uint32:
					e.SetUint(1)
				default:
					e.SetInt(1)
				}
				if o.fingerprint() == a {
					t.Errorf("Original.%s[].%s is not in its fingerprint", f.Name, f.Type.Elem().Field(j).Name)
				}
			}
		}
	}
}
