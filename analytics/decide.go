package analytics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/s3thumb/s3thumb/internal/store"
)

// Header tells whether an object is stored (store.Store does).
type Header interface {
	Head(ctx context.Context, key string) (store.Attrs, error)
}

// ClassShare is a size class's requests in the window.
type ClassShare struct {
	Class    string  `json:"class"`
	Requests int64   `json:"requests"`
	Share    float64 `json:"share"`
	Popular  bool    `json:"popular"`
}

// Job is a thumbnail the analyzer wants made, or with Refresh written
// again before the lifecycle rule expires it.
type Job struct {
	Key     string `json:"key"`
	Reason  string `json:"reason"`
	Refresh bool   `json:"refresh,omitempty"`
}

// Plan is what the analyzer decided.
type Plan struct {
	Classes []ClassShare `json:"classes"` // by requests, most first
	Jobs    []Job        `json:"jobs"`
	// Capped counts the jobs left out by MaxJobs.
	Capped int `json:"capped,omitempty"`
	// Heads counts the HEAD requests made to learn whether thumbnails exist
	// or when they were written.
	Heads int `json:"heads,omitempty"`
	// Refreshes counts the jobs that are refreshes.
	Refreshes int `json:"refreshes,omitempty"`
}

// popularClasses ranks the size classes by their requests in the window
// and marks the popular ones.
func popularClasses(s *State, cfg Config, now time.Time) []ClassShare {
	first := dayOf(now.Unix()) - cfg.windowDays() + 1
	var total int64
	var out []ClassShare
	for suffix, c := range s.Classes {
		n := c.since(first)
		if n == 0 {
			continue
		}
		total += n
		out = append(out, ClassShare{Class: suffix, Requests: n})
	}
	slices.SortFunc(out, func(a, b ClassShare) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Class, b.Class))
	})
	var covered float64
	for i := range out {
		out[i].Share = float64(out[i].Requests) / float64(total)
		out[i].Popular = out[i].Share >= cfg.MinShare && cfg.MinShare > 0 || covered < cfg.Coverage
		covered += out[i].Share
	}
	return out
}

// candidate is a thumbnail to make or refresh.
type candidate struct {
	key      string
	expected float64 // requests expected in the next window
	requests int64   // its original's requests in the window
	isNew    bool
	refresh  bool
}

// rate is an original's thumbnail requests per day over the part of the
// window it existed in (at least a quarter of a day).
func rate(o *Original, requests int64, cfg Config, now time.Time) float64 {
	days := float64(cfg.windowDays())
	if o.Uploaded > 0 {
		age := now.Sub(time.Unix(o.Uploaded, 0)).Hours() / 24
		days = min(days, max(age, 0.25))
	}
	return float64(requests) / days
}

// plan decides the pre-generation jobs: for each hot or new original, each
// popular class whose thumbnail is expected to be requested at least
// MinExpected times in the next window (the original's request rate times
// the class's share) and does not exist. A new original's rate is at least
// the mean rate of the originals uploaded within the window. newStems are
// originals found new by listing. head, when not nil, answers for
// thumbnails the logs say nothing about; what it learns goes into the
// state.
func plan(ctx context.Context, s *State, cfg Config, now time.Time, newStems map[string]bool, head Header) (*Plan, error) {
	p := &Plan{Classes: popularClasses(s, cfg, now)}
	var popular []ClassShare
	for _, c := range p.Classes {
		if c.Popular {
			popular = append(popular, c)
		}
	}
	first := dayOf(now.Unix()) - cfg.windowDays() + 1
	newSince := now.Add(-cfg.NewWithin).Unix()
	windowStart := now.Add(-cfg.Window).Unix()
	var newRate float64
	var newCount int
	for _, o := range s.Originals {
		if o.Uploaded >= windowStart && o.Uploaded < newSince {
			newRate += rate(o, o.since(first), cfg, now)
			newCount++
		}
	}
	if newCount > 0 {
		newRate /= float64(newCount)
	}
	horizon := float64(cfg.windowDays())
	requeueAfter := now.Add(-cfg.Window).Unix()
	var cands []candidate
	for stem, o := range s.Originals {
		if o.Deleted {
			continue
		}
		n := o.since(first)
		isNew := cfg.NewWithin > 0 && (o.Uploaded >= newSince || newStems[stem])
		if !isNew && n < int64(cfg.MinRequests) {
			continue
		}
		r := rate(o, n, cfg, now)
		if isNew {
			r = max(r, newRate)
		}
		for _, c := range popular {
			exp := r * horizon * c.Share
			if exp < cfg.MinExpected {
				break // classes are by share, most first
			}
			key := stem + c.Class
			if t := s.Thumbs.get(key); t != nil && (t.Exists == Stored || t.Pregen >= requeueAfter) {
				continue
			}
			cands = append(cands, candidate{key: key, expected: exp, requests: n, isNew: isNew})
		}
	}
	cands = append(cands, refreshCandidates(s, cfg, now)...)
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.expected, a.expected), cmp.Compare(a.key, b.key))
	})
	for _, c := range cands {
		if len(p.Jobs) >= cfg.MaxJobs {
			p.Capped++
			continue
		}
		if c.refresh {
			due, err := refreshDue(ctx, s, cfg, now, c.key, head, p)
			if err != nil {
				return nil, err
			}
			switch {
			case due:
				p.Jobs = append(p.Jobs, Job{Key: c.key, Refresh: true,
					Reason: "refresh: expires soon, " + strconv.FormatFloat(c.expected, 'f', 1, 64) + " expected"})
				p.Refreshes++
			case s.Thumbs.get(c.key).Exists == Gone:
				// Still read, but gone (expired or deleted before the logs
				// said so): made again.
				p.Jobs = append(p.Jobs, Job{Key: c.key, Reason: "gone, still read: " + strconv.FormatFloat(c.expected, 'f', 1, 64) + " expected"})
			}
			continue
		}
		if t := s.Thumbs.get(c.key); (t == nil || t.Exists == Unknown) && head != nil {
			p.Heads++
			_, err := head.Head(ctx, c.key)
			switch {
			case err == nil:
				thumbFor(s, c.key).setExists(Stored, now.Unix(), byCheck)
				continue
			case !errors.Is(err, store.ErrNotFound):
				return nil, fmt.Errorf("head %s: %w", c.key, err)
			}
		}
		reason := "hot: " + strconv.FormatInt(c.requests, 10) + " requests in " + strconv.Itoa(int(cfg.windowDays())) + "d"
		if c.isNew {
			reason = "new upload"
		}
		reason += ", " + strconv.FormatFloat(c.expected, 'f', 1, 64) + " expected"
		p.Jobs = append(p.Jobs, Job{Key: c.key, Reason: reason})
	}
	return p, nil
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
func refreshCandidates(s *State, cfg Config, now time.Time) []candidate {
	if cfg.ExpireDays == 0 {
		return nil
	}
	windowStart := now.Add(-cfg.Window).Unix()
	horizon := now.Add(refreshAhead).Unix()
	var out []candidate
	for key, t := range s.Thumbs.All() {
		if t.Exists != Stored || t.LastRead < windowStart || t.Refresh > max(t.LastWrite, now.Add(-refreshRetry).Unix()) {
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
// written before the logs the analyzer has read).
func refreshDue(ctx context.Context, s *State, cfg Config, now time.Time, key string, head Header, p *Plan) (bool, error) {
	t := s.Thumbs.get(key)
	if t.LastWrite != 0 || t.Refresh != 0 {
		return true, nil // due by the logs, or a refresh whose write never showed
	}
	if head == nil || p.Heads >= cfg.MaxJobs {
		return false, nil // nothing to ask, or asked enough this run: wait
	}
	p.Heads++
	attrs, err := head.Head(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.setExists(Gone, now.Unix(), byCheck)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("head %s: %w", key, err)
	case attrs.LastModified.IsZero():
		return false, nil
	}
	t.LastWrite = attrs.LastModified.Unix()
	return lifecycleDue(t.LastWrite, cfg.ExpireDays) <= now.Add(refreshAhead).Unix(), nil
}

// thumbFor returns the state's entry for a thumbnail key, adding it.
func thumbFor(s *State, key string) *Thumb {
	if t := s.thumb(key); t != nil {
		return t
	}
	return &Thumb{} // not a thumbnail: nothing to remember
}

// markQueued records that jobs were queued at now.
func markQueued(s *State, jobs []Job, now time.Time) {
	for _, j := range jobs {
		t := thumbFor(s, j.Key)
		if j.Refresh {
			t.Refresh = now.Unix()
			continue
		}
		t.Pregen = now.Unix()
		t.PregenRead = false
	}
}

// Stale is a thumbnail nobody has read for the stale period.
type Stale struct {
	Key      string    `json:"key"`
	LastRead time.Time `json:"last_read"` // or its last write or first record, when never read
	Size     int64     `json:"size,omitempty"`
	// Outcome is "deleted", "listed", "kept: not tagged thumbnail=yes" or
	// "gone" (already deleted).
	Outcome string `json:"outcome"`
}

// staleThumbs lists the thumbnails with no read, write or other record for
// cfg.StaleAfter, oldest first. Nothing is stale while the logs read so far
// cover less than that period: no record is no proof then.
func staleThumbs(s *State, cfg Config, now time.Time) []Stale {
	cutoff := now.Add(-cfg.StaleAfter).Unix()
	if s.First == 0 || s.First > cutoff {
		return nil
	}
	var out []Stale
	for key, t := range s.Thumbs.All() {
		if t.Exists == Gone {
			continue
		}
		last := max(t.LastRead, t.LastWrite, t.FirstSeen, t.Pregen)
		if last > cutoff {
			continue
		}
		out = append(out, Stale{Key: key, LastRead: time.Unix(last, 0).UTC(), Size: t.Size})
	}
	slices.SortFunc(out, func(a, b Stale) int {
		return cmp.Or(a.LastRead.Compare(b.LastRead), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// Cleaner is what cleanup needs of the bucket.
type Cleaner interface {
	Head(ctx context.Context, key string) (store.Attrs, error)
	Tags(ctx context.Context, key string) (map[string]string, error)
	Delete(ctx context.Context, key string) error
}

// ThumbnailTag is the tag every stored thumbnail carries; cleanup deletes
// nothing without it.
const ThumbnailTag, ThumbnailTagValue = "thumbnail", "yes"

// cleanup checks each stale thumbnail's tag on the object itself and
// deletes it when del is set. It fills in each Outcome and returns the
// bytes freed.
func cleanup(ctx context.Context, s *State, stale []Stale, bucket Cleaner, del bool, now time.Time) (deleted int, freed int64, err error) {
	for i := range stale {
		st := &stale[i]
		tags, err := bucket.Tags(ctx, st.Key)
		if errors.Is(err, store.ErrNotFound) {
			st.Outcome = "gone"
			thumbFor(s, st.Key).setExists(Gone, now.Unix(), byCheck)
			continue
		}
		if err != nil {
			return deleted, freed, fmt.Errorf("tags of %s: %w", st.Key, err)
		}
		if tags[ThumbnailTag] != ThumbnailTagValue {
			st.Outcome = "kept: not tagged " + ThumbnailTag + "=" + ThumbnailTagValue
			continue
		}
		if !del {
			st.Outcome = "listed"
			continue
		}
		if attrs, err := bucket.Head(ctx, st.Key); err == nil {
			st.Size = attrs.Size
		}
		if err := bucket.Delete(ctx, st.Key); err != nil {
			return deleted, freed, fmt.Errorf("delete %s: %w", st.Key, err)
		}
		st.Outcome = "deleted"
		thumbFor(s, st.Key).setExists(Gone, now.Unix(), byCheck)
		deleted++
		freed += st.Size
	}
	return deleted, freed, nil
}
