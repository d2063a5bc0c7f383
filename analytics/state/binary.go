package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// The state's own format (version 4): compact, read and written in one
// pass with no reflection, and checked whole. It is
//
//	magic "s3thumb analyzer state\n", version (uvarint), base (varint),
//	the parts in a fixed order (see encodeBinary), CRC-32C of all before (4 bytes, little-endian)
//
// Numbers are varints; times are 0 for none, else 1 + their zigzag
// distance in seconds from base (the newest record), so most take one to
// three bytes. A file cut short, changed or of another kind fails the
// checksum or the magic before anything in it is used.
const (
	binaryMagic = "s3thumb analyzer state\n"
	// BinaryVersion is the version written. 4 had no generation (see
	// State.Save); 3 no original and class numbers in thumbnails; 2 no
	// foreign originals.
	BinaryVersion = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// IsBinary reports whether b starts as the state's own format does.
func IsBinary(b []byte) bool { return bytes.HasPrefix(b, []byte(binaryMagic)) }

// encoder appends the format's values.
type encoder struct {
	b    []byte
	base int64
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) time(t int64) {
	if t == 0 {
		e.uvarint(0)
		return
	}
	d := t - e.base
	e.uvarint(uint64(d<<1^d>>63) + 1)
}

// decoder reads them; its first error sticks, and every read after it
// gives zero values.
type decoder struct {
	b    []byte
	base int64
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) uvarint() uint64 { return next(d, binary.Uvarint) }
func (d *decoder) varint() int64   { return next(d, binary.Varint) }

// next reads one number with read (binary.Uvarint or binary.Varint).
func next[T uint64 | int64](d *decoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.fail("a number cut short or too long")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items of at least min bytes each: one the rest
// of the input cannot hold is refused before anything is allocated.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/max(min, 1)) {
		d.fail("a count of %d items, more than the %d bytes left can hold", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// bytes reads a string as a view of the input, for a key the caller
// copies where it keeps it.
func (d *decoder) bytes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) flag() bool {
	switch v := d.uvarint(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("a flag of %d", v)
		return false
	}
}

func (d *decoder) time() int64 {
	v := d.uvarint()
	if v == 0 {
		return 0
	}
	z := v - 1
	return d.base + (int64(z>>1) ^ -int64(z&1))
}

func (d *decoder) int8() int8 {
	v := d.varint()
	if v < math.MinInt8 || v > math.MaxInt8 {
		d.fail("a small number of %d", v)
	}
	return int8(v)
}

func (d *decoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("a day or count of %d", v)
	}
	return int32(v)
}

// encodeBinary appends s in the state's own format.
func encodeBinary(dst []byte, s *State) []byte { return encodeVersion(dst, s, BinaryVersion) }

// encodeVersion appends s in version 3 or 4 of the format. Size classes and
// originals are written in key order, the order they are numbered in when
// read; from version 4 on each thumbnail names its original and class by
// those numbers, so that reading a state parses no key.
func encodeVersion(dst []byte, s *State, version uint64) []byte {
	// Room for all of it at once: growing a buffer of gigabytes by
	// doubling copies it over and over.
	dst = slices.Grow(dst, 96*s.Thumbs.Len()+128*len(s.Originals)+8*(s.Seen.Len()+s.Asked.Len())+64<<10)
	e := &encoder{b: append(dst, binaryMagic...), base: s.Last}
	e.uvarint(version)
	if version >= 5 {
		e.uvarint(s.gen)
	}
	e.varint(s.Last)
	e.header(s)
	e.stamps(s.Done)
	e.days(s.Days)
	suffixes := slices.Sorted(maps.Keys(s.Classes))
	classNo := make([]uint32, len(s.classes)) // by Class.n, its number as written
	e.uvarint(uint64(len(suffixes)))
	for i, suffix := range suffixes {
		c := s.Classes[suffix]
		classNo[c.n] = uint32(i)
		e.str(suffix)
		e.counts(&c.Counts)
	}
	origs := slices.SortedFunc(slices.Values(s.origs), func(a, b *Original) int { return strings.Compare(a.stem, b.stem) })
	origNo := make([]uint32, len(s.origs)) // by Original.n
	e.uvarint(uint64(len(origs)))
	for i, o := range origs {
		origNo[o.n] = uint32(i)
		e.original(o)
	}
	e.uvarint(uint64(s.Thumbs.Len()))
	for r := range int32(s.Thumbs.Len()) {
		e.str(s.Thumbs.Key(r))
		t := s.Thumbs.Row(r)
		e.thumb(t)
		if version >= 4 {
			e.uvarint(uint64(origNo[t.orig]))
			e.uvarint(uint64(classNo[t.class]))
		}
	}
	e.seen(s.Seen)
	e.seen(s.Asked)
	e.stamps(s.ForeignOriginals)
	return binary.LittleEndian.AppendUint32(e.b, crc32.Checksum(e.b[len(dst):], castagnoli))
}

// header writes the state's times and totals, after its Last.
func (e *encoder) header(s *State) {
	e.time(s.Watermark)
	e.time(s.First)
	e.varint(s.LastRun.UnixNano())
	e.time(s.Compacted)
	t := s.Totals
	for _, v := range [...]int64{t.Runs, t.LogObjects, t.Lines, t.Records, t.Malformed, t.Duplicates, t.JobsQueued, t.Deleted, t.BytesFreed} {
		e.varint(v)
	}
}

func (d *decoder) header(s *State) {
	s.Watermark = d.time()
	s.First = d.time()
	s.LastRun = time.Unix(0, d.varint()).UTC()
	s.Compacted = d.time()
	t := &s.Totals
	for _, p := range [...]*int64{&t.Runs, &t.LogObjects, &t.Lines, &t.Records, &t.Malformed, &t.Duplicates, &t.JobsQueued, &t.Deleted, &t.BytesFreed} {
		*p = d.varint()
	}
}

// stamps writes keys with a time each (log objects read, foreign
// originals).
func (e *encoder) stamps(m map[string]int64) {
	e.uvarint(uint64(len(m)))
	for k, at := range m {
		e.str(k)
		e.time(at)
	}
}

// stamps reads what encoder.stamps wrote into m.
func (d *decoder) stamps(m map[string]int64) {
	for range d.count(2) {
		k := d.str()
		m[k] = d.time()
	}
}

func (e *encoder) days(days map[int32]*Day) {
	e.uvarint(uint64(len(days)))
	for n, x := range days {
		e.varint(int64(n))
		for _, v := range [...]int64{x.Requests, x.Hits, x.Misses, x.Avoided, x.AvoidedNew, x.Rescued, x.Original, x.Crawler, x.Uploads, x.Written, x.Removed, x.Stored} {
			e.varint(v)
		}
	}
}

func (d *decoder) days(days map[int32]*Day) {
	for range d.count(13) {
		n := d.int32()
		x := &Day{}
		for _, p := range [...]*int64{&x.Requests, &x.Hits, &x.Misses, &x.Avoided, &x.AvoidedNew, &x.Rescued, &x.Original, &x.Crawler, &x.Uploads, &x.Written, &x.Removed, &x.Stored} {
			*p = d.varint()
		}
		days[n] = x
	}
}

// original writes an original with its stem.
func (e *encoder) original(o *Original) {
	e.str(o.stem)
	e.counts(&o.Counts)
	e.str(o.Key)
	e.varint(o.Direct)
	e.time(o.Uploaded)
	e.flag(o.Deleted)
	e.time(o.Found)
	e.time(o.Missing)
}

// original reads what encoder.original wrote into o, and returns the stem.
func (d *decoder) original(o *Original) string {
	stem := d.str()
	d.counts(&o.Counts)
	o.Key = d.str()
	o.Direct = d.varint()
	o.Uploaded = d.time()
	o.Deleted = d.flag()
	o.Found = d.time()
	o.Missing = d.time()
	return stem
}

func (e *encoder) counts(c *Counts) {
	e.varint(c.Reads)
	e.varint(c.Misses)
	e.time(c.LastRead)
	e.uvarint(uint64(len(c.Recent)))
	for _, x := range c.Recent {
		e.varint(int64(x.Day))
		e.varint(int64(x.N))
	}
	e.uvarint(uint64(len(c.Clients)))
	for _, x := range c.Clients {
		e.uvarint(uint64(x.ID))
		e.varint(int64(x.Day))
	}
}

func (e *encoder) thumb(t *Thumb) {
	e.varint(t.Reads)
	e.varint(t.Misses)
	e.time(t.LastRead)
	e.varint(int64(t.Exists))
	e.varint(t.Size)
	e.time(t.LastWrite)
	e.varint(t.ExistsAt)
	e.time(t.FirstSeen)
	e.time(t.Pregen)
	e.flag(t.PregenRead)
	e.flag(t.PregenNew)
	e.time(t.RescueDue)
	e.time(t.Refresh)
	e.varint(int64(t.Role))
	e.time(t.JobAt)
	e.time(t.JobRead)
	e.uvarint(uint64(math.Float32bits(t.JobExp)))
	e.varint(int64(t.JobWhy))
}

// seen writes each hour's identities as they lie in its table: 8 bytes
// each, little-endian, in no order (they are hashes: nothing smaller
// holds them, and sorting them would cost more than the rest).
func (e *encoder) seen(s *Seen) {
	e.uvarint(uint64(len(s.hours)))
	for h, m := range s.hours {
		e.varint(h)
		e.uvarint(uint64(m.len()))
		if m.zero {
			e.b = binary.LittleEndian.AppendUint64(e.b, 0)
		}
		for _, id := range m.slots {
			if id != 0 {
				e.b = binary.LittleEndian.AppendUint64(e.b, id)
			}
		}
	}
}

// decodeBinary reads a state encodeBinary wrote.
func decodeBinary(b []byte) (*State, error) {
	if !IsBinary(b) {
		return nil, fmt.Errorf("%w: not an analyzer state", ErrBadState)
	}
	if len(b) < len(binaryMagic)+4 {
		return nil, fmt.Errorf("%w: cut short", ErrBadState)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch: cut short or changed", ErrBadState)
	}
	d := &decoder{b: body[len(binaryMagic):]}
	version := d.uvarint()
	if version < 2 || version > BinaryVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadState, version, BinaryVersion)
	}
	s := NewState()
	if version >= 5 {
		s.gen = d.uvarint()
	}
	s.Last = d.varint()
	d.base = s.Last
	d.header(s)
	d.stamps(s.Done)
	d.days(s.Days)
	// Numbered as read, which is key order (checked): as link numbers them.
	prev := ""
	for i := range d.count(6) {
		suffix := d.str()
		c := &Class{n: int32(i)}
		d.counts(&c.Counts)
		if version >= 4 && i > 0 && suffix <= prev {
			d.fail("size class %q after %q: not in order", suffix, prev)
		}
		prev = suffix
		s.Classes[suffix] = c
		s.classes = append(s.classes, c)
	}
	prev = ""
	for i := range d.count(12) {
		o := &Original{n: int32(i)}
		stem := d.original(o)
		o.stem = stem
		if version >= 4 && i > 0 && stem <= prev {
			d.fail("original %q after %q: not in order", stem, prev)
		}
		prev = stem
		s.Originals[stem] = o
		s.origs = append(s.origs, o)
	}
	n := d.count(19)
	s.Thumbs.Keys.Reserve(n)
	for range n {
		key := d.bytes()
		var th Thumb
		d.thumb(&th)
		if version >= 4 {
			th.orig = d.number(len(s.origs), "original")
			th.class = d.number(len(s.classes), "size class")
		}
		if d.err != nil {
			break
		}
		r, _, added := FindOrAdd(&s.Thumbs.Keys, key, s.Thumbs.Keys.Hash(key))
		if !added {
			return nil, fmt.Errorf("%w: thumbnail %q twice", ErrBadState, key)
		}
		s.Thumbs.put(r, th)
	}
	d.seen(s.Seen)
	d.seen(s.Asked)
	if version >= 3 {
		d.stamps(s.ForeignOriginals)
	}
	switch {
	case d.err != nil:
		return nil, fmt.Errorf("%w: %w", ErrBadState, d.err)
	case len(d.b) != 0:
		return nil, fmt.Errorf("%w: %d bytes after the state", ErrBadState, len(d.b))
	}
	if version < 4 {
		// Numbered anew from the keys.
		s.origs, s.classes = nil, nil
		if err := s.link(); err != nil {
			return nil, err
		}
		return s, nil
	}
	for _, o := range s.origs {
		if err := o.check(); err != nil {
			return nil, fmt.Errorf("%w: original %q: %w", ErrBadState, o.stem, err)
		}
	}
	for suffix, c := range s.Classes {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("%w: size class %q: %w", ErrBadState, suffix, err)
		}
	}
	return s, nil
}

// number reads the number of one of n things.
func (d *decoder) number(n int, what string) int32 {
	v := d.uvarint()
	if v >= uint64(n) {
		d.fail("%s number %d of %d", what, v, n)
		return 0
	}
	return int32(v)
}

func (d *decoder) counts(c *Counts) {
	c.Reads = d.varint()
	c.Misses = d.varint()
	c.LastRead = d.time()
	if n := d.count(2); n > 0 {
		c.Recent = make([]DayCount, n)
		for i := range c.Recent {
			c.Recent[i] = DayCount{Day: d.int32(), N: d.int32()}
		}
	}
	if n := d.count(2); n > 0 {
		if n > MaxClients {
			d.fail("%d clients, more than %d", n, MaxClients)
			return
		}
		c.Clients = make([]ClientDay, n, MaxClients+1)
		for i := range c.Clients {
			id := d.uvarint()
			if id > math.MaxUint32 {
				d.fail("a client of %d", id)
			}
			c.Clients[i] = ClientDay{ID: uint32(id), Day: d.int32()}
		}
	}
}

func (d *decoder) thumb(t *Thumb) {
	t.Reads = d.varint()
	t.Misses = d.varint()
	t.LastRead = d.time()
	t.Exists = Existence(d.int8())
	t.Size = d.varint()
	t.LastWrite = d.time()
	t.ExistsAt = d.varint()
	t.FirstSeen = d.time()
	t.Pregen = d.time()
	t.PregenRead = d.flag()
	t.PregenNew = d.flag()
	t.RescueDue = d.time()
	t.Refresh = d.time()
	t.Role = Role(d.int8())
	t.JobAt = d.time()
	t.JobRead = d.time()
	bits := d.uvarint()
	if bits > math.MaxUint32 {
		d.fail("expected reads of %d bits", bits)
	}
	t.JobExp = math.Float32frombits(uint32(bits))
	t.JobWhy = JobWhy(d.int8())
	switch {
	case t.Reads < 0 || t.Misses < 0:
		d.fail("negative counts %d, %d", t.Reads, t.Misses)
	case t.Exists < Gone || t.Exists > Stored:
		d.fail("existence %d", t.Exists)
	case t.Role < RoleOriginal || t.Role > RoleThumbnail:
		d.fail("role %d", t.Role)
	case t.JobWhy < 0 || t.JobWhy > JobRefresh:
		d.fail("job kind %d", t.JobWhy)
	case !(t.JobExp >= 0) || math.IsInf(float64(t.JobExp), 0):
		d.fail("expected reads %v", t.JobExp)
	}
}

func (d *decoder) seen(s *Seen) {
	for range d.count(3) {
		h := d.varint()
		n := d.count(8)
		if d.err != nil {
			return
		}
		m := newIDSet(n)
		for i := range n {
			if !m.add(binary.LittleEndian.Uint64(d.b[8*i:])) {
				d.fail("a record identity of hour %d twice", h)
				return
			}
		}
		d.b = d.b[8*n:]
		if _, dup := s.hours[h]; dup {
			d.fail("hour %d twice", h)
		}
		s.hours[h] = m
		s.sizeHint = max(s.sizeHint, m.len())
	}
}
