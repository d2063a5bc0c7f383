// Package workload registers the flags that shape a generated workload
// (what a site's visitors do), for the commands that generate one:
// scripts/loggen and scripts/replay.
package workload

import (
	"flag"

	"github.com/s3thumb/s3thumb/internal/loggen"
)

// Flags registers on fs the flags that shape the workload c describes.
func Flags(fs *flag.FlagSet, c *loggen.Config) {
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed")
	fs.IntVar(&c.Days, "days", c.Days, "days of logs")
	fs.IntVar(&c.WarmupDays, "warmup-days", c.WarmupDays, "unlogged days of traffic before the logs begin")
	fs.IntVar(&c.Originals, "originals", c.Originals, "originals when the warm-up begins")
	fs.IntVar(&c.UploadsPerDay, "uploads-per-day", c.UploadsPerDay, "originals uploaded each day")
	fs.IntVar(&c.RequestsPerDay, "requests-per-day", c.RequestsPerDay, "client requests each day")
	fs.Float64Var(&c.ZipfS, "zipf", c.ZipfS, "Zipf exponent of the originals' popularity (> 1)")
	fs.Float64Var(&c.RecentShare, "recent-share", c.RecentShare, "share of requests for recent uploads")
	fs.Float64Var(&c.TailShare, "tail-share", c.TailShare, "share of thumbnail requests for the long-tail sizes pages embed an original at")
	fs.Float64Var(&c.StrayShare, "stray-share", c.StrayShare, "share of thumbnail requests for long-tail sizes drawn at random")
	fs.Float64Var(&c.BotShare, "bot-share", c.BotShare, "share of requests from crawlers (a crawler's user agent)")
	fs.Float64Var(&c.MissingShare, "missing-share", c.MissingShare, "share of thumbnail requests for originals that do not exist")
	fs.BoolVar(&c.OwnFormat, "own-format", c.OwnFormat, "pages show each original's JPEG sizes in its own format (.png, .jpeg, .JPG)")
	fs.IntVar(&c.ExpireDays, "expire-days", c.ExpireDays, "lifecycle expiration of thumbnails, days after writing (0: none)")
}
