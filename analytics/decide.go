package analytics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s3thumb/s3thumb/analytics/report"
	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/popular"
	"github.com/s3thumb/s3thumb/internal/queue"
	"github.com/s3thumb/s3thumb/internal/store"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
	"github.com/s3thumb/s3thumb/internal/thumbtag"
)

// Checker looks at objects in the bucket (store.Store does): whether they
// are stored, and whether they carry the thumbnail tag.
type Checker interface {
	Head(ctx context.Context, key string) (store.Attrs, error)
	Tags(ctx context.Context, key string) (map[string]string, error)
}

// Plan is what the analyzer decided.
type Plan struct {
	Classes []report.ClassReport `json:"classes"` // by requests, most first
	Jobs    []report.Job         `json:"jobs"`
	// Capped counts the jobs left out by MaxJobs.
	Capped int `json:"capped,omitempty"`
	// Heads counts the HEAD requests made to learn whether thumbnails or
	// originals exist, or when thumbnails were written.
	Heads int `json:"heads,omitempty"`
	// TagChecks counts the tag reads made to learn whether keys named like
	// thumbnails are thumbnails; Originals how many of them were not.
	TagChecks int `json:"tag_checks,omitempty"`
	Originals int `json:"originals_named_like_thumbnails,omitempty"`
	// MissingOriginals counts the originals in demand that a check found
	// missing: none of their thumbnails is queued.
	MissingOriginals int `json:"missing_originals,omitempty"`
	// Refreshes counts the jobs that are refreshes.
	Refreshes int `json:"refreshes,omitempty"`
	// RefusedRequests and RefusedMisses count the thumbnail requests in the
	// window (misses: overall) for sizes the size policy refuses: they make
	// no class popular; those misses are refused, not avoidable.
	RefusedRequests int64 `json:"refused_requests,omitempty"`
	RefusedMisses   int64 `json:"refused_misses,omitempty"`
	// Impossible counts the jobs dropped because a worker could not make
	// them: not a thumbnail key, or a size the policy refuses (a refresh of
	// a thumbnail made before the policy changed).
	Impossible int `json:"impossible,omitempty"`
	// OverBudget counts the candidates left out by MaxUnread; Outcomes are
	// the past jobs' measured outcomes, and PlannedUnread the share of
	// these jobs expected to stay unread.
	OverBudget    int              `json:"over_budget,omitempty"`
	Outcomes      []report.Outcome `json:"outcomes,omitempty"`
	PlannedUnread float64          `json:"planned_unread"`
}

// ownFormatShare is the share of a class's thumbnails, of those whose
// original's key is known, that must be in their originals' own formats for
// the class to be taken for a size pages show in each original's own
// format: "_200x200.png" and "_200x200.jpg" asked of photo.png and
// photo.jpg alike are one class, "_200x200.*". A site whose pages ask JPEG
// of every original has its PNG originals' thumbnails in the other share.
const ownFormatShare = 0.98

// ownFormat tells which classes are asked in their originals' own
// formats: it counts the state's thumbnails of each class whose original is
// known to exist, under its key, by whether the extensions are the same.
func ownFormat(s *state.State) map[*state.Class]bool {
	type tally struct{ own, other int64 }
	n := make(map[*state.Class]*tally, len(s.Classes))
	for r := range int32(s.Thumbs.Len()) {
		t := s.Thumbs.Row(r)
		o := s.OriginalOf(t)
		if t.Role == state.RoleOriginal || o.Key == "" || o.Found <= o.Missing {
			// Only originals known to exist: a key named by 404s alone
			// (the responder looking for a missing original under every
			// extension) says nothing of what pages ask.
			continue
		}
		c := s.ClassOf(t)
		x := n[c]
		if x == nil {
			x = &tally{}
			n[c] = x
		}
		if key := s.Thumbs.Key(r); extOf(key) == extOf(o.Key) {
			x.own++
		} else {
			x.other++
		}
	}
	out := make(map[*state.Class]bool, len(n))
	for c, x := range n {
		out[c] = x.own > 0 && float64(x.own) >= ownFormatShare*float64(x.own+x.other)
	}
	return out
}

// extOf is a key's extension, as written.
func extOf(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

// popularClasses ranks the size classes by their requests in the window
// and marks the popular ones: by share, and asked by MinClients distinct
// clients at least. Classes asked in their originals' own formats
// are counted together as one own-format class (see ownFormatShare).
func popularClasses(s *state.State, cfg Config, now time.Time, p *Plan) []report.ClassReport {
	first := state.DayOf(now.Unix()) - cfg.windowDays() + 1
	own := ownFormat(s)
	var total int64
	merged := make(map[string]*report.ClassReport)
	for suffix, c := range s.Classes {
		n := c.Since(first)
		if n == 0 {
			continue
		}
		cl, err := thumbkey.ParseClass(suffix)
		if err == nil && cfg.Policy.CheckSize(cl.Size) != nil {
			p.RefusedRequests += n
			p.RefusedMisses += c.Misses
			continue
		}
		total += n
		name := suffix
		if own[c] && err == nil {
			cl.Ext = thumbkey.OwnFormat
			name = cl.String()
		}
		cs := merged[name]
		if cs == nil {
			cs = &report.ClassReport{ClassShare: popular.ClassShare{Class: name}}
			merged[name] = cs
		}
		cs.Requests += n
		cs.Misses += c.Misses
		cs.Clients = max(cs.Clients, c.ClientsSince(first)) // of own-format classes merged: at least
	}
	out := make([]report.ClassReport, 0, len(merged))
	for _, cs := range merged {
		out = append(out, *cs)
	}
	slices.SortFunc(out, func(a, b report.ClassReport) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Class, b.Class))
	})
	var covered float64
	for i := range out {
		out[i].Share = float64(out[i].Requests) / float64(total)
		out[i].Popular = (out[i].Share >= cfg.MinShare && cfg.MinShare > 0 || covered < cfg.Coverage) &&
			out[i].Clients >= cfg.MinClients
		covered += out[i].Share
	}
	return out
}

// thumbKeyFor is the key of d's thumbnail in class c, when a worker can
// make it: the worker looks for the original under the thumbnail's own
// extension and sourceExts (an AVIF original makes only AVIF thumbnails
// with the default --source-exts). An own-format class needs the
// original's key, which the state may not know.
func thumbKeyFor(d stemDemand, c thumbkey.Class, sourceExts []string) (string, bool) {
	orig := d.o.Key
	if orig == "" {
		if c.IsOwnFormat() {
			return "", false
		}
		orig = d.stem + "." + c.Ext // a fixed format: any image extension does
	}
	k, err := c.KeyFor(orig)
	if err != nil || d.o.Key != "" && !slices.Contains(k.OriginalKeys(sourceExts), d.o.Key) {
		return "", false
	}
	return k.String(), true
}

// candidate is a thumbnail to make or refresh.
type candidate struct {
	key      string
	expected float64 // requests expected in the next window
	unread   float64 // the chance nobody reads it within the horizon (see calibrate)
	requests int64   // its original's requests in the window
	isNew    bool
	refresh  bool
}

// why is the candidate's kind of job, as calibrated.
func (c candidate) why() state.JobWhy {
	switch {
	case c.refresh:
		return state.JobRefresh
	case c.isNew:
		return state.JobNew
	}
	return state.JobHot
}

// rate is an original's thumbnail requests per day over the part of the
// window it existed in (at least a quarter of a day).
func rate(o *state.Original, requests int64, cfg Config, now time.Time) float64 {
	days := float64(cfg.windowDays())
	if o.Uploaded > 0 {
		age := now.Sub(time.Unix(o.Uploaded, 0)).Hours() / 24
		days = min(days, max(age, 0.25))
	}
	return float64(requests) / days
}

// stemDemand is an original in demand: hot, or new.
type stemDemand struct {
	stem     string
	o        *state.Original
	requests int64
	isNew    bool
}

// plan decides the pre-generation jobs: for each hot or new original, each
// popular class whose thumbnail is expected to be requested at least
// MinExpected times in the next window (the original's request rate times
// the class's share) and does not exist. A new original's rate is at least
// the mean rate of the originals uploaded within the window. newStems are
// originals found new by listing.
//
// bucket, when not nil, answers what the logs do not tell, within MaxJobs
// requests of each kind per run, and what it tells goes into the state:
// whether an original in demand exists (nothing is queued for one that does
// not), whether a key named like a thumbnail is one (its tag: a refresh is
// queued only for a thumbnail, and an untagged key is an original whose
// requests make no class popular), whether a thumbnail is stored, and when
// it was written.
func plan(ctx context.Context, s *state.State, cfg Config, now time.Time, newStems map[string]bool, bucket Checker) (*Plan, error) {
	p := &Plan{}
	first := state.DayOf(now.Unix()) - cfg.windowDays() + 1
	demand, err := originalsInDemand(ctx, s, cfg, now, newStems, bucket, p)
	if err != nil {
		return nil, err
	}
	if err := checkOrphans(ctx, s, cfg, now, bucket, p); err != nil {
		return nil, err
	}
	p.Classes = popularClasses(s, cfg, now, p)
	type popularClass struct {
		popular.ClassShare
		class thumbkey.Class
	}
	var wanted []popularClass
	for _, c := range p.Classes {
		if cl, err := thumbkey.ParseClass(c.Class); err == nil && c.Popular {
			wanted = append(wanted, popularClass{c.ClassShare, cl})
		}
	}
	newSince := now.Add(-cfg.NewWithin).Unix()
	windowStart := now.Add(-cfg.Window).Unix()
	var newRate float64
	var newCount int
	for _, o := range s.Originals {
		if o.Uploaded >= windowStart && o.Uploaded < newSince {
			newRate += rate(o, o.Since(first), cfg, now)
			newCount++
		}
	}
	if newCount > 0 {
		newRate /= float64(newCount)
	}
	horizon := float64(cfg.windowDays())
	requeueAfter := now.Add(-cfg.Window).Unix()
	var cands []candidate
	queued := make(map[string]bool)
	for _, d := range demand {
		r := rate(d.o, d.requests, cfg, now)
		if d.isNew {
			r = max(r, newRate)
		}
		for _, c := range wanted {
			exp := r * horizon * c.Share
			if exp < cfg.MinExpected {
				break // classes are by share, most first
			}
			key, ok := thumbKeyFor(d, c.class, cfg.SourceExts)
			if !ok {
				continue
			}
			if t := s.Thumbs.Get(key); t != nil && (t.Exists == state.Stored || t.Role == state.RoleOriginal || t.Pregen >= requeueAfter) {
				continue
			}
			if queued[key] {
				continue // another popular class names the same key (_200x200.* and _200x200.webp of a WebP)
			}
			queued[key] = true
			cands = append(cands, candidate{key: key, expected: exp, requests: d.requests, isNew: d.isNew})
		}
	}
	cands = append(cands, refreshCandidates(s, cfg, now)...)
	// Cheapest waste first: by the chance of staying unread, as learned
	// from past jobs of the same kind.
	cal := calibrate(s, cfg, now)
	p.Outcomes = outcomeList(cal)
	for i := range cands {
		cands[i].unread = unreadChance(cal[cands[i].why()].K, cands[i].expected)
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.unread, b.unread), cmp.Compare(b.expected, a.expected), cmp.Compare(a.key, b.key))
	})
	var unread float64 // expected unread among the jobs so far
	add := func(c candidate, why string, j queue.Job) {
		p.Jobs = append(p.Jobs, report.Job{Why: why, Job: j, Expected: c.expected, Unread: c.unread})
		unread += c.unread
	}
	for i, c := range cands {
		if !cfg.possible(c.key) {
			p.Impossible++
			continue
		}
		if len(p.Jobs) >= cfg.MaxJobs {
			p.Capped++
			continue
		}
		if unread+c.unread > cfg.MaxUnread*float64(len(p.Jobs)+1) {
			// Over the waste budget; every later candidate is likelier
			// still to stay unread.
			p.OverBudget = len(cands) - i
			break
		}
		if c.refresh {
			due, err := refreshDue(ctx, s, cfg, now, c.key, bucket, p)
			if err != nil {
				return nil, err
			}
			switch t := s.Thumbs.Get(c.key); {
			case due:
				add(c, report.WhyRefresh, queue.Job{Key: c.key, Refresh: true,
					Reason: "refresh: expires soon, " + strconv.FormatFloat(c.expected, 'f', 1, 64) + " expected"})
				p.Refreshes++
			case t.Exists == state.Gone && t.Role != state.RoleOriginal:
				// Still read, but gone (expired or deleted before the logs
				// said so): made again, from its original, which must exist.
				o := s.OriginalOf(t)
				if o.Deleted {
					continue
				}
				if ok, err := originalExists(ctx, s, cfg, now, stemDemand{stem: o.Stem(), o: o}, bucket, p); err != nil {
					return nil, err
				} else if !ok {
					continue
				}
				add(c, report.WhyGone, queue.Job{Key: c.key, Reason: "gone, still read: " + strconv.FormatFloat(c.expected, 'f', 1, 64) + " expected"})
			}
			continue
		}
		if t := s.Thumbs.Get(c.key); (t == nil || t.Exists == state.Unknown) && bucket != nil {
			p.Heads++
			_, err := bucket.Head(ctx, c.key)
			switch {
			case err == nil:
				thumbFor(s, c.key).SetExists(state.Stored, now.Unix(), state.ByCheck)
				continue
			case !errors.Is(err, store.ErrNotFound):
				return nil, fmt.Errorf("head %s: %w", c.key, err)
			}
		}
		why, reason := report.WhyHot, "hot: "+strconv.FormatInt(c.requests, 10)+" requests in "+strconv.Itoa(int(cfg.windowDays()))+"d"
		if c.isNew {
			why, reason = report.WhyNew, "new upload"
		}
		reason += ", " + strconv.FormatFloat(c.expected, 'f', 1, 64) + " expected"
		add(c, why, queue.Job{Key: c.key, Reason: reason})
	}
	if len(p.Jobs) > 0 {
		p.PlannedUnread = unread / float64(len(p.Jobs))
	}
	return p, nil
}

// possible tells whether a worker could make the thumbnail key: a
// thumbnail key of a size the policy allows. Whether its original exists
// and is not a thumbnail is checked per original (originalExists).
func (c Config) possible(key string) bool {
	k, err := thumbkey.Parse(key)
	return err == nil && c.Policy.Check(k) == nil
}

// originalsInDemand lists the hot and new originals, most requested first,
// leaving out those a check finds missing (see originalExists).
func originalsInDemand(ctx context.Context, s *state.State, cfg Config, now time.Time, newStems map[string]bool, bucket Checker, p *Plan) ([]stemDemand, error) {
	first := state.DayOf(now.Unix()) - cfg.windowDays() + 1
	newSince := now.Add(-cfg.NewWithin).Unix()
	var out []stemDemand
	for stem, o := range s.Originals {
		if o.Deleted {
			continue
		}
		n := o.Since(first)
		isNew := cfg.NewWithin > 0 && (o.Uploaded >= newSince || newStems[stem])
		if !isNew && (n < int64(cfg.MinRequests) || o.ClientsSince(first) < cfg.MinClients) {
			continue
		}
		out = append(out, stemDemand{stem: stem, o: o, requests: n, isNew: isNew || newStems[stem]})
	}
	slices.SortFunc(out, func(a, b stemDemand) int {
		return cmp.Or(cmp.Compare(b.requests, a.requests), cmp.Compare(a.stem, b.stem))
	})
	kept := out[:0]
	for _, d := range out {
		ok, err := originalExists(ctx, s, cfg, now, d, bucket, p)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, d)
		}
	}
	return kept, nil
}

// originalExists tells whether the original of a stem in demand exists: it
// does when the logs have shown it (an upload, a read) or the listing found
// it new since it was last missing. It is missing when a 404 of it or a
// check said so: for MissingRecheck, then the bucket is asked again under
// each source extension; without a bucket, until the logs show it. An
// original neither seen nor missed is asked about, within MaxJobs HEADs a
// run, and taken to exist only when no bucket can be asked.
func originalExists(ctx context.Context, s *state.State, cfg Config, now time.Time, d stemDemand, bucket Checker, p *Plan) (bool, error) {
	o := d.o
	switch {
	case d.isNew: // a new upload, in the logs or the listing
		return true, nil
	case o.Found > o.Missing:
		return true, nil // uploaded, read or found since it was last missing
	case o.Missing != 0 && (bucket == nil || now.Unix()-o.Missing < int64(state.MissingRecheck/time.Second)):
		p.MissingOriginals++ // a 404 of it, or a check, said so, and nothing since says otherwise
		return false, nil
	case bucket == nil:
		return true, nil // nothing says it is missing, and nothing can be asked
	case p.Heads >= cfg.MaxJobs:
		return false, nil // asked enough this run: wait
	}
	// Under every image extension: an AVIF original is found too, and the
	// jobs are then those the workers can find it from (see plan).
	for _, key := range thumbkey.OriginalKeys(d.stem, "", append(slices.Clone(cfg.SourceExts), thumbkey.ImageExts...)) {
		p.Heads++
		_, err := bucket.Head(ctx, key)
		switch {
		case err == nil:
			if isOrig, err := namedLikeThumbnailIsOriginal(ctx, s, now, key, bucket, p); err != nil || !isOrig {
				// A thumbnail is never an original (earth_200x200.jpg of
				// earth_200x200_100x100.jpg): the stem has none.
				return false, err
			}
			o.Key, o.Found = key, now.Unix()
			return true, nil
		case !errors.Is(err, store.ErrNotFound):
			return false, fmt.Errorf("head %s: %w", key, err)
		}
	}
	o.Missing = now.Unix()
	p.MissingOriginals++
	return false, nil
}

// namedLikeThumbnailIsOriginal tells whether a stored key is an original:
// any key not named like a thumbnail is; one named like a thumbnail is
// only when it lacks the thumbnail tag, as the state knows or its tag says.
func namedLikeThumbnailIsOriginal(ctx context.Context, s *state.State, now time.Time, key string, bucket Checker, p *Plan) (bool, error) {
	if _, err := thumbkey.Parse(key); err != nil {
		return true, nil
	}
	t := thumbFor(s, key)
	if t.Role == state.RoleUnknown {
		if err := checkRole(ctx, s, now, key, t, bucket, p); err != nil {
			return false, fmt.Errorf("is %s an original: %w", key, err)
		}
	}
	return t.Role == state.RoleOriginal, nil
}

// checkOrphans reads the tags of the stored keys named like thumbnails of
// an original found missing, whose role the logs did not tell: such a key
// without the tag is an original itself (banner_1200x630.jpg with no
// banner.jpg), and its requests are taken back from the size classes.
func checkOrphans(ctx context.Context, s *state.State, cfg Config, now time.Time, bucket Checker, p *Plan) error {
	if bucket == nil {
		return nil
	}
	for r := range int32(s.Thumbs.Len()) {
		t := s.Thumbs.Row(r)
		if o := s.OriginalOf(t); t.Role != state.RoleUnknown || t.Exists != state.Stored || o.Missing == 0 || o.Found > o.Missing {
			continue
		}
		if p.TagChecks >= cfg.MaxJobs {
			return nil
		}
		if err := checkRole(ctx, s, now, s.Thumbs.Key(r), t, bucket, p); err != nil {
			return err
		}
	}
	return nil
}

// checkRole reads the tags of key, thumbnail t, and records what they say:
// a thumbnail, an original, or gone.
func checkRole(ctx context.Context, s *state.State, now time.Time, key string, t *state.Thumb, bucket Checker, p *Plan) error {
	p.TagChecks++
	isThumb, err := thumbtag.Check(ctx, bucket, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.SetExists(state.Gone, now.Unix(), state.ByCheck)
	case err != nil:
		return err
	case isThumb:
		s.SetRole(t, key, state.RoleThumbnail)
	default:
		s.SetRole(t, key, state.RoleOriginal)
		p.Originals++
	}
	return nil
}

// refreshAhead is how long before the lifecycle rule would expire a
// thumbnail that is still read the analyzer has it written again: long
// enough for a daily run and logs delivered a day late. refreshRetry is how
// long a queued refresh has for its write to show in the logs before it is
// taken as lost and queued again.
const (
	refreshAhead = 48 * time.Hour
	refreshRetry = 12 * time.Hour
)

// lifecycleDue is when a lifecycle rule of days expires an object written
// at unix time written: S3 adds the days to the write time and rounds up to
// the next midnight UTC (a sum that falls on midnight stays there, which
// errs early).
func lifecycleDue(written int64, days int) int64 {
	const day = 24 * 3600
	t := written + int64(days)*day
	return (t + day - 1) / day * day
}

// refreshCandidates are the stored thumbnails still read, at least
// MinExpected times expected in the next window from their own reads, that
// the lifecycle rule (cfg.ExpireDays) expires before now+refreshAhead, or
// whose write time the state does not know: a refresh writes them again so
// that the rule's count starts over. The write time is the last write the
// logs show; a refresh queued within refreshRetry is left alone while the
// logs catch up with its write, and one whose write never showed is queued
// again.
func refreshCandidates(s *state.State, cfg Config, now time.Time) []candidate {
	if cfg.ExpireDays == 0 {
		return nil
	}
	windowStart := now.Add(-cfg.Window).Unix()
	horizon := now.Add(refreshAhead).Unix()
	var out []candidate
	for key, t := range s.Thumbs.All() {
		if t.Exists != state.Stored || t.Role == state.RoleOriginal || t.LastRead < windowStart || t.Refresh > max(t.LastWrite, now.Add(-refreshRetry).Unix()) {
			continue
		}
		if t.LastWrite != 0 && lifecycleDue(t.LastWrite, cfg.ExpireDays) > horizon {
			continue
		}
		days := max(now.Sub(time.Unix(t.FirstSeen, 0)).Hours()/24, 1)
		exp := float64(t.Reads) / days * float64(cfg.windowDays())
		if exp < cfg.MinExpected {
			continue
		}
		out = append(out, candidate{key: key, expected: exp, refresh: true})
	}
	return out
}

// refreshDue tells whether the refresh candidate key is due, learning its
// write time with a HEAD when the state does not know it (a thumbnail
// written before the logs the analyzer has read). A refresh is due only for
// a key known to be a thumbnail: one whose role the logs did not tell has
// its tag read first.
func refreshDue(ctx context.Context, s *state.State, cfg Config, now time.Time, key string, bucket Checker, p *Plan) (bool, error) {
	t := s.Thumbs.Get(key)
	if t.LastWrite == 0 && t.Refresh == 0 {
		if bucket == nil || p.Heads >= cfg.MaxJobs {
			return false, nil // nothing to ask, or asked enough this run: wait
		}
		p.Heads++
		attrs, err := bucket.Head(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			t.SetExists(state.Gone, now.Unix(), state.ByCheck)
			return false, nil
		case err != nil:
			return false, fmt.Errorf("head %s: %w", key, err)
		case attrs.LastModified.IsZero():
			return false, nil
		}
		t.LastWrite = attrs.LastModified.Unix()
		if lifecycleDue(t.LastWrite, cfg.ExpireDays) > now.Add(refreshAhead).Unix() {
			return false, nil
		}
	}
	if t.Role == state.RoleUnknown {
		if bucket == nil || p.TagChecks >= cfg.MaxJobs {
			return false, nil
		}
		if err := checkRole(ctx, s, now, key, t, bucket, p); err != nil {
			return false, err
		}
	}
	return t.Role == state.RoleThumbnail, nil
}

// thumbFor returns the state's entry for a thumbnail key, adding it.
func thumbFor(s *state.State, key string) *state.Thumb {
	if t := s.Thumb(key); t != nil {
		return t
	}
	return &state.Thumb{} // not a thumbnail: nothing to remember
}

// markQueued records that jobs were queued at now: for a refresh, also
// when the lifecycle rule would have expired the thumbnail without it, so
// that a read after then counts as a miss the refresh avoided.
func markQueued(s *state.State, cfg Config, jobs []report.Job, now time.Time) {
	for _, j := range jobs {
		t := thumbFor(s, j.Key)
		t.JobAt, t.JobRead, t.JobExp = now.Unix(), 0, float32(j.Expected)
		switch j.Why {
		case report.WhyRefresh, report.WhyGone: // refresh candidates, of the refresh K
			t.JobWhy = state.JobRefresh
		case report.WhyNew:
			t.JobWhy = state.JobNew
		default:
			t.JobWhy = state.JobHot
		}
		if j.Refresh {
			t.Refresh = now.Unix()
			if t.LastWrite != 0 && cfg.ExpireDays > 0 {
				t.RescueDue = lifecycleDue(t.LastWrite, cfg.ExpireDays)
			}
			continue
		}
		t.Pregen = now.Unix()
		t.PregenRead = false
		t.PregenNew = j.Why == report.WhyNew
	}
}

// staleThumbs lists the thumbnails with no read, write or other record for
// cfg.StaleAfter, oldest first. Nothing is stale while the logs read so far
// cover less than that period: no record is no proof then.
func staleThumbs(s *state.State, cfg Config, now time.Time) []report.Stale {
	cutoff := now.Add(-cfg.StaleAfter).Unix()
	if s.First == 0 || s.First > cutoff {
		return nil
	}
	var out []report.Stale
	for key, t := range s.Thumbs.All() {
		if t.Exists == state.Gone || t.Role == state.RoleOriginal {
			continue
		}
		last := max(t.LastRead, t.LastWrite, t.FirstSeen, t.Pregen)
		if last > cutoff {
			continue
		}
		out = append(out, report.Stale{Key: key, LastRead: time.Unix(last, 0).UTC(), Size: t.Size})
	}
	slices.SortFunc(out, func(a, b report.Stale) int {
		return cmp.Or(a.LastRead.Compare(b.LastRead), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// Cleaner is what cleanup needs of the bucket.
type Cleaner interface {
	Head(ctx context.Context, key string) (store.Attrs, error)
	Tags(ctx context.Context, key string) (map[string]string, error)
	DeleteIfMatch(ctx context.Context, key, etag string) error
}

// cleanup checks each stale thumbnail's tag on the object itself and
// deletes it when del is set. It fills in each Outcome and returns the
// bytes freed. The version whose tag was read is the one deleted
// (If-Match on the ETag read before the tag): an upload that replaces the
// thumbnail meanwhile is kept.
func cleanup(ctx context.Context, s *state.State, stale []report.Stale, bucket Cleaner, del bool, now time.Time) (deleted int, freed int64, err error) {
	for i := range stale {
		st := &stale[i]
		attrs, err := bucket.Head(ctx, st.Key)
		var tags map[string]string
		if err == nil {
			tags, err = bucket.Tags(ctx, st.Key)
		}
		if errors.Is(err, store.ErrNotFound) {
			st.Outcome = "gone"
			thumbFor(s, st.Key).SetExists(state.Gone, now.Unix(), state.ByCheck)
			continue
		}
		if err != nil {
			return deleted, freed, fmt.Errorf("tags of %s: %w", st.Key, err)
		}
		if !thumbtag.Is(tags) {
			st.Outcome = "kept: not tagged " + thumbtag.Key + "=" + thumbtag.Value
			if t := s.Thumbs.Get(st.Key); t != nil {
				s.SetRole(t, st.Key, state.RoleOriginal)
			}
			continue
		}
		if !del {
			st.Outcome = "listed"
			continue
		}
		st.Size = attrs.Size
		err = bucket.DeleteIfMatch(ctx, st.Key, attrs.ETag)
		if errors.Is(err, store.ErrChanged) {
			st.Outcome = "kept: replaced while checked"
			continue
		}
		if err != nil {
			return deleted, freed, fmt.Errorf("delete %s: %w", st.Key, err)
		}
		st.Outcome = "deleted"
		thumbFor(s, st.Key).SetExists(state.Gone, now.Unix(), state.ByCheck)
		deleted++
		freed += st.Size
	}
	return deleted, freed, nil
}
