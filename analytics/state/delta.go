package state

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/s3thumb/s3thumb/internal/store"
)

// A state is kept as a base and deltas. The base (stateKey) is the whole
// state, in the binary format, with a random generation number. A run that
// loaded a base writes, instead of the whole state again, a delta: what
// changed in the run (the thumbnails and originals whose fields changed,
// the log objects read, the record identities added and the hours
// forgotten) and the parts that are small whole (times, totals, days, size
// classes, foreign originals), as the object
//
//	analyzer-state.delta.GENERATION.SEQUENCE.bin
//
// (the generation in hex, the sequence from 1, both fixed width). Loading
// reads the base and applies its generation's deltas in order. Each delta
// is one Put, which both stores make atomic: a run that stops before it
// changes nothing. A base is written again, with a new generation, when
// the deltas have grown to half the base, after maxDeltas of them, when
// compaction dropped rows, and for a state read in an older format; the
// deltas of other generations are left over from before it and removed.
// A run's cost in writes is then what changed, not the state's size.
const (
	deltaPrefix  = "analyzer-state.delta."
	deltaMagic   = "s3thumb analyzer delta\n"
	deltaVersion = 1
	maxDeltas    = 48
)

// deltaKey names delta seq of generation gen.
func deltaKey(gen uint64, seq int) string {
	return fmt.Sprintf("%s%016x.%08d.bin", deltaPrefix, gen, seq)
}

// parseDeltaKey reads a delta's generation and sequence from its key.
func parseDeltaKey(key string) (gen uint64, seq int, ok bool) {
	rest, found := strings.CutPrefix(key, deltaPrefix)
	if !found || !strings.HasSuffix(rest, ".bin") {
		return 0, 0, false
	}
	g, s, found := strings.Cut(strings.TrimSuffix(rest, ".bin"), ".")
	if !found || len(g) != 16 || len(s) != 8 {
		return 0, 0, false
	}
	gen, err := strconv.ParseUint(g, 16, 64)
	if err != nil {
		return 0, 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, 0, false
	}
	return gen, n, true
}

// listDeltas returns the keys of generation gen's deltas in order, and
// those of other generations.
func listDeltas(ctx context.Context, st store.Store, gen uint64) (mine, others []string, err error) {
	type delta struct {
		key string
		seq int
	}
	var ds []delta
	err = st.List(ctx, deltaPrefix, "", func(at store.Attrs) error {
		g, seq, ok := parseDeltaKey(at.Key)
		switch {
		case !ok:
		case g == gen:
			ds = append(ds, delta{at.Key, seq})
		default:
			others = append(others, at.Key)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list state deltas: %w", err)
	}
	slices.SortFunc(ds, func(a, b delta) int { return cmp.Compare(a.seq, b.seq) })
	for i, d := range ds {
		if d.seq != i+1 {
			return nil, nil, fmt.Errorf("%w: deltas of generation %016x: %s where delta %d should be (one removed by hand?)",
				ErrBadState, gen, d.key, i+1)
		}
		mine = append(mine, d.key)
	}
	return mine, others, nil
}

// ErrStateChanged means another run saved the state after this run read
// it: this run's save is refused, and it saved nothing.
var ErrStateChanged = errors.New("the analyzer state changed under this run")

// MarkRead records that the log object key, delivered at unix time at,
// has been read.
func (s *State) MarkRead(key string, at int64) {
	s.Done[key] = at
	if s.Seen.journal {
		s.doneNew = append(s.doneNew, key)
	}
}

// fpSeed seeds the fingerprints of strings; they are compared only within
// a process.
var fpSeed = maphash.MakeSeed()

func mix(h, v uint64) uint64 {
	h = (h ^ v) * 0x9E3779B97F4A7C15
	return h ^ h>>31
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// fingerprint is a hash of every field a thumbnail row saves: a row whose
// fingerprint is unchanged since the last save is not written again.
func (t *Thumb) fingerprint() uint64 {
	h := uint64(0x243F6A8885A308D3)
	for _, v := range [...]uint64{uint64(t.Reads), uint64(t.Misses), uint64(t.LastRead), uint64(t.Exists), uint64(t.Size),
		uint64(t.LastWrite), uint64(t.ExistsAt), uint64(t.FirstSeen), uint64(t.Pregen), boolBit(t.PregenRead),
		boolBit(t.PregenNew), uint64(t.RescueDue), uint64(t.Refresh), uint64(t.Role), uint64(t.JobAt), uint64(t.JobRead),
		uint64(math.Float32bits(t.JobExp)), uint64(t.JobWhy)} {
		h = mix(h, v)
	}
	return h
}

// fingerprint is Thumb.fingerprint for an original.
func (o *Original) fingerprint() uint64 {
	h := uint64(0x13198A2E03707344)
	for _, v := range [...]uint64{uint64(o.Reads), uint64(o.Misses), uint64(o.LastRead), uint64(len(o.Recent)), uint64(len(o.Clients)),
		maphash.String(fpSeed, o.Key), uint64(o.Direct), uint64(o.Uploaded), boolBit(o.Deleted), uint64(o.Found), uint64(o.Missing)} {
		h = mix(h, v)
	}
	for _, x := range o.Recent {
		h = mix(h, uint64(x.Day)<<32|uint64(uint32(x.N)))
	}
	for _, x := range o.Clients {
		h = mix(h, uint64(x.Day)<<32|uint64(x.ID))
	}
	return h
}

// saved makes what was just loaded or saved the point the next delta is
// taken from.
func (s *State) saved() {
	s.thumbFP = s.thumbFP[:0]
	for r := range int32(s.Thumbs.Len()) {
		s.thumbFP = append(s.thumbFP, s.Thumbs.Row(r).fingerprint())
	}
	s.origFP = s.origFP[:0]
	for _, o := range s.origs {
		s.origFP = append(s.origFP, o.fingerprint())
	}
	s.doneNew = s.doneNew[:0]
	s.Seen.startJournal()
	s.Asked.startJournal()
}

// changed returns the rows and originals whose fields changed since the
// last load or save.
func (s *State) changed() (rows []int32, origs []*Original) {
	for r := range int32(s.Thumbs.Len()) {
		if int(r) >= len(s.thumbFP) || s.Thumbs.Row(r).fingerprint() != s.thumbFP[r] {
			rows = append(rows, r)
		}
	}
	for _, o := range s.origs {
		if int(o.n) >= len(s.origFP) || o.fingerprint() != s.origFP[o.n] {
			origs = append(origs, o)
		}
	}
	return rows, origs
}

// newGeneration returns a random generation number, never 0.
func newGeneration() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}

// SaveState writes s to st: a delta when s was loaded from a base of this
// format and the deltas are still small, else a new base (see deltaPrefix).
func SaveState(ctx context.Context, st store.Store, s *State) error {
	if s.full || s.gen == 0 || !s.Seen.journal || len(s.deltas) >= maxDeltas || 2*s.deltaBytes > s.baseBytes {
		return s.saveBase(ctx, st)
	}
	b := encodeDelta(s, len(s.deltas)+1)
	key := deltaKey(s.gen, len(s.deltas)+1)
	// Never over another run's delta: a run whose lock was taken over
	// (slow, not dead) would otherwise replace the work of the one that
	// took it.
	err := st.Put(ctx, key, b, store.PutOptions{ContentType: "application/octet-stream", IfNoneMatch: true})
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%w: another run wrote %s since this one read the state (its lock taken over after --lock-ttl?): nothing saved; the next run reads this run's logs again", ErrStateChanged, key)
	}
	if err != nil {
		return fmt.Errorf("write state delta %s: %w", key, err)
	}
	s.deltas = append(s.deltas, key)
	s.deltaBytes += int64(len(b))
	s.saved()
	s.removeGarbage(ctx, st)
	return nil
}

// saveBase writes s whole, with a new generation, and then removes what
// it replaces: the deltas of the old one and a state in the old format,
// which LoadState would otherwise read no more.
func (s *State) saveBase(ctx context.Context, st store.Store) error {
	old := s.gen
	s.gen = newGeneration()
	b := encodeBinary(nil, s)
	// Only over the base this run read (or where there was none): as for
	// deltas, never over another run's.
	opts := store.PutOptions{ContentType: "application/octet-stream", IfMatch: s.baseETag, IfNoneMatch: s.baseETag == ""}
	err := st.Put(ctx, stateKey, b, opts)
	if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrChanged) {
		s.gen = old
		return fmt.Errorf("%w: another run wrote %s since this one read it (its lock taken over after --lock-ttl?): nothing saved; the next run reads this run's logs again", ErrStateChanged, stateKey)
	}
	if err != nil {
		s.gen = old
		return fmt.Errorf("write state %s: %w", stateKey, err)
	}
	s.baseETag = ""
	if at, err := st.Head(ctx, stateKey); err == nil {
		s.baseETag = at.ETag
	}
	if err := st.Delete(ctx, stateKeyV1); err != nil {
		return fmt.Errorf("remove the old state %s: %w", stateKeyV1, err)
	}
	s.garbage = append(s.garbage, s.deltas...)
	s.deltas, s.baseBytes, s.deltaBytes, s.full = nil, int64(len(b)), 0, false
	s.saved()
	s.removeGarbage(ctx, st)
	return nil
}

// removeGarbage removes deltas of other generations: the state no longer
// reads them, so one that stays (a failed delete) is only removed later.
func (s *State) removeGarbage(ctx context.Context, st store.Store) {
	var left []string
	for _, key := range s.garbage {
		if err := st.Delete(ctx, key); err != nil {
			left = append(left, key)
		}
	}
	s.garbage = left
}

// encodeDelta writes what changed in s since it was loaded or saved, as
// delta seq of its generation.
func encodeDelta(s *State, seq int) []byte {
	rows, origs := s.changed()
	e := &encoder{b: []byte(deltaMagic), base: s.Last}
	e.uvarint(deltaVersion)
	e.uvarint(s.gen)
	e.uvarint(uint64(seq))
	e.varint(s.Last)
	e.header(s)
	done := make(map[string]int64, len(s.doneNew))
	for _, k := range s.doneNew {
		if at, ok := s.Done[k]; ok { // not already past the watermark
			done[k] = at
		}
	}
	e.stamps(done)
	e.days(s.Days)
	e.uvarint(uint64(len(s.Classes)))
	for suffix, c := range s.Classes {
		e.str(suffix)
		e.counts(&c.Counts)
	}
	e.uvarint(uint64(len(origs)))
	for _, o := range origs {
		e.original(o)
	}
	e.uvarint(uint64(len(rows)))
	for _, r := range rows {
		e.str(s.Thumbs.Key(r))
		e.thumb(s.Thumbs.Row(r))
	}
	e.journal(s.Seen)
	e.journal(s.Asked)
	e.stamps(s.ForeignOriginals)
	return binary.LittleEndian.AppendUint32(e.b, crc32.Checksum(e.b, castagnoli))
}

// journal writes the hours a Seen forgot and the identities it added.
func (e *encoder) journal(s *Seen) {
	e.uvarint(uint64(len(s.forgotten)))
	for h := range s.forgotten {
		e.varint(h)
	}
	e.uvarint(uint64(len(s.added)))
	for h, ids := range s.added {
		e.varint(h)
		e.uvarint(uint64(len(ids)))
		for _, id := range ids {
			e.b = binary.LittleEndian.AppendUint64(e.b, id)
		}
	}
}

// journal applies what encoder.journal wrote: the hours forgotten first.
func (d *decoder) journal(s *Seen) {
	for range d.count(1) {
		h := d.varint()
		delete(s.hours, h)
	}
	for range d.count(2) {
		h := d.varint()
		n := d.count(8)
		if d.err != nil {
			return
		}
		m := s.hours[h]
		if m == nil {
			m = newIDSet(n)
			s.hours[h] = m
		}
		for i := range n {
			m.add(binary.LittleEndian.Uint64(d.b[8*i:]))
		}
		d.b = d.b[8*n:]
		s.sizeHint = max(s.sizeHint, m.len())
	}
	s.last = nil
}

// applyDelta applies delta seq of s's generation.
func applyDelta(s *State, b []byte, seq int) error {
	if !bytes.HasPrefix(b, []byte(deltaMagic)) || len(b) < len(deltaMagic)+4 {
		return fmt.Errorf("%w: not a state delta", ErrBadState)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checksum mismatch: cut short or changed", ErrBadState)
	}
	d := &decoder{b: body[len(deltaMagic):]}
	if v := d.uvarint(); v != deltaVersion {
		return fmt.Errorf("%w: delta version %d, want %d", ErrBadState, v, deltaVersion)
	}
	if gen, n := d.uvarint(), d.uvarint(); gen != s.gen || n != uint64(seq) {
		return fmt.Errorf("%w: delta %d of generation %016x where delta %d of %016x should be", ErrBadState, n, gen, seq, s.gen)
	}
	s.Last = d.varint()
	d.base = s.Last
	d.header(s)
	d.stamps(s.Done)
	for k, at := range s.Done {
		if at < s.Watermark {
			delete(s.Done, k)
		}
	}
	clear(s.Days)
	d.days(s.Days)
	for range d.count(6) {
		suffix := d.str()
		var c Counts
		d.counts(&c)
		if d.err != nil {
			break
		}
		if err := c.check(); err != nil {
			return fmt.Errorf("%w: delta %d: size class %q: %w", ErrBadState, seq, suffix, err)
		}
		s.Class(suffix).Counts = c
	}
	for range d.count(12) {
		var x Original
		stem := d.original(&x)
		if d.err != nil {
			break
		}
		if err := x.check(); err != nil {
			return fmt.Errorf("%w: delta %d: original %q: %w", ErrBadState, seq, stem, err)
		}
		o := s.Original(stem)
		x.stem, x.n = o.stem, o.n
		*o = x
	}
	for range d.count(19) {
		key := d.bytes()
		var th Thumb
		d.thumb(&th)
		if d.err != nil {
			break
		}
		k := string(key)
		stem, suffix, err := SplitThumb(k)
		if err != nil {
			return fmt.Errorf("%w: delta %d: thumbnail %q: %w", ErrBadState, seq, k, err)
		}
		r, ok := s.Thumbs.lookup(k)
		if !ok {
			r = s.Thumbs.AddRow(k, s.Thumbs.Keys.HashString(k), Thumb{})
		}
		th.orig, th.class = s.ownerOf(k, stem, th.Role), s.Class(suffix).n
		*s.Thumbs.Row(r) = th
	}
	d.journal(s.Seen)
	d.journal(s.Asked)
	clear(s.ForeignOriginals)
	d.stamps(s.ForeignOriginals)
	switch {
	case d.err != nil:
		return fmt.Errorf("%w: delta %d: %w", ErrBadState, seq, d.err)
	case len(d.b) != 0:
		return fmt.Errorf("%w: delta %d: %d bytes after it", ErrBadState, seq, len(d.b))
	}
	return nil
}

// renumber numbers the originals and size classes in key order again,
// as a base read whole numbers them, after deltas added some.
func (s *State) renumber() {
	byStem := func(a, b *Original) int { return strings.Compare(a.stem, b.stem) }
	if !slices.IsSortedFunc(s.origs, byStem) {
		slices.SortFunc(s.origs, byStem)
		to := make([]int32, len(s.origs)) // by old number
		for i, o := range s.origs {
			to[o.n], o.n = int32(i), int32(i)
		}
		for r := range int32(s.Thumbs.Len()) {
			t := s.Thumbs.Row(r)
			t.orig = to[t.orig]
		}
	}
	suffixes := slices.Sorted(maps.Keys(s.Classes))
	to := make([]int32, len(s.classes))
	moved := false
	for i, suffix := range suffixes {
		c := s.Classes[suffix]
		moved = moved || c.n != int32(i)
		to[c.n] = int32(i)
	}
	if !moved {
		return
	}
	for i, suffix := range suffixes {
		c := s.Classes[suffix]
		c.n = int32(i)
		s.classes[i] = c
	}
	for r := range int32(s.Thumbs.Len()) {
		t := s.Thumbs.Row(r)
		t.class = to[t.class]
	}
}

// loadDeltas applies the deltas of s's generation in st, and notes those
// of other generations for removal.
func (s *State) loadDeltas(ctx context.Context, st store.Store) error {
	mine, others, err := listDeltas(ctx, st, s.gen)
	if err != nil {
		return err
	}
	var buf []byte
	for i, key := range mine {
		obj, err := st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: delta %s listed, then gone: another run at work?", ErrBadState, key)
		}
		if err != nil {
			return fmt.Errorf("read state delta %s: %w", key, err)
		}
		buf, err = store.ReadAll(obj.Body, buf, maxStateBytes)
		obj.Body.Close()
		if err != nil {
			return fmt.Errorf("read state delta %s: %w", key, err)
		}
		if err := applyDelta(s, buf, i+1); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		s.deltaBytes += int64(len(buf))
	}
	s.deltas, s.garbage = mine, others
	// A delta at the end of the sequence cannot be missed by the listing
	// alone; the cursor, written after each save, names them all.
	if c, err := LoadCursor(ctx, st); err == nil && c != nil && c.Generation == s.gen {
		for _, key := range c.Deltas {
			if !slices.Contains(mine, key) {
				return fmt.Errorf("%w: %s, which the cursor names, is missing (removed by hand?)", ErrBadState, key)
			}
		}
	}
	s.renumber()
	return nil
}
