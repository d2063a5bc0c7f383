package analytics

import (
	"errors"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// keyKind is what a key names, as far as the analyzer cares.
type keyKind uint8

const (
	keyOther keyKind = iota
	keyThumb
	keyOriginal
	keyNew     // not classified yet: seen only in records not counted
	keyForeign // a thumbnail of an original another shard owns: counted for its class only
)

// keyInfo is a classified key that is not a thumbnail (thumbnails are
// found in the state's table): the aggregator parses each distinct key once.
type keyInfo struct {
	kind  keyKind
	orig  *state.Original
	class *state.Class // of a keyForeign
}

// maxOtherKeys bounds how many keys that are not originals the aggregator
// remembers: keys of records it ignores (HEADs, listings), keys that are
// neither thumbnails nor originals (favicon.ico, scanners' guesses).
const maxOtherKeys = 1 << 17

// keyHit is a key as the aggregator last found it: its string, hash, kind
// and number (in the state's thumbnails for keyThumb, else in
// Aggregator.others; -1 for a keyNew not held).
type keyHit struct {
	key  string
	hash uint64
	kind keyKind
	n    int32
	info keyInfo // what classify found, for a key it could not hold (n < 0)
}

// Aggregator adds access log records to a State. It parses each distinct
// key once; as the parser's accesslog.Keys (see ReaderConfig) it finds a
// key, with one hash and one lookup, while the line is parsed, and counts
// the record without looking again. It allocates nothing for a key it has
// seen. It is not safe for concurrent use.
type Aggregator struct {
	s *state.State
	// others holds the keys that are not thumbnails (their kind in info,
	// by number), hashed as the state's thumbnails are.
	others  state.KeyTable
	info    []keyInfo
	nOthers int // keys in others that are not originals
	// last is the key Key or lookup found last. A record's key is mostly
	// the one Key has just made, so lookup compares with it (the same
	// string: cheap) before it looks again; nothing relies on the order
	// of calls.
	last     keyHit
	lastRead int64 // what the last touch of a thumbnail read (see Key)

	// DedupeWindow is how long record identities are kept while records
	// are added (0: DefaultDedupeWindow): the identities of older hours are
	// dropped as newer records come, so that memory holds the records of
	// the window, not of the whole run.
	DedupeWindow time.Duration
	prunedHour   int64

	dayNum int32
	day    *state.Day

	// Shard is the share of originals the state holds (see Config.Shard).
	Shard Shard

	// ClientCap is how many requests from one client for one thumbnail on
	// one day count toward demand (0: all; see countable).
	ClientCap int

	// Counts of this aggregator's records.
	Records    int64 // records added
	Duplicates int64 // records dropped as delivered twice
	Ignored    int64 // records of no interest: listings, HEADs, errors, other keys
	Capped     int64 // thumbnail requests over ClientCap: counted, not as demand
	Foreign    int64 // records of other shards' originals (see Shard)
}

// countable tells whether a request from client (0: unknown) for the
// thumbnail key on day d counts toward demand: a client's first ClientCap
// requests for one key on one day do (0: all). A client that reloads a
// page, or a script that asks the same images over and over, makes one
// visitor's demand, not a crowd's. Each counted request leaves an identity
// (client, key, day, its number) in the state's Asked, filed under the
// day's last hour so that it is kept the dedupe window after the day ends:
// the cap holds across runs and whatever order the records come in, and
// which requests count does not depend on that order either.
func (a *Aggregator) countable(client uint64, key string, d int32) bool {
	if client == 0 || a.ClientCap <= 0 {
		return true
	}
	at := int64(d)*86400 + 23*3600
	h := accesslog.HashPart(accesslog.HashPart(accesslog.HashStart^client, "client cap"), key)
	for k := range uint64(a.ClientCap) {
		if a.s.Asked.Add(at, accesslog.HashEnd(h^k)) {
			return true
		}
	}
	return false
}

// clientOf is who made rec: its client identity (0: unknown) and whether
// it is a crawler, as the parser hashed them or from the record's fields.
func clientOf(rec *accesslog.Record) (uint64, bool) {
	if rec.ClientHash != 0 {
		return rec.ClientHash, rec.Crawler
	}
	return accesslog.ClientOf(rec.RemoteIP, rec.UserAgent)
}

// NewAggregator returns an aggregator that adds to s.
func NewAggregator(s *state.State) *Aggregator {
	a := &Aggregator{s: s, others: s.Thumbs.Keys.Sibling(), last: keyHit{n: -1}}
	a.others.Reserve(len(s.Originals))
	for _, o := range s.Originals {
		if o.Key != "" {
			if _, _, added := state.FindOrAdd(&a.others, o.Key, a.others.HashString(o.Key)); added {
				a.info = append(a.info, keyInfo{kind: keyOriginal, orig: o})
			}
		}
	}
	return a
}

// Hash is the first half of the parser's accesslog.Keys (see
// ReaderConfig): it hashes a key as the state's tables file it and starts
// loading the slot of the state's thumbnails Key will look in, which
// arrives while the parser reads the rest of the line.
func (a *Aggregator) Hash(b []byte) uint64 {
	h := a.others.Hash(b)
	a.s.Thumbs.Keys.Prefetch(h)
	return h
}

// Key is the second half: it makes the record's key string. A key the
// aggregator holds is handed out as the string it holds, and what it is is
// remembered in last; keys it has not seen are remembered up to a bound,
// so that most records cost no allocation.
func (a *Aggregator) Key(b []byte, h uint64) string {
	if i, k, ok := state.FindKey(&a.s.Thumbs.Keys, b, h); ok {
		a.last = keyHit{key: k, hash: h, kind: keyThumb, n: i}
		a.lastRead = a.s.Thumbs.Row(i).LastRead // starts loading the row while the line's parse ends
		return a.last.key
	}
	if i, k, ok := state.FindKey(&a.others, b, h); ok {
		a.last = keyHit{key: k, hash: h, kind: a.info[i].kind, n: i}
		return k
	}
	a.last = keyHit{key: string(b), hash: h, kind: keyNew, n: -1}
	return a.last.key
}

// ignore counts a record of no interest. Its key, when new, is remembered
// (up to a bound) so that the next record of it costs no allocation; a key
// of a record counted is classified instead (see lookup).
func (a *Aggregator) ignore(key string) {
	a.Ignored++
	if k := a.last; k.kind == keyNew && k.n < 0 && key == k.key && a.nOthers < maxOtherKeys {
		a.last.n, a.last.key = a.others.Add(key, k.hash)
		a.info = append(a.info, keyInfo{kind: keyNew})
		a.nOthers++
	}
}

// ReaderConfig returns the package's ReaderConfig with the aggregator as
// the parser's Keys: what a run reads logs with.
func (a *Aggregator) ReaderConfig() accesslog.Config {
	cfg := ReaderConfig()
	cfg.Keys = a
	return cfg
}

// find finds key of hash h (0: not hashed yet) as Key does, for a record
// Key did not make last; a key not held is keyNew, numbered -1.
func (a *Aggregator) find(key string, h uint64) keyHit {
	if h == 0 {
		h = a.others.HashString(key)
	}
	if i, k, ok := state.FindKey(&a.s.Thumbs.Keys, key, h); ok {
		return keyHit{key: k, hash: h, kind: keyThumb, n: i}
	}
	if i, k, ok := state.FindKey(&a.others, key, h); ok {
		return keyHit{key: k, hash: h, kind: a.info[i].kind, n: i}
	}
	return keyHit{key: key, hash: h, kind: keyNew, n: -1}
}

// classify parses a key seen for the first time in a record counted, and
// adds it to the state when it is a thumbnail or an original.
func (a *Aggregator) classify(k keyHit) keyHit {
	if row, key, ok := state.FindKey(&a.s.Thumbs.Keys, k.key, k.hash); ok { // added since Key looked (State.thumb)
		if k.n >= 0 {
			a.info[k.n].kind = keyThumb
		}
		return keyHit{key: key, hash: k.hash, kind: keyThumb, n: row}
	}
	ki := keyInfo{kind: keyOther}
	if stem, suffix, err := state.SplitThumb(k.key); err == nil && !a.Shard.Owns(stem) {
		ki = keyInfo{kind: keyForeign}
		if _, orig := a.s.ForeignOriginals[k.key]; !orig {
			ki.class = a.s.Class(strings.Clone(suffix))
		}
	} else if err == nil {
		if k.n >= 0 { // held in others until now: no longer looked for there
			a.info[k.n].kind = keyThumb
		}
		// The state's names of the original and class are cut from the
		// state's own copy of the key, not from the aggregator's.
		row := a.s.Thumbs.AddRow(k.key, k.hash, state.Thumb{})
		key := a.s.Thumbs.Key(row)
		*a.s.Thumbs.Row(row) = a.s.NewThumb(key[:len(stem)], key[len(stem):])
		return keyHit{key: key, hash: k.hash, kind: keyThumb, n: row}
	} else if errors.Is(err, thumbkey.ErrNotThumbnail) {
		if orig, ok := thumbkey.ParseOriginal(k.key); ok && !a.Shard.Owns(k.key[:len(orig.Stem())]) {
			ki = keyInfo{kind: keyForeign} // another shard's: bounds the time span, nothing else
		} else if ok {
			key := strings.Clone(k.key) // the state's own
			o := a.s.Original(key[:len(orig.Stem())])
			o.Key = key
			ki = keyInfo{kind: keyOriginal, orig: o}
		}
	}
	switch {
	case k.n >= 0:
		a.info[k.n] = ki
		if ki.kind == keyOriginal {
			a.nOthers--
		}
	case ki.kind == keyOriginal || a.nOthers < maxOtherKeys:
		if ki.kind != keyOriginal {
			a.nOthers++
		}
		k.n, k.key = a.others.Add(k.key, k.hash)
		a.info = append(a.info, ki)
	}
	k.kind, k.info = ki.kind, ki
	return k
}

// lookup returns the classified key of hash h (0: not hashed yet), and
// the thumbnail when it is one.
func (a *Aggregator) lookup(key string, h uint64) (keyInfo, *state.Thumb) {
	k := a.last
	if key != k.key || h != 0 && h != k.hash { // the same string (cheap to compare) or an equal one
		k = a.find(key, h)
	}
	if k.kind == keyNew {
		k = a.classify(k)
		a.last = k
	}
	switch k.kind {
	case keyThumb:
		return keyInfo{kind: keyThumb}, a.s.Thumbs.Row(k.n)
	case keyOriginal, keyForeign:
		if k.n < 0 { // not held (over maxOtherKeys): as classify found it
			return k.info, nil
		}
		return a.info[k.n], nil
	}
	return keyInfo{kind: keyOther}, nil
}

// dayAt returns the counters of the day of unix time t.
func (a *Aggregator) dayAt(t int64) (int32, *state.Day) {
	d := state.DayOf(t)
	if a.day == nil || d != a.dayNum {
		a.dayNum, a.day = d, a.s.Day(d)
	}
	return d, a.day
}

// Add counts one record.
func (a *Aggregator) Add(rec *accesslog.Record) {
	kind := rec.Kind()
	switch {
	case rec.Key == "":
		a.Ignored++
		return
	case kind == accesslog.KindRead, kind == accesslog.KindWrite, kind == accesslog.KindDelete, kind == accesslog.KindExpire:
	default:
		a.ignore(rec.Key)
		return
	}
	t := rec.Time.Unix()
	idHash := rec.RequestIDHash
	if idHash == 0 && rec.RequestID != "" {
		idHash = accesslog.HashPart(accesslog.HashStart, rec.RequestID)
	}
	if idHash != 0 && !a.s.Seen.Add(t, state.RecordID(idHash, rec.Operation, rec.Key)) {
		a.Duplicates++
		return
	}
	ki, th := a.lookup(rec.Key, rec.KeyHash)
	if ki.kind == keyOther {
		a.Ignored++
		return
	}
	if a.s.First == 0 || t < a.s.First {
		a.s.First = t
	}
	if t > a.s.Last {
		a.s.Last = t
		a.pruneSeen(t)
	}
	if ki.kind == keyForeign {
		a.Foreign++
		a.addForeign(rec, kind, ki.class, t)
		return
	}
	a.Records++
	d, day := a.dayAt(t)
	if ki.kind == keyOriginal {
		a.addOriginal(rec, kind, ki.orig, t, day)
		return
	}
	if kind == accesslog.KindWrite && rec.HTTPStatus == 200 {
		// Who wrote it last says what it is: s3thumb writes thumbnails,
		// anybody else uploads originals. Logs arrive out of order, so an
		// older write says nothing; nor does one without the writer's agent.
		if t >= th.LastWrite {
			switch {
			case thumbtag.ByAgent(rec.UserAgent):
				a.s.SetRole(th, rec.Key, state.RoleThumbnail)
			case rec.UserAgent != "":
				a.s.SetRole(th, rec.Key, state.RoleOriginal)
			}
		}
		th.LastWrite = max(th.LastWrite, t)
	}
	if th.Role == state.RoleOriginal {
		a.addOriginal(rec, kind, a.s.OriginalOf(th), t, day)
		return
	}
	if th.FirstSeen == 0 || t < th.FirstSeen {
		th.FirstSeen = t
	}
	switch kind {
	case accesslog.KindRead:
		miss, ok := readOutcome(rec.HTTPStatus)
		if !ok {
			a.Ignored++
			return
		}
		// Crawlers' requests are not demand: counted apart, they still
		// show the thumbnail read (not stale) and whether it is stored.
		client, crawler := clientOf(rec)
		if crawler {
			day.Crawler++
			th.LastRead = max(th.LastRead, t)
		} else {
			day.Requests++
			if o := a.s.OriginalOf(th); a.countable(client, rec.Key, d) {
				th.Add(t, miss)
				c := a.s.ClassOf(th)
				c.Add(t, d, miss)
				c.AddClient(client, d)
				o.Add(t, d, miss)
				o.AddClient(client, d)
			} else {
				a.Capped++
			}
		}
		if miss {
			if !crawler {
				day.Misses++
			}
			th.SetExists(state.Gone, t, state.ByMiss)
			return
		}
		if th.SetExists(state.Stored, t, state.ByRead) && rec.ObjectSize > 0 {
			th.Size = rec.ObjectSize
		}
		if crawler {
			return
		}
		day.Hits++
		if th.JobAt != 0 && t >= th.JobAt && (th.JobRead == 0 || t < th.JobRead) {
			th.JobRead = t // the first read after the job, whatever order logs come in
		}
		if th.Pregen != 0 && !th.PregenRead && t >= th.Pregen {
			th.PregenRead = true
			day.Avoided++
			if th.PregenNew {
				day.AvoidedNew++
			}
		}
		if th.RescueDue != 0 && t >= th.RescueDue && th.LastWrite >= th.Refresh {
			th.RescueDue = 0
			day.Rescued++
		}
	case accesslog.KindWrite:
		if rec.HTTPStatus != 200 {
			a.Ignored++
			return
		}
		day.Written++
		th.LastWrite = max(th.LastWrite, t)
		if th.SetExists(state.Stored, t, state.ByWrite) && rec.ObjectSize > 0 {
			th.Size = rec.ObjectSize
		}
	default: // deleted or expired
		if rec.HTTPStatus >= 300 {
			a.Ignored++
			return
		}
		day.Removed++
		if th.SetExists(state.Gone, t, state.ByRemoval) {
			th.Size = rec.ObjectSize // what was removed: the size always comes from the newest record
		}
	}
}

// foreignWrite learns from a write of another shard's key named like a
// thumbnail what the owning shard learns (see Add): people's upload makes
// it an original, whose reads count for no size class; s3thumb's write
// after that makes it a thumbnail again. Of writes out of order, the
// newest decides.
func (a *Aggregator) foreignWrite(rec *accesslog.Record, t int64) {
	at, orig := a.s.ForeignOriginals[rec.Key]
	switch {
	case thumbtag.ByAgent(rec.UserAgent):
		if !orig || t < at {
			return
		}
		delete(a.s.ForeignOriginals, rec.Key)
	case rec.UserAgent != "":
		if orig && t <= at {
			return
		}
		a.s.ForeignOriginals[strings.Clone(rec.Key)] = t
	default:
		return
	}
	// The key's class, held for the next records of it: none for an
	// original.
	if i, _, ok := state.FindKey(&a.others, rec.Key, a.others.HashString(rec.Key)); ok && a.info[i].kind == keyForeign {
		a.info[i].class = nil
		if _, nowOrig := a.s.ForeignOriginals[rec.Key]; !nowOrig {
			if _, suffix, err := state.SplitThumb(rec.Key); err == nil {
				a.info[i].class = a.s.Class(strings.Clone(suffix))
			}
		}
	}
}

// readOutcome is what a read of a thumbnail with this status was: a hit
// (200, 206, 304), a miss (302, 403, 404: the website's redirect or
// error), or nothing to count.
func readOutcome(status int) (miss, ok bool) {
	switch status {
	case 200, 206, 304:
		return false, true
	case 302, 403, 404:
		return true, true
	}
	return false, false
}

// addForeign counts a record of another shard's original: a read of one
// of its thumbnails counts for the size class, as in the shard that owns
// it, so that every shard ranks the classes alike; nothing else is kept.
func (a *Aggregator) addForeign(rec *accesslog.Record, kind accesslog.Kind, c *state.Class, t int64) {
	if kind == accesslog.KindWrite && rec.HTTPStatus == 200 {
		a.foreignWrite(rec, t)
		return
	}
	if c == nil || kind != accesslog.KindRead {
		return
	}
	miss, ok := readOutcome(rec.HTTPStatus)
	if !ok {
		return
	}
	client, crawler := clientOf(rec)
	if d := state.DayOf(t); !crawler && a.countable(client, rec.Key, d) {
		c.Add(t, d, miss)
		c.AddClient(client, d)
	}
}

// pruneSeen drops the record identities of the hours that ended a dedupe
// window before unix time newest, once an hour of records.
func (a *Aggregator) pruneSeen(newest int64) {
	if h := newest / 3600; h != a.prunedHour {
		a.prunedHour = h
		w := a.DedupeWindow
		if w <= 0 {
			w = DefaultDedupeWindow
		}
		a.s.Seen.Prune(newest - int64(w/time.Second))
		a.s.Asked.Prune(newest - int64(w/time.Second))
	}
}

// addOriginal counts a record of an original.
func (a *Aggregator) addOriginal(rec *accesslog.Record, kind accesslog.Kind, o *state.Original, t int64, day *state.Day) {
	switch kind {
	case accesslog.KindRead:
		switch rec.HTTPStatus {
		case 200, 206, 304:
			o.Direct++
			day.Original++
			o.Found = max(o.Found, t)
		case 404:
			o.Missing = max(o.Missing, t) // as a HEAD would have found it
		}
	case accesslog.KindWrite:
		if rec.HTTPStatus == 200 {
			day.Uploads++
			if t > o.Uploaded {
				o.Uploaded = t
				o.Deleted = false
			}
			o.Found = max(o.Found, t)
		}
	default:
		if rec.HTTPStatus < 300 && t >= o.Uploaded {
			o.Deleted = true
		}
	}
}
