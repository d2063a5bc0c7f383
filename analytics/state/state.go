// Package state is what the analyzer keeps between runs: per-thumbnail,
// per-original, per-class and per-day counts, the log objects read and the
// identities of recent records, in compact tables (Thumbs, KeyTable, Seen),
// with how the state is loaded from and saved to the analyzer's store.
// Aggregation and decisions over it live in package analytics.
package state

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/internal/layout"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// StateVersion is the version of the state object this package writes.
const StateVersion = 1

// ErrBadState means the state object exists but cannot be read: corrupt,
// or written by an unknown version. The analyzer refuses to go on rather
// than count everything again.
var ErrBadState = errors.New("unreadable analyzer state")

// Counts are requests for one thumbnail, original or size class.
type Counts struct {
	Reads    int64 `json:"reads,omitempty"`  // requests answered with the object
	Misses   int64 `json:"misses,omitempty"` // requests for a thumbnail that was not there
	LastRead int64 `json:"last,omitempty"`   // unix seconds of the newest request, 0 for none
	// Recent holds the requests per day (days since 1970-01-01 UTC) for the
	// days the decisions look back on, oldest first.
	Recent []DayCount `json:"recent,omitempty"`
	// Clients holds distinct clients that asked, up to MaxClients, each
	// with the last day it did: enough to tell one client (or a few) from
	// many, which is all popularity needs.
	Clients []ClientDay `json:"clients,omitempty"`
}

// MaxClients is how many distinct clients Counts remembers.
const MaxClients = 8

// ClientDay is a client (32 bits of accesslog.ClientOf's identity) and the
// last day it asked.
type ClientDay struct {
	ID  uint32 `json:"id"`
	Day int32  `json:"d"`
}

// AddClient records that client (0: unknown, not recorded) asked on day.
// The clients held are the MaxClients latest by the last day each asked
// (then by identity), kept in that order: whatever order records come in,
// the same records leave the same clients.
func (c *Counts) AddClient(client uint64, day int32) {
	if client == 0 {
		return
	}
	x := ClientDay{ID: uint32(client>>32) | 1, Day: day} // never 0
	held := -1
	for i, y := range c.Clients {
		if y.ID == x.ID {
			if y.Day >= day {
				return
			}
			held = i
			break
		}
	}
	if held < 0 && len(c.Clients) == MaxClients && compareClientDay(x, c.Clients[0]) < 0 {
		return // earlier than every client held (the common case once full)
	}
	if held >= 0 {
		c.Clients = slices.Delete(c.Clients, held, held+1)
	}
	if c.Clients == nil {
		c.Clients = make([]ClientDay, 0, MaxClients+1) // one allocation, ever
	}
	i, _ := slices.BinarySearchFunc(c.Clients, x, compareClientDay)
	c.Clients = slices.Insert(c.Clients, i, x)
	if len(c.Clients) > MaxClients {
		c.Clients = slices.Delete(c.Clients, 0, 1) // the earliest
	}
}

func compareClientDay(a, b ClientDay) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.ID, b.ID))
}

// ClientsSince counts the distinct clients held that asked on day first or
// later (at most MaxClients).
func (c *Counts) ClientsSince(first int32) int {
	n := 0
	for _, x := range c.Clients {
		if x.Day >= first {
			n++
		}
	}
	return n
}

// DayCount is a number of requests on one day.
type DayCount struct {
	Day int32 `json:"d"`
	N   int32 `json:"n"`
}

// Add counts one request at unix time t on day.
func (c *Counts) Add(t int64, day int32, miss bool) {
	if miss {
		c.Misses++
	} else {
		c.Reads++
	}
	if t > c.LastRead {
		c.LastRead = t
	}
	n := len(c.Recent)
	switch {
	case n > 0 && c.Recent[n-1].Day == day:
		c.Recent[n-1].N++
	case n == 0 || c.Recent[n-1].Day < day:
		c.Recent = append(c.Recent, DayCount{Day: day, N: 1})
	default: // a late record: find or insert its day
		i := n - 1
		for i > 0 && c.Recent[i-1].Day >= day {
			i--
		}
		if c.Recent[i].Day == day {
			c.Recent[i].N++
			return
		}
		c.Recent = append(c.Recent, DayCount{})
		copy(c.Recent[i+1:], c.Recent[i:])
		c.Recent[i] = DayCount{Day: day, N: 1}
	}
}

// Since sums the requests on days from first on.
func (c *Counts) Since(first int32) int64 {
	var n int64
	for i := len(c.Recent) - 1; i >= 0 && c.Recent[i].Day >= first; i-- {
		n += int64(c.Recent[i].N)
	}
	return n
}

// remove takes back requests counted before, made from day first to day
// last: reads and misses from the totals, and from the per-day counts the
// share of them that fell on the days still kept (assuming they were spread
// evenly), newest first from day last. The per-day counts do not say whose
// requests they were, so this is an estimate; it never takes back requests
// of days before first.
func (c *Counts) remove(reads, misses int64, first, last int32) {
	c.Reads = max(c.Reads-reads, 0)
	c.Misses = max(c.Misses-misses, 0)
	n := reads + misses
	if len(c.Recent) > 0 {
		if kept := c.Recent[0].Day; kept > first && last >= first {
			n = (n*int64(last-max(kept, first)+1) + int64(last-first)) / int64(last-first+1)
		}
	}
	for i := len(c.Recent) - 1; i >= 0 && n > 0; i-- {
		d := &c.Recent[i]
		if d.Day > last {
			continue
		}
		if d.Day < first {
			break
		}
		take := min(int64(d.N), n)
		d.N -= int32(take)
		n -= take
	}
	c.Recent = slices.DeleteFunc(c.Recent, func(d DayCount) bool { return d.N == 0 })
	if len(c.Recent) == 0 {
		c.Recent = nil
	}
}

// prune drops the days before first.
func (c *Counts) prune(first int32) {
	i := 0
	for i < len(c.Recent) && c.Recent[i].Day < first {
		i++
	}
	if i > 0 {
		c.Recent = append(c.Recent[:0], c.Recent[i:]...)
	}
	if len(c.Recent) == 0 {
		c.Recent = nil
	}
	c.Clients = slices.DeleteFunc(c.Clients, func(x ClientDay) bool { return x.Day < first })
	if len(c.Clients) == 0 {
		c.Clients = nil
	}
}

// Existence is what the logs say about whether a thumbnail is stored.
type Existence int8

// Existence values.
const (
	Unknown Existence = 0
	Stored  Existence = 1
	Gone    Existence = -1
)

// Role is what the state knows a key named like a thumbnail to be. A key
// is a thumbnail only if it carries the thumbnail tag (package thumbtag);
// the logs tell part of it (who wrote the key), the tag the rest.
type Role int8

// Roles.
const (
	// RoleUnknown: no write of it seen, its tag not checked.
	RoleUnknown Role = 0
	// RoleThumbnail: s3thumb wrote it (its user agent in the logs), or it
	// carries the thumbnail tag.
	RoleThumbnail Role = 1
	// RoleOriginal: somebody else uploaded it, or it is stored without the
	// tag: an original named like a thumbnail. Its requests count for no
	// size class and no original of its stem, and nothing is queued for it.
	RoleOriginal Role = -1
)

// JobWhy is the kind of reason a job was queued for, as the analyzer
// calibrates them apart.
type JobWhy int8

// Kinds of job.
const (
	JobHot     JobWhy = 1 // a popular class of a hot original, or one gone and still read
	JobNew     JobWhy = 2 // a popular class of a new upload
	JobRefresh JobWhy = 3 // written again before the lifecycle rule expires it
)

// Thumb is what the state knows about one thumbnail key. It holds no
// pointers: the state keeps millions of them in blocks (see Thumbs).
type Thumb struct {
	Reads     int64     `json:"reads,omitempty"`  // requests answered with the object
	Misses    int64     `json:"misses,omitempty"` // requests for it while it was not there
	LastRead  int64     `json:"last,omitempty"`   // unix seconds of the newest request, 0 for none
	Exists    Existence `json:"exists,omitempty"`
	Size      int64     `json:"size,omitempty"`      // bytes, from its last write or read
	LastWrite int64     `json:"write,omitempty"`     // unix seconds
	ExistsAt  int64     `json:"exists_at,omitempty"` // unix seconds of the record Exists is from, times 8, plus its strength
	FirstSeen int64     `json:"seen,omitempty"`      // unix seconds of its first record
	// Pregen is when the analyzer queued it; PregenRead that a client read
	// it after that while it had not been read before (a miss avoided).
	Pregen     int64 `json:"pregen,omitempty"`
	PregenRead bool  `json:"pregen_read,omitempty"`
	PregenNew  bool  `json:"pregen_new,omitempty"` // queued as a new upload's
	// RescueDue is when the lifecycle rule would have expired it but for
	// the refresh last queued: its first read from then on, once a write
	// after the queueing has shown in the logs, is a miss the refresh
	// avoided.
	RescueDue int64 `json:"rescue,omitempty"`
	// Refresh is when the analyzer last queued a refresh of it (see
	// Config.ExpireDays).
	Refresh int64 `json:"refresh,omitempty"`
	Role    Role  `json:"role,omitempty"`
	// The last job queued for it, the analyzer's own feedback: when
	// (unix seconds), why (a JobWhy), how many reads it expected in the
	// next window, and when people first read it after (0: not yet).
	JobAt   int64   `json:"job_at,omitempty"`
	JobRead int64   `json:"job_read,omitempty"`
	JobExp  float32 `json:"job_exp,omitempty"`
	JobWhy  JobWhy  `json:"job_why,omitempty"`

	// Numbers in State.origs and State.classes. For a RoleOriginal key,
	// orig is the original the key itself names.
	orig, class int32
}

// Add counts one request at unix time t.
func (t *Thumb) Add(at int64, miss bool) {
	if miss {
		t.Misses++
	} else {
		t.Reads++
	}
	t.LastRead = max(t.LastRead, at)
}

// Original is what the state knows about one original, by its key without
// extension (the stem thumbnails are named after).
type Original struct {
	Counts          // thumbnail requests for it
	Key      string `json:"key,omitempty"`      // full key, when seen itself
	Direct   int64  `json:"direct,omitempty"`   // requests for the original itself
	Uploaded int64  `json:"uploaded,omitempty"` // unix seconds of its last upload seen
	Deleted  bool   `json:"deleted,omitempty"`
	// Found and Missing are the last times (unix seconds) something showed
	// the original stored (an upload, a read of it, a HEAD) and not stored
	// (a 404 for it, a HEAD under every extension). The later one says
	// which it is now; nothing is queued while it is missing.
	Found   int64 `json:"found,omitempty"`
	Missing int64 `json:"missing,omitempty"`
	stem    string
	n       int32 // number in State.origs
}

// Class is a size class: everything in a thumbnail key after the
// original's name ("_200x200_fit@2x.webp").
type Class struct {
	Counts
	n int32 // number in State.classes
}

// Day counts one UTC day's requests, for the report's charts.
type Day struct {
	Requests int64 `json:"requests,omitempty"` // thumbnail requests: hits + misses
	Hits     int64 `json:"hits,omitempty"`
	Misses   int64 `json:"misses,omitempty"`
	// Avoided counts first reads of thumbnails the analyzer had queued:
	// requests that would have been misses; AvoidedNew those of them queued
	// for new uploads (the rest for hot originals, or made again). Rescued
	// counts first reads of refreshed thumbnails after the lifecycle rule
	// would have expired them: misses the refreshes avoided.
	Avoided    int64 `json:"avoided,omitempty"`
	AvoidedNew int64 `json:"avoided_new,omitempty"`
	Rescued    int64 `json:"rescued,omitempty"`
	Original   int64 `json:"original,omitempty"` // requests for originals
	// Crawler counts thumbnail requests from crawlers (accesslog.IsCrawler),
	// which are not in Requests: they are not people's demand.
	Crawler int64 `json:"crawler,omitempty"`
	Uploads int64 `json:"uploads,omitempty"`
	Written int64 `json:"written,omitempty"` // thumbnails written
	Removed int64 `json:"removed,omitempty"` // thumbnails deleted or expired
	// Stored is how many thumbnails the state knew to be stored at the end of
	// the last run that saw records of this day (0: no such run).
	Stored int64 `json:"stored,omitempty"`
}

// Add adds the counts of o to d: the same day of another shard.
func (d *Day) Add(o Day) {
	for _, p := range [...]struct {
		to *int64
		v  int64
	}{{&d.Requests, o.Requests}, {&d.Hits, o.Hits}, {&d.Misses, o.Misses},
		{&d.Avoided, o.Avoided}, {&d.AvoidedNew, o.AvoidedNew}, {&d.Rescued, o.Rescued}, {&d.Original, o.Original},
		{&d.Crawler, o.Crawler}, {&d.Uploads, o.Uploads}, {&d.Written, o.Written}, {&d.Removed, o.Removed}, {&d.Stored, o.Stored}} {
		*p.to += p.v
	}
}

// Totals are counts over every run.
type Totals struct {
	Runs       int64 `json:"runs"`
	LogObjects int64 `json:"log_objects"`
	Lines      int64 `json:"lines"`
	Records    int64 `json:"records"`
	Malformed  int64 `json:"malformed"`
	Duplicates int64 `json:"duplicates"`
	JobsQueued int64 `json:"jobs_queued"`
	Deleted    int64 `json:"deleted"`
	BytesFreed int64 `json:"bytes_freed"`
}

// State is everything the analyzer keeps between runs. One run loads it,
// adds the records of the log objects it has not read yet, and writes it
// back whole, so a run that stops early changes nothing.
type State struct {
	Version int `json:"version"`
	// Done lists the log objects read, by key, with their delivery time in
	// unix seconds. Objects older than Watermark are dropped from it and
	// taken as read: S3 names log objects by delivery time, so none can
	// appear that far back.
	Done      map[string]int64 `json:"done"`
	Watermark int64            `json:"watermark,omitempty"`
	// First and Last are the unix seconds of the oldest and newest record.
	First int64 `json:"first,omitempty"`
	Last  int64 `json:"last,omitempty"`
	// LastRun is when the previous run finished.
	LastRun time.Time `json:"last_run"`
	// Compacted is when thumbnails, originals and classes that left the
	// window were last dropped (unix seconds; see compact).
	Compacted int64 `json:"compacted,omitempty"`

	Thumbs    *Thumbs              `json:"thumbs"`
	Originals map[string]*Original `json:"originals"` // by stem
	Classes   map[string]*Class    `json:"classes"`   // by suffix
	Days      map[int32]*Day       `json:"days"`      // by days since 1970-01-01 UTC
	Totals    Totals               `json:"totals"`
	// Seen holds identities of the records of recent hours, to drop
	// records S3 delivers twice.
	Seen *Seen `json:"seen"`
	// Asked holds, for the recent days, an identity per thumbnail request
	// counted as demand: (client, original, day, its number), filed under
	// the day's first hour, so that a client's requests for an original
	// count up to a cap a day, across runs (see analytics.Aggregator).
	Asked *Seen `json:"asked,omitempty"`
	// ForeignOriginals holds, for a shard (see analytics.Shard), the keys
	// named like thumbnails of originals other shards own that people
	// uploaded (by the logs), with when: originals, whose reads count for
	// no size class here either.
	ForeignOriginals map[string]int64 `json:"foreign_originals,omitempty"`

	// The originals and classes by number, for Thumb.orig and Thumb.class.
	origs   []*Original
	classes []*Class

	// What Save needs to write a delta (see delta.go): the base's
	// generation and the deltas on it, whether the next save must write a
	// base, and the log objects marked read and the rows' fingerprints
	// since the last load or save.
	gen        uint64
	baseETag   string // of the base as loaded ("": none), which a new base must replace
	deltas     []string
	baseBytes  int64
	deltaBytes int64
	full       bool
	doneNew    []string
	thumbFP    []uint64 // by row
	origFP     []uint64 // by Original.n
	garbage    []string // deltas of other generations, removed by the next save
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		Version:   StateVersion,
		Done:      make(map[string]int64),
		Thumbs:    newThumbs(),
		Originals: make(map[string]*Original),
		Classes:   make(map[string]*Class),
		Days:      make(map[int32]*Day),
		Seen:      NewSeen(),
		Asked:     NewSeen(),

		ForeignOriginals: make(map[string]int64),
	}
}

// link checks what JSON cannot (no missing entries, per-day counts in
// order) and restores the pointers from thumbnails to their originals and
// classes after decoding.
func (s *State) link() error {
	// Numbered in key order, so that the same state gives the same numbers.
	for _, stem := range slices.Sorted(maps.Keys(s.Originals)) {
		o := s.Originals[stem]
		if o == nil {
			return fmt.Errorf("%w: original %q: no entry", ErrBadState, stem)
		}
		if err := o.check(); err != nil {
			return fmt.Errorf("%w: original %q: %w", ErrBadState, stem, err)
		}
		o.stem, o.n = stem, int32(len(s.origs))
		s.origs = append(s.origs, o)
	}
	for _, suffix := range slices.Sorted(maps.Keys(s.Classes)) {
		c := s.Classes[suffix]
		if c == nil {
			return fmt.Errorf("%w: size class %q: no entry", ErrBadState, suffix)
		}
		if err := c.check(); err != nil {
			return fmt.Errorf("%w: size class %q: %w", ErrBadState, suffix, err)
		}
		c.n = int32(len(s.classes))
		s.classes = append(s.classes, c)
	}
	for d, x := range s.Days {
		if x == nil {
			return fmt.Errorf("%w: day %d: no entry", ErrBadState, d)
		}
	}
	for r := range int32(s.Thumbs.Len()) {
		key := s.Thumbs.Key(r)
		stem, suffix, err := SplitThumb(key)
		if err != nil {
			return fmt.Errorf("%w: thumbnail %q: %w", ErrBadState, key, err)
		}
		t := s.Thumbs.Row(r)
		t.orig, t.class = s.ownerOf(key, stem, t.Role), s.Class(suffix).n
	}
	return nil
}

// ownerOf is the number of the original a row of key counts for: the
// original the key itself names, for an original named like a thumbnail
// (no original is made for the stem it would be a thumbnail of, which
// compaction would drop and link make again), else that of its stem.
func (s *State) ownerOf(key, stem string, r Role) int32 {
	if r == RoleOriginal {
		return s.Original(originalStem(key)).n
	}
	return s.Original(stem).n
}

// originalStem is an original's key without its extension.
func originalStem(key string) string {
	if o, ok := thumbkey.ParseOriginal(key); ok {
		return key[:len(o.Stem())]
	}
	return key
}

// SetRole records what key, thumbnail number t, is. A key that turns out to
// be an original has the requests counted for it taken back from its class
// and from the original of its stem, and becomes an original of its own; a
// key that becomes a thumbnail again (s3thumb wrote it after the original
// was removed) counts as one from then on.
func (s *State) SetRole(t *Thumb, key string, r Role) {
	if t.Role == r {
		return
	}
	switch r {
	case RoleOriginal:
		if t.Role != RoleOriginal && t.Reads+t.Misses > 0 {
			first, last := DayOf(t.FirstSeen), DayOf(t.LastRead)
			s.classes[t.class].remove(t.Reads, t.Misses, first, last)
			s.origs[t.orig].remove(t.Reads, t.Misses, first, last)
		}
		o := s.Original(strings.Clone(originalStem(key)))
		if o.Key == "" {
			o.Key = strings.Clone(key)
		}
		t.orig = o.n
	default:
		if t.Role == RoleOriginal {
			stem, _, _ := SplitThumb(key)
			t.orig = s.Original(stem).n
		}
	}
	t.Role = r
}

// check reports counts no run can have written.
func (c *Counts) check() error {
	if c.Reads < 0 || c.Misses < 0 {
		return fmt.Errorf("negative counts %d, %d", c.Reads, c.Misses)
	}
	for i, d := range c.Recent {
		if d.N < 0 || i > 0 && d.Day <= c.Recent[i-1].Day {
			return fmt.Errorf("per-day counts out of order or negative at %d", i)
		}
	}
	return nil
}

// Original returns the Original with this stem, adding it if new.
func (s *State) Original(stem string) *Original {
	o := s.Originals[stem]
	if o == nil {
		o = &Original{stem: stem, n: int32(len(s.origs))}
		s.Originals[stem] = o
		s.origs = append(s.origs, o)
	}
	return o
}

// Class returns the size Class with this suffix, adding it if new.
func (s *State) Class(suffix string) *Class {
	c := s.Classes[suffix]
	if c == nil {
		c = &Class{n: int32(len(s.classes))}
		s.Classes[suffix] = c
		s.classes = append(s.classes, c)
	}
	return c
}

// Day returns the counters of Day d, adding them if new.
func (s *State) Day(d int32) *Day {
	x := s.Days[d]
	if x == nil {
		x = &Day{}
		s.Days[d] = x
	}
	return x
}

// StoredCount is how many thumbnails the state knows to be stored.
func (s *State) StoredCount() (n, bytes int64) {
	for _, t := range s.Thumbs.All() {
		if t.Exists == Stored {
			n++
			bytes += t.Size
		}
	}
	return n, bytes
}

// Prune forgets what no decision needs any more: per-day request counts
// older than keepDays before the newest record, log objects older than
// the watermark, and record identities outside the duplicate window.
func (s *State) Prune(keepDays int, dedupe time.Duration) {
	if s.Last == 0 {
		return
	}
	first := DayOf(s.Last) - int32(keepDays)
	for _, o := range s.Originals {
		o.prune(first)
	}
	for _, c := range s.Classes {
		c.prune(first)
	}
	var newest int64
	for _, at := range s.Done {
		newest = max(newest, at)
	}
	if mark := newest - int64(DoneFor/time.Second); mark > s.Watermark {
		s.Watermark = mark
		for k, at := range s.Done {
			if at < mark {
				delete(s.Done, k)
			}
		}
	}
	s.Seen.Prune(s.Last - int64(dedupe/time.Second))
	s.Asked.Prune(s.Last - int64(dedupe/time.Second))
}

// compactEvery is how often compact runs: it rebuilds the thumbnails'
// table, which costs about what loading the state does.
const compactEvery = 24 * time.Hour

// Compact forgets the thumbnails, originals and size classes that left the
// window at now and hold nothing a decision needs, once per compactEvery:
// a thumbnail not stored with no record, queueing or refresh in the window
// (one-off sizes, scanners' guesses, thumbnails long deleted); a class with
// no requests in the window and no thumbnail left; an original known only
// by such thumbnails (never seen itself, no missing check in force).
// What comes back is counted from scratch. It returns how many thumbnails
// it dropped.
func (s *State) Compact(now time.Time, window time.Duration) (int, error) {
	if now.Unix()-s.Compacted < int64(compactEvery/time.Second) {
		return 0, nil
	}
	s.Compacted = now.Unix()
	cutoff := now.Add(-window).Unix()
	keep := make([]bool, s.Thumbs.Len())
	dropped := 0
	usedOrig := make([]bool, len(s.origs))
	usedClass := make([]bool, len(s.classes))
	for r := range int32(len(keep)) {
		t := s.Thumbs.Row(r)
		last := max(t.LastRead, t.LastWrite, t.FirstSeen, t.Pregen, t.Refresh, t.ExistsAt/8)
		// An original named like a thumbnail stays known as one.
		if t.Exists == Stored || t.Role == RoleOriginal || last >= cutoff {
			keep[r] = true
			usedOrig[t.orig], usedClass[t.class] = true, true
			continue
		}
		dropped++
	}
	first := DayOf(cutoff)
	var staleOrigs, staleClasses []string
	for stem, o := range s.Originals {
		if !usedOrig[o.n] && o.Since(first) == 0 && o.Key == "" && o.Direct == 0 && o.Uploaded == 0 && !o.Deleted &&
			now.Unix()-o.Missing >= int64(MissingRecheck/time.Second) {
			staleOrigs = append(staleOrigs, stem)
		}
	}
	for suffix, c := range s.Classes {
		if !usedClass[c.n] && c.Since(first) == 0 {
			staleClasses = append(staleClasses, suffix)
		}
	}
	if dropped == 0 && len(staleOrigs) == 0 && len(staleClasses) == 0 {
		return 0, nil
	}
	kept := newThumbs()
	for r, k := range keep {
		if k {
			kept.Add(s.Thumbs.Key(int32(r)), *s.Thumbs.Row(int32(r)))
		}
	}
	for _, stem := range staleOrigs {
		delete(s.Originals, stem)
	}
	for _, suffix := range staleClasses {
		delete(s.Classes, suffix)
	}
	s.Thumbs, s.origs, s.classes = kept, nil, nil
	s.full = true // rows renumbered: the next save writes a base
	if err := s.link(); err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	return dropped, nil
}

// stateKey is the object the state is kept in; stateKeyV1 where builds
// before the binary format kept it.
const (
	stateKey   = layout.AnalyzerState
	stateKeyV1 = layout.AnalyzerStateV1
)

// maxStateBytes bounds what LoadState reads: far more than a state of a
// hundred million thumbnails.
const maxStateBytes = 16 << 30

// LoadState reads the state from st; a store without one gives an empty
// state. A state only in the old format (gzip JSON) is read from there.
func LoadState(ctx context.Context, st store.Store) (*State, error) {
	key := stateKey
	obj, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		key = stateKeyV1
		obj, err = st.Get(ctx, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		// No state, unless deltas were left without their base.
		if _, deltas, err := listDeltas(ctx, st, 0); err != nil { // generation 0 is none: all are others
			return nil, err
		} else if len(deltas) > 0 {
			return nil, fmt.Errorf("%w: %s is missing but %s (of %d deltas) is there: remove every analyzer-state.* object to start over",
				ErrBadState, stateKey, deltas[0], len(deltas))
		}
		return NewState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", key, err)
	}
	defer obj.Body.Close()
	var buf []byte
	if obj.Size > 0 && obj.Size <= maxStateBytes {
		buf = make([]byte, 0, obj.Size+bytes.MinRead) // read once, not grown by doubling
	}
	b, err := store.ReadAll(obj.Body, buf, maxStateBytes)
	if errors.Is(err, store.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadState, key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", key, err)
	}
	s, err := DecodeState(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	s.baseBytes = int64(len(b))
	if key == stateKey {
		s.baseETag = obj.ETag
	}
	if s.gen == 0 {
		s.full = true // an older format: the next save writes a base
	} else if err := s.loadDeltas(ctx, st); err != nil {
		return nil, err
	}
	s.saved()
	return s, nil
}

// DecodeState reads a state EncodeState wrote, or one in the old format:
// JSON, plain or gzip.
func DecodeState(r io.Reader) (*State, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	switch {
	case IsBinary(b):
		return decodeBinary(b)
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadState, err)
		}
		return decodeJSON(zr) // reads to the end, where gzip checks its checksum
	}
	return decodeJSON(bytes.NewReader(b))
}

// decodeJSON reads a state in the old format (version 1, JSON).
func decodeJSON(r io.Reader) (*State, error) {
	s := &State{} // every part must be in the input
	dec := json.NewDecoder(r)
	if err := decodeFields(dec, s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fmt.Errorf("%w: after the state: %w", ErrBadState, err)
	default:
		return nil, fmt.Errorf("%w: more after the state", ErrBadState)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadState, s.Version, StateVersion)
	}
	for _, m := range []bool{s.Done == nil, s.Thumbs == nil, s.Originals == nil, s.Classes == nil, s.Days == nil, s.Seen == nil} {
		if m {
			return nil, fmt.Errorf("%w: a part is missing", ErrBadState)
		}
	}
	if s.Asked == nil { // a state from before the client cap
		s.Asked = NewSeen()
	}
	if s.ForeignOriginals == nil {
		s.ForeignOriginals = make(map[string]int64)
	}
	if err := s.link(); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeFields reads the state's JSON object into s a field at a time, by
// the fields' JSON names: the thumbnails, most of it, go straight into
// their table and are never held whole as JSON. Unknown fields are
// skipped.
func decodeFields(dec *json.Decoder, s *State) error {
	fields := make(map[string]any)
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && name != "" && name != "-" {
			fields[name] = v.Field(i).Addr().Interface()
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("want an object (%v)", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string) // object keys are strings
		switch p, ok := fields[name]; {
		case name == "thumbs":
			s.Thumbs = newThumbs()
			err = s.Thumbs.decode(dec)
		case ok:
			err = dec.Decode(p)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	_, err := dec.Token()
	return err
}

// EncodeState writes s in the state's own format (see encodeBinary).
func EncodeState(w io.Writer, s *State) error {
	_, err := w.Write(encodeBinary(nil, s))
	return err
}

// DoneFor is how long log object keys are remembered one by one; older
// ones are covered by the watermark.
const DoneFor = 7 * 24 * time.Hour

// MissingRecheck is how long an original found missing is taken as
// missing before it is looked for again (an upload in the logs ends it at
// once).
const MissingRecheck = 24 * time.Hour

// SplitThumb splits a thumbnail key into the original's stem (folder and
// name) and the size class suffix.
func SplitThumb(key string) (stem, suffix string, err error) {
	k, err := thumbkey.Parse(key)
	if err != nil {
		return "", "", err
	}
	n := len(k.Dir) + len(k.Name)
	return key[:n], key[n:], nil
}

// Thumb returns the state's thumbnail for key, adding it if new, or nil
// when key is not a thumbnail key.
func (s *State) Thumb(key string) *Thumb {
	if t := s.Thumbs.Get(key); t != nil {
		return t
	}
	stem, suffix, err := SplitThumb(key)
	if err != nil {
		return nil
	}
	return s.Thumbs.Add(key, s.NewThumb(stem, suffix))
}

// NewThumb is a new thumbnail of the original stem in class suffix.
func (s *State) NewThumb(stem, suffix string) Thumb {
	return Thumb{orig: s.Original(stem).n, class: s.Class(suffix).n}
}

// DayOf is the day number (since 1970-01-01 UTC) of unix time t.
func DayOf(t int64) int32 {
	if t < 0 {
		return int32((t - 86399) / 86400)
	}
	return int32(t / 86400)
}

// What a record says about a thumbnail's existence, weakest first: of
// records of the same second, the stronger decides, whatever order they are
// read in (a miss and the write after it often share a second).
const (
	ByMiss int64 = iota
	ByRead
	ByWrite
	ByRemoval
	ByCheck // the analyzer looked at the object itself
)

// SetExists records what a record at unix time at says about the
// thumbnail, unless a later (or as late and stronger) record has said
// otherwise already.
func (t *Thumb) SetExists(e Existence, at, by int64) bool {
	if v := at*8 + by; v >= t.ExistsAt {
		t.Exists, t.ExistsAt = e, v
		return true
	}
	return false
}

// ErrUnknownKey is returned for a key the state holds nothing about.
var ErrUnknownKey = errors.New("key not in the analyzer state")

// ThumbState returns what the state knows about a thumbnail key.
func (s *State) ThumbState(key string) (Thumb, error) {
	t := s.Thumbs.Get(key)
	if t == nil {
		return Thumb{}, fmt.Errorf("%w: %q", ErrUnknownKey, key)
	}
	return *t, nil
}

// OriginalOf returns the original thumbnail t is of (for a RoleOriginal
// key, the original the key itself names).
func (s *State) OriginalOf(t *Thumb) *Original { return s.origs[t.orig] }

// ClassOf returns the size class of thumbnail t.
func (s *State) ClassOf(t *Thumb) *Class { return s.classes[t.class] }

// Stem is the original's key without its extension, as State.Originals
// files it.
func (o *Original) Stem() string { return o.stem }
