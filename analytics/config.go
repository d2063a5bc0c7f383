// Package analytics is s3thumb's access log analyzer: it reads a bucket's
// access logs (S3 server access logs or CloudFront standard logs, parsed by
// package accesslog), counts requests per thumbnail, original and size class
// into the state it keeps between runs (package analytics/state), and
// decides from them which thumbnails to make before anyone asks (jobs on the
// pre-generation queue) and which stored thumbnails nobody reads any more
// (cleanup). Each run reports what it saw and did, as a table, JSON, or one
// self-contained HTML page of charts.
//
// A run reads only the log objects it has not read before, holds a lock
// object in the state store while it works, and writes the new state in one
// atomic write at the end: a run that stops anywhere before that changes
// nothing, so its re-run counts every record exactly once. Records delivered
// twice are recognised by request ID, operation and key within a bounded
// window.
package analytics

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/s3thumb/s3thumb/analytics/state"
	"github.com/s3thumb/s3thumb/internal/accesslog"
	"github.com/s3thumb/s3thumb/internal/policy"
	"github.com/s3thumb/s3thumb/internal/thumbkey"
)

// Config sets the analyzer's decisions. DefaultConfig has the defaults the
// command line shows.
type Config struct {
	// Window is how far back requests count for popularity.
	Window time.Duration
	// MinShare makes a size class popular when it has at least this share of
	// the thumbnail requests in the window.
	MinShare float64
	// Coverage makes the most requested classes popular until together they
	// have this share of the thumbnail requests (0: MinShare alone decides).
	Coverage float64
	// MinRequests makes an original hot when its thumbnails were requested
	// at least this often in the window.
	MinRequests int
	// MinClients is how many distinct clients (remote IP and user agent)
	// must have asked in the window for a size class to be popular and an
	// original hot: one client, or a few, make no popularity. At most
	// state.MaxClients.
	MinClients int
	// ClientCap is how many requests of one client for one thumbnail on
	// one day count toward demand (0: all).
	ClientCap int
	// MinExpected is the least number of requests in the next window that
	// a thumbnail is expected to get (its original's requests per day times
	// its class's share, over the window) for it to be made ahead of
	// demand: what keeps pre-generation from making what nobody reads.
	MinExpected float64
	// MaxUnread is the waste budget: the share of a run's jobs allowed to
	// stay unread for report.OutcomeHorizon, as the analyzer expects from
	// what became of its past jobs (see calibrate). 1: no budget.
	MaxUnread float64
	// NewWithin makes an original new when it was uploaded this recently.
	NewWithin time.Duration
	// MaxJobs caps the jobs queued per run.
	MaxJobs int
	// ExpireDays is the bucket's lifecycle rule for thumbnails (s3thumb
	// setup --expire-days): they expire this many days after their last
	// write. Stored thumbnails still read are refreshed (written again)
	// before then. 0: no rule, no refreshes.
	ExpireDays int
	// StaleAfter is how long a thumbnail must go unread to be stale.
	StaleAfter time.Duration
	// DeleteStale deletes stale thumbnails (verified by tag first); without
	// it they are only listed.
	DeleteStale bool
	// ListNew lists the bucket for originals uploaded within NewWithin, in
	// addition to the uploads seen in the logs.
	ListNew bool
	// DryRun decides but changes nothing: no jobs, no deletions, no state.
	DryRun bool
	// DecideEvery is how often a run that finds no new log object still
	// decides. More often, such a run lists the logs, reads the small
	// cursor the last run left (state.Cursor) instead of the state, and
	// stops: nothing it could count changed, and what time alone changes
	// (stale thumbnails, refreshes, new uploads listed in the bucket) waits
	// for the next log object or for DecideEvery. 0: every run decides.
	DecideEvery time.Duration
	// DedupeWindow is how long record identities are kept to drop records
	// delivered twice.
	DedupeWindow time.Duration
	// LockTTL is how long a run's lock holds before another run may take
	// it over (a run that died without releasing it).
	LockTTL time.Duration
	// SourceExts are the extensions an original is looked for under, as
	// the workers look for it (--source-exts).
	SourceExts []string
	// AsOf, when set, makes the run as if it started at that time (windows,
	// new-upload age, lifecycle due dates, the lock's expiry), to replay
	// archived logs or backtest settings; the clock runs on from it. A
	// time before the state's last run is refused (ErrAsOf).
	AsOf time.Time
	// Shard, when its Count is more than 1, makes this run one of Count
	// analyzers over the same logs: it keeps, decides and cleans only the
	// originals whose stem hashes into its share (see Shard.Owns), with its
	// own state and lock (under "shard-I-of-N/" in the state store), and
	// counts the size classes over every record, so that every shard ranks
	// them alike. Shard 0 publishes the popular classes.
	Shard Shard
	// Policy is the serving size policy (--allowed-sizes, --max-dimension,
	// as serve and work take them): requests for sizes it refuses make no
	// class popular and no job is queued for them.
	Policy policy.Policy
}

// Defaults.
const (
	DefaultWindow       = 7 * 24 * time.Hour
	DefaultMinShare     = 0.04
	DefaultCoverage     = 0.8
	DefaultMinRequests  = 2
	DefaultMinClients   = 3
	DefaultClientCap    = 3
	DefaultMinExpected  = 0.2
	DefaultMaxUnread    = 0.25
	DefaultNewWithin    = 24 * time.Hour
	DefaultMaxJobs      = 10000
	DefaultStaleAfter   = 30 * 24 * time.Hour
	DefaultDedupeWindow = 48 * time.Hour
	DefaultLockTTL      = time.Hour
	DefaultDecideEvery  = 24 * time.Hour
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Window:       DefaultWindow,
		MinShare:     DefaultMinShare,
		Coverage:     DefaultCoverage,
		MinRequests:  DefaultMinRequests,
		MinClients:   DefaultMinClients,
		ClientCap:    DefaultClientCap,
		MinExpected:  DefaultMinExpected,
		MaxUnread:    DefaultMaxUnread,
		NewWithin:    DefaultNewWithin,
		MaxJobs:      DefaultMaxJobs,
		StaleAfter:   DefaultStaleAfter,
		DedupeWindow: DefaultDedupeWindow,
		LockTTL:      DefaultLockTTL,
		DecideEvery:  DefaultDecideEvery,
		SourceExts:   slices.Clone(thumbkey.DefaultSourceExts),
		Policy:       policy.Policy{MaxDimension: policy.DefaultMaxDimension},
	}
}

// ErrConfig is wrapped by Validate's errors.
var ErrConfig = errors.New("invalid analyzer config")

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Window < 24*time.Hour || c.Window%(24*time.Hour) != 0:
		return bad("window %v: want whole days, at least one", c.Window)
	case c.MinShare < 0 || c.MinShare > 1:
		return bad("min share %v: want 0 to 1", c.MinShare)
	case c.Coverage < 0 || c.Coverage > 1:
		return bad("coverage %v: want 0 to 1", c.Coverage)
	case c.MinShare == 0 && c.Coverage == 0:
		return bad("min share and coverage are both 0: every class would be popular")
	case c.MinRequests < 1:
		return bad("min requests %d: want at least 1", c.MinRequests)
	case c.MinClients < 1 || c.MinClients > state.MaxClients:
		return bad("min clients %d: want 1 to %d", c.MinClients, state.MaxClients)
	case c.ClientCap < 0:
		return bad("client cap %d: want 0 (no cap) or more", c.ClientCap)
	case c.MaxUnread <= 0 || c.MaxUnread > 1:
		return bad("max unread %v: want more than 0, at most 1", c.MaxUnread)
	case c.MinExpected < 0:
		return bad("min expected %v: want 0 or more", c.MinExpected)
	case c.NewWithin < 0:
		return bad("new within %v: want 0 (uploads are never new) or more", c.NewWithin)
	case c.MaxJobs < 0:
		return bad("max jobs %d: want 0 (none) or more", c.MaxJobs)
	case c.ExpireDays < 0:
		return bad("expire days %d: want 0 (no lifecycle rule) or more", c.ExpireDays)
	case c.StaleAfter < 24*time.Hour:
		return bad("stale after %v: want at least a day (logs arrive hours late)", c.StaleAfter)
	case c.DedupeWindow < time.Hour:
		return bad("dedupe window %v: want at least an hour", c.DedupeWindow)
	case c.DecideEvery < 0:
		return bad("decide every %v: want 0 (every run decides) or more", c.DecideEvery)
	case c.LockTTL < time.Minute:
		return bad("lock TTL %v: want at least a minute", c.LockTTL)
	case len(c.SourceExts) == 0:
		return bad("source extensions: want at least one")
	}
	if sh := c.Shard; sh.Count < 0 || sh.Index < 0 || sh.Index >= max(sh.Count, 1) {
		return bad("shard %d of %d: want an index from 0 to the count less one", c.Shard.Index, c.Shard.Count)
	}
	if err := c.Policy.Validate(); err != nil {
		return bad("size policy: %v", err)
	}
	for _, ext := range c.SourceExts {
		if _, ok := thumbkey.FormatOf(ext); !ok {
			return bad("source extension %q: not an image extension (jpg, jpeg, png, webp, avif)", ext)
		}
	}
	return nil
}

// settings identifies the settings that shape decisions, for the cursor:
// all but the run's own (DryRun, AsOf).
func (c Config) settings() string {
	c.DryRun, c.AsOf = false, time.Time{}
	sum := sha256.Sum256(fmt.Appendf(nil, "%+v", c))
	return hex.EncodeToString(sum[:16])
}

// windowDays is the window in days.
func (c Config) windowDays() int32 { return int32(c.Window / (24 * time.Hour)) }

// keepDays is how many days of per-day counts the state keeps: enough for
// the window and a margin.
func (c Config) keepDays() int { return int(c.windowDays()) + 2 }

// Shard is one share of the originals (see Config.Shard); a Count of 0 or
// 1 is all of them.
type Shard struct{ Index, Count int }

// Owns tells whether the original of stem (its key without extension, as
// thumbnails name it) is in the share: all sizes of one original are in
// the same one, so every decision about an original is one shard's.
func (sh Shard) Owns(stem string) bool {
	return sh.Count <= 1 || accesslog.HashEnd(accesslog.HashPart(accesslog.HashStart, stem))%uint64(sh.Count) == uint64(sh.Index)
}

// String names the share for reports and keys: "2/4" (empty for all).
func (sh Shard) String() string {
	if sh.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", sh.Index, sh.Count)
}
