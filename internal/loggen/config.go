package loggen

import (
	"errors"
	"fmt"
	"time"
)

// Key layouts a Config can ask for.
const (
	LayoutSimple      = "simple"      // PREFIX YYYY-mm-DD-HH-MM-SS-UNIQUE
	LayoutPartitioned = "partitioned" // PREFIX ACCOUNT/REGION/BUCKET/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-UNIQUE
	LayoutBoth        = "both"        // each log object one or the other
)

// Config describes the workload. DefaultConfig fills every field; a zero
// field is not replaced by its default.
type Config struct {
	Seed  uint64
	Days  int       // days to generate
	Start time.Time // the first day (its date, in UTC)

	Bucket  string // the bucket the requests are for
	Owner   string // its owner's canonical user ID
	Account string // twelve digits, for the partitioned layout
	Region  string
	Prefix  string // log object key prefix, e.g. "logs/"
	Layout  string // LayoutSimple, LayoutPartitioned or LayoutBoth
	Gzip    bool   // gzip each log object (its key then ends in ".gz")
	// Fields is the number of fields per record (an era of the format,
	// 18 to 27), or 0 for a mix of eras, one per log object.
	Fields int

	Originals      int     // originals in the bucket on the first day
	UploadsPerDay  int     // new originals uploaded each day (REST.PUT.OBJECT)
	RequestsPerDay int     // website requests by clients each day
	ZipfS          float64 // Zipf exponent of the originals' popularity (> 1)
	// RecentShare of the requests go to originals uploaded in the last
	// RecentDays days: new photos are looked at.
	RecentShare float64
	RecentDays  int
	// TailShare of the thumbnail requests ask for a long-tail size instead of
	// one of the few dominant ones: one of the sizes pages embed that
	// original at, each original having a few of its own.
	TailShare float64
	// StrayShare of the thumbnail requests ask for a long-tail size drawn at
	// random, whatever the original (hand-typed URLs, scanners).
	StrayShare float64
	// BotShare of the requests come from crawlers (Googlebot, bingbot):
	// the same mix of requests as people's, under a crawler's user agent.
	BotShare float64
	// MissingShare of the thumbnail requests ask for a thumbnail of an
	// original that does not exist (a link left after a delete, a
	// scanner's guess): the website misses, and so does the responder's
	// read of the original; nothing is stored.
	MissingShare float64
	// OwnFormat makes pages show every original's JPEG sizes in the
	// original's own format (photo.png as photo_200x200.png, IMG_00005.JPG
	// as IMG_00005_200x200.JPG) rather than always as JPEG, and names some
	// originals as cameras do (IMG_00005.JPG, img00007.jpeg).
	OwnFormat bool
	// OriginalShare of the requests are for originals themselves.
	OriginalShare float64
	// NoiseShare of the requests are listings, HEADs and requests for keys
	// that never exist.
	NoiseShare float64
	// WarmupDays of traffic are played before Start and not logged: the
	// site served thumbnails on demand before its access logs were read,
	// so the bucket starts with what that traffic made and the lifecycle
	// rule left. Originals is the count when the warm-up begins.
	WarmupDays int
	// ExpireDays is the lifecycle rule: a thumbnail expires (S3.EXPIRE.OBJECT)
	// this many days after it was written. 0 means no rule.
	ExpireDays int
	// MissStatus is what a website request for a missing thumbnail is logged
	// with: 404 (NoSuchKey: the routing rule turns it into a redirect to the
	// responder), 403 (AccessDenied: no public ListBucket) or 302 (the
	// redirect itself).
	MissStatus int

	ObjectsPerHour int     // log objects each hour's records are spread over
	LateShare      float64 // share of log objects delivered 1-24 hours late
	MalformedRate  float64 // malformed lines per record
	DuplicateRate  float64 // records delivered twice, per record
}

// DefaultConfig is a two-week workload of about 50,000 requests a day.
func DefaultConfig() Config {
	return Config{
		Seed:           1,
		Days:           14,
		Start:          time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Bucket:         "photos-example",
		Owner:          "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
		Account:        "123456789012",
		Region:         "us-east-1",
		Prefix:         "logs/",
		Layout:         LayoutSimple,
		Fields:         27,
		Originals:      2000,
		UploadsPerDay:  50,
		RequestsPerDay: 50000,
		ZipfS:          1.1,
		RecentShare:    0.3,
		RecentDays:     2,
		TailShare:      0.1,
		StrayShare:     0.01,
		OriginalShare:  0.04,
		NoiseShare:     0.01,
		WarmupDays:     10,
		ExpireDays:     10,
		MissStatus:     404,
		ObjectsPerHour: 4,
		LateShare:      0.02,
		MalformedRate:  0.0005,
		DuplicateRate:  0.001,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	share := func(name string, v float64) error {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s %v: want a share from 0 to 1", name, v)
		}
		return nil
	}
	switch {
	case c.Days < 1:
		return fmt.Errorf("days %d: want at least 1", c.Days)
	case c.Start.IsZero():
		return errors.New("no start date")
	case c.Bucket == "" || c.Owner == "":
		return errors.New("bucket and owner are required")
	case len(c.Account) != 12 || c.Region == "":
		return fmt.Errorf("account %q and region %q: want twelve digits and a region", c.Account, c.Region)
	case c.Layout != LayoutSimple && c.Layout != LayoutPartitioned && c.Layout != LayoutBoth:
		return fmt.Errorf("layout %q: want %s, %s or %s", c.Layout, LayoutSimple, LayoutPartitioned, LayoutBoth)
	case c.Fields != 0 && (c.Fields < 18 || c.Fields > 27):
		return fmt.Errorf("fields %d: want 18 to 27, or 0 for a mix", c.Fields)
	case c.Originals < 1:
		return fmt.Errorf("originals %d: want at least 1", c.Originals)
	case c.UploadsPerDay < 0 || c.RequestsPerDay < 0:
		return errors.New("uploads and requests per day must not be negative")
	case c.ZipfS <= 1:
		return fmt.Errorf("zipf exponent %v: want more than 1", c.ZipfS)
	case c.RecentDays < 1:
		return fmt.Errorf("recent days %d: want at least 1", c.RecentDays)
	case c.WarmupDays < 0:
		return fmt.Errorf("warm-up days %d: want 0 or more", c.WarmupDays)
	case c.ExpireDays < 0:
		return fmt.Errorf("expire days %d: want 0 (no rule) or more", c.ExpireDays)
	case c.MissStatus != 302 && c.MissStatus != 403 && c.MissStatus != 404:
		return fmt.Errorf("miss status %d: want 302, 403 or 404", c.MissStatus)
	case c.ObjectsPerHour < 1:
		return fmt.Errorf("objects per hour %d: want at least 1", c.ObjectsPerHour)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"recent share", c.RecentShare}, {"tail share", c.TailShare}, {"stray share", c.StrayShare}, {"original share", c.OriginalShare},
		{"bot share", c.BotShare}, {"missing share", c.MissingShare},
		{"noise share", c.NoiseShare}, {"late share", c.LateShare},
		{"malformed rate", c.MalformedRate}, {"duplicate rate", c.DuplicateRate}} {
		if err := share(s.name, s.v); err != nil {
			return err
		}
	}
	if c.OriginalShare+c.NoiseShare > 1 {
		return errors.New("original share and noise share add up to more than 1")
	}
	if c.TailShare+c.StrayShare > 1 {
		return errors.New("tail share and stray share add up to more than 1")
	}
	return nil
}
